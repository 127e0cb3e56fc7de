"""An invoice's PDF and e-mailing it through the outbox with the PDF attached.

The PDF prints only stored figures, formatted in the invoice's currency (JPY none, BHD three
decimals), the tax per rate ("Exempt" for an exempt customer), a draft as DRAFT with the current
billing address; another reseller's invoice is not found. E-mail: the PDF is kept with the message
in its transaction and attached on delivery (at most 16 MB of files), offered only where there is an
address, sent once per form, only for an issued invoice, only by who may post money."""
import shutil
import subprocess
import uuid
from email import message_from_string

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import CompanySettings, Contact, Customer, Message, TaxRate
from app.models.comms import MessageAttachment
from app.services.billing import documents, invoices
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from app.services.messages import delivery, outbox
from tests import factories as f
from tests.conftest import make_app
from tests.smtp_sink import mail_settings, smtp  # noqa: F401  (smtp: a fixture)


def key():
    return str(uuid.uuid4())


def rate(name):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def invoice_for(customer, *lines, issue=True, actor="admin"):
    admin = f.user(actor)
    rows = [{"description": d, "quantity": q, "unit_price": p, "tax_rate_id": rate(r)} for d, q, p, r in lines]
    draft = invoices.create_draft(db.session, admin, customer.id, {"lines": rows, "notes": "Thanks!"}, key())
    return invoices.issue(db.session, admin, draft.id, key()) if issue else draft


def pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


@pytest.fixture
def letterhead(ctx):
    ctx.merge(CompanySettings(id=1, company_name="Soapy Ltd", company_address="1 High St\nLeeds",
                              tax_number="GB123456789", bank_details="Sort code 00-11-22, account 12345678"))
    ctx.commit()


def test_the_pdf_prints_the_number_lines_tax_per_rate_totals_and_the_letterhead(ctx, letterhead):
    customer = f.customer(first_name="Ada", surname="Lovelace")
    invoice = invoice_for(customer, ("Window cleaning", 1, "120.00", "Standard rate"),
                          ("Gutters", "2.5", "4.50", "Reduced rate"))
    filename, pdf = documents.invoice_pdf(ctx, f.user("readonly"), invoice.id, {})
    assert filename == f"invoice-{invoice.number}.pdf" and pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    for expected in (invoice.number, "Soapy Ltd", "GB123456789", "Ada Lovelace", "Window cleaning", "2.5",
                     "Standard rate (20%)", "£24.00", "Reduced rate (5%)", "£0.56", "£131.25", "£24.56", "£155.81",
                     "Outstanding", "Sort code 00-11-22", "Thanks!", "Page 1 of 1"):
        assert expected in text, expected
    assert "DRAFT" not in text


def test_names_in_any_european_greek_or_cyrillic_script_print_as_they_are(ctx, letterhead):
    customer = f.customer(first_name="Priya", surname="Zieliński", company_name="Łódź Ωμέγα")
    invoice = invoice_for(customer, ("Уборка окон, façade", 1, "10.00", "Standard rate"))
    text = pdf_text(documents.invoice_pdf(ctx, f.user("admin"), invoice.id, {})[1])
    for expected in ("Priya Zieliński", "Уборка окон, façade", "£12.00"):
        assert expected in text, expected
    assert "\u25a0" not in text  # no glyph is missing (pdftotext prints a box for one)


def test_the_pdf_reads_no_file_nor_address_the_html_names(ctx, tmp_path):
    import base64
    import io

    from PIL import Image
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    picture = tmp_path / "secret.png"
    picture.write_bytes(png.getvalue())
    inline = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()

    def images(src):
        return documents.render_pdf(f'<html><body><img src="{src}" width="8" height="8"></body></html>').count(
            b"/Subtype /Image")
    assert images(inline) == 1  # a data URI (the logo) is part of the document
    assert images(str(picture)) == 0 and images("/etc/passwd") == 0 and images("http://127.0.0.1:9/x.png") == 0


@pytest.mark.parametrize("currency, price, shown", [("JPY", "1001", ["¥1,001", "¥200", "¥1,201"]),
                                                    ("BHD", "1.005", ["1.005", "0.201", "1.206"])])
def test_each_currency_shows_its_own_decimals(ctx, currency, price, shown):
    invoice = invoice_for(f.customer(currency=currency), ("Item", 1, price, "Standard rate"))
    html = documents.invoice_html(ctx, invoice, {})
    text = pdf_text(documents.invoice_pdf(ctx, f.user("admin"), invoice.id, {})[1])
    for amount in shown:
        assert amount in html and amount in text, amount
    if currency == "JPY":
        assert "1,001.00" not in text
    else:
        assert "1.01 " not in text and "1.0050" not in text


def test_an_exempt_customers_lines_show_exempt(ctx):
    customer = f.customer()
    ctx.execute(update(Customer).where(Customer.id == customer.id).values(tax_exempt=True))
    ctx.commit()
    invoice = invoice_for(customer, ("Item", 1, "50.00", "Standard rate"))
    text = pdf_text(documents.invoice_pdf(ctx, f.user("admin"), invoice.id, {})[1])
    assert "Exempt" in text and "20%" not in text and "£50.00" in text


def test_a_draft_is_marked_draft_with_the_current_billing_address(ctx):
    customer = f.customer(first_name="Grace", surname="Hopper")
    draft = invoice_for(customer, ("Item", 1, "10.00", "Zero rate"), issue=False)
    filename, pdf = documents.invoice_pdf(ctx, f.user("admin"), draft.id, {})
    text = pdf_text(pdf)
    assert filename == f"draft-invoice-{draft.id}.pdf"
    assert "DRAFT INVOICE" in text and "Grace Hopper" in text and "Outstanding" not in text


def test_another_resellers_invoice_is_not_found(ctx):
    theirs = invoice_for(f.customer(actor="reseller_a"), ("Item", 1, "10.00", "Zero rate"))
    assert documents.invoice_pdf(ctx, f.user("reseller_a"), theirs.id, {})[1].startswith(b"%PDF")
    for user, invoice_id in (("reseller_b", theirs.id), ("reseller_none", theirs.id), ("admin", 10**9),
                             ("admin", "x")):
        with pytest.raises(NotFound):
            documents.invoice_pdf(ctx, f.user(user), invoice_id, {})


def test_a_long_invoice_numbers_its_pages_of_the_real_count_and_repeats_the_header(ctx):
    invoice = invoice_for(f.customer(), *[(f"Line {i}", 1, "10.00", "Zero rate") for i in range(70)])
    pdf = documents.invoice_pdf(ctx, f.user("admin"), invoice.id, {})[1]
    pages = documents.page_count(pdf)
    text = pdf_text(pdf)
    assert pages >= 2 and f"Page {pages} of {pages}" in text and "Page 1 of 1" not in text
    assert text.count("Unit price") == pages  # the lines' header on every page


# --- e-mail ---------------------------------------------------------------------------------

def with_contacts(customer, *emails):
    for i, email in enumerate(emails):
        db.session.add(Contact(customer_id=customer.id, first_name="Bob", surname=f"Smith{i}", email=email,
                               is_primary=i == 0))
    db.session.commit()


def test_recipients_are_the_customers_and_its_contacts_addresses_each_once(ctx):
    customer = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com")
    with_contacts(customer, "bob@example.com", "ADA@example.com")
    invoice = invoice_for(customer, ("Item", 1, "10.00", "Zero rate"))
    assert documents.email_recipients(ctx, f.user("finance"), invoice.id) == [
        ("Ada Lovelace <ada@example.com>", "ada@example.com"), ("Bob Smith0 <bob@example.com>", "bob@example.com")]


def test_no_address_means_no_e_mail(ctx):
    invoice = invoice_for(f.customer(), ("Item", 1, "10.00", "Zero rate"))
    assert documents.email_recipients(ctx, f.user("finance"), invoice.id) == []
    with pytest.raises(Invalid) as error:
        documents.email_invoice(ctx, f.user("finance"), invoice.id, {"to": "x@example.com"}, key(), {})
    assert "no e-mail address" in error.value.errors["to"][0]


def test_e_mailing_writes_the_message_with_its_pdf_once_per_form(ctx, letterhead):
    customer = f.customer(email="ada@example.com")
    invoice = invoice_for(customer, ("Item", 1, "10.00", "Standard rate"))
    form = key()
    message = documents.email_invoice(ctx, f.user("finance"), invoice.id, {"to": "ada@example.com"}, form, {})
    # queued, and delivered at once here (tests run delivery in the request, to the outbox only)
    assert message.status in ("queued", "sent")
    assert (message.recipient, message.purpose, message.skip_reason) == ("ada@example.com", "service", None)
    assert message.subject == f"Invoice {invoice.number} from Soapy Ltd"
    assert "£12.00" in message.body and "due on" in message.body
    (attachment,) = ctx.scalars(select(MessageAttachment).where(MessageAttachment.message_id == message.id)).all()
    assert (attachment.filename, attachment.content_type) == (f"invoice-{invoice.number}.pdf", "application/pdf")
    assert attachment.content.startswith(b"%PDF") and attachment.size == len(attachment.content)
    with pytest.raises(AlreadyDone):
        documents.email_invoice(ctx, f.user("finance"), invoice.id, {"to": "ada@example.com"}, form, {})
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Message)) == 1


def test_only_an_issued_invoice_is_e_mailed_and_only_by_who_posts_money(ctx):
    customer = f.customer(email="ada@example.com")
    draft = invoice_for(customer, ("Item", 1, "10.00", "Zero rate"), issue=False)
    with pytest.raises(Invalid) as error:
        documents.email_invoice(ctx, f.user("finance"), draft.id, {"to": "ada@example.com"}, key(), {})
    assert "A draft cannot be e-mailed" in error.value.errors["status"][0]
    issued = invoice_for(customer, ("Item", 1, "10.00", "Zero rate"))
    for user in ("staff", "readonly", "reseller_a"):
        with pytest.raises(Forbidden):
            documents.email_invoice(ctx, f.user(user), issued.id, {"to": "ada@example.com"}, key(), {})
    with pytest.raises(Invalid) as error:
        documents.email_invoice(ctx, f.user("finance"), issued.id, {"to": "someone@else.com"}, key(), {})
    assert "Choose one of the customer's e-mail addresses." in error.value.errors["to"]


def test_a_dormant_customer_or_an_opted_out_contact_is_skipped_with_the_reason(ctx):
    customer = f.customer(email="ada@example.com")
    with_contacts(customer, "bob@example.com")
    invoice = invoice_for(customer, ("Item", 1, "10.00", "Zero rate"))
    ctx.execute(update(Contact).where(Contact.customer_id == customer.id).values(service_email=False))
    ctx.commit()
    message = documents.email_invoice(ctx, f.user("finance"), invoice.id, {"to": "bob@example.com"}, key(), {})
    assert (message.status, message.skip_reason) == ("skipped", "opted out of service messages by e-mail")
    ctx.execute(update(Customer).where(Customer.id == customer.id).values(status="dormant"))
    ctx.commit()
    message = documents.email_invoice(ctx, f.user("finance"), invoice.id, {"to": "ada@example.com"}, key(), {})
    assert (message.status, message.skip_reason) == ("skipped", "customer dormant")


def test_attachments_are_capped_at_16_mb_together(ctx):
    customer = f.customer(email="ada@example.com")
    message = Message(customer_id=customer.id, channel="email", recipient="ada@example.com", subject="Hi", body="x")
    half = b"x" * (outbox.MAX_ATTACHMENT_BYTES // 2)
    with pytest.raises(Invalid) as error:
        outbox.attach(ctx, message, [outbox.Attachment("a.pdf", "application/pdf", half),
                                     outbox.Attachment("b.pdf", "application/pdf", half + b"x")])
    assert "an e-mail can carry at most 16 MB" in error.value.errors["attachments"][0]
    text = Message(customer_id=customer.id, channel="sms", recipient="+447700900123", body="x")
    with pytest.raises(Invalid):
        outbox.attach(ctx, text, [outbox.Attachment("a.pdf", "application/pdf", b"%PDF")])


@pytest.fixture
def mail_app(app, smtp):  # noqa: F811
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], **mail_settings(smtp), MAIL_TIMEOUT=2)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_delivery_attaches_the_pdf_to_the_mail_and_a_resend_carries_it_too(mail_app, smtp):  # noqa: F811
    with mail_app.app_context():
        customer = f.customer(email="ada@example.com")
        invoice = invoice_for(customer, ("Item", 1, "10.00", "Zero rate"))
        message = documents.email_invoice(db.session, f.user("finance"), invoice.id, {"to": "ada@example.com"},
                                          key(), mail_app.config)
        number, message_id = invoice.number, message.id
        delivery.deliver(db.session, [message_id], mail_app.config, runner="test")  # if not done at once already
        assert db.session.get(Message, message_id, populate_existing=True).status == "sent"
        (to, content, _), = smtp.received
        mail = message_from_string(content)
        (part,) = [p for p in mail.walk() if p.get_filename()]
        assert to == "ada@example.com" and part.get_filename() == f"invoice-{number}.pdf"
        assert part.get_content_type() == "application/pdf" and part.get_payload(decode=True).startswith(b"%PDF")
        db.session.execute(update(Message).where(Message.id == message_id).values(status="failed"))
        db.session.commit()
        copy = outbox.resend(db.session, f.user("admin"), message_id)
        assert [a.filename for a in db.session.scalars(select(MessageAttachment).where(
            MessageAttachment.message_id == copy.id))] == [f"invoice-{number}.pdf"]
