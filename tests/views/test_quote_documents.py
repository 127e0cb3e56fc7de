"""A quote's PDF and e-mail, on the invoice's machinery (services/billing/documents.py with
QUOTE): titled "Quote", its expiry date instead of a due date, no amounts paid or outstanding;
e-mailing a draft quote sends it (numbered, status sent) in the same transaction; a declined or
expired quote is not e-mailed; another reseller's quote is 404."""
import re
import uuid
from datetime import date, timedelta

from html import unescape

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Message, Quote, TaxRate
from app.services.billing import documents, quotes
from app.services.errors import Invalid
from app.services.messages import outbox
from tests import factories as f
from tests.views.test_invoice_screens import form_key

LATER = date.today() + timedelta(days=30)


def a_quote(app, send=True, email="ada@example.com", actor="admin"):
    with app.app_context():
        customer = f.customer(actor=actor, first_name="Ada", surname="Lovelace", email=email)
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        quote = quotes.create_draft(db.session, f.user("admin"), customer.id, {
            "expires_on": LATER.isoformat(), "notes": "Valid for the spring round.",
            "lines": [{"description": "Gutter clearing", "quantity": 1, "unit_price": "80.00", "tax_rate_id": zero}]},
            str(uuid.uuid4()), send_now=send)
        return quote.id, quote.number, customer.id


def test_the_quote_pdf_html_says_quote_with_its_expiry_date_and_nothing_owed(app):
    pk, number, _ = a_quote(app)
    with app.app_context():
        quote = db.session.get(Quote, pk)
        html = documents.document_html(db.session, quote, app.config, documents.QUOTE)
    assert "<h1>QUOTE</h1>" in html and number in html and "Gutter clearing" in html
    assert "Expires" in html and documents._day(LATER) in html
    assert "Outstanding" not in html and "How to pay" not in html and "INVOICE" not in html and "Due" not in html
    assert "Prepared for" in html and f"Quote {number}" in html


def test_every_role_that_sees_quotes_downloads_the_pdf_and_another_resellers_is_404(app, login):
    pk, number, _ = a_quote(app, actor="reseller_a")
    for user in ("admin", "finance", "staff", "readonly", "reseller_a"):
        r = login(user).get(f"/quotes/{pk}/pdf")
        assert r.status_code == 200 and r.data.startswith(b"%PDF"), user
        assert r.headers["Content-Disposition"] == f'inline; filename="quote-{number}.pdf"'
    assert login("reseller_b").get(f"/quotes/{pk}/pdf").status_code == 404
    assert login("reseller_b").get(f"/quotes/{pk}/email").status_code in (403, 404)
    page = login("finance").get(f"/quotes/show/{pk}").get_data(as_text=True)
    assert f'href="/quotes/{pk}/pdf"' in page and f'href="/quotes/{pk}/email"' in page


def test_emailing_a_sent_quote_queues_one_message_with_its_pdf_once(app, login):
    pk, number, customer_id = a_quote(app)
    browser = login("finance")
    html = browser.get(f"/quotes/{pk}/email").get_data(as_text=True)
    assert f"Quote {number}" in html and "ada@example.com" in html
    data = {"to": "ada@example.com", "subject": f"Quote {number}", "body": "Here it is.", "form_key": form_key(html)}
    r = browser.post(f"/quotes/{pk}/email", data)
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/quotes/show/{pk}")
    assert browser.post(f"/quotes/{pk}/email", data).status_code == 302  # the same form again: sent once
    with app.app_context():
        messages = db.session.scalars(select(Message).where(Message.customer_id == customer_id)).all()
        assert len(messages) == 1 and messages[0].subject == f"Quote {number}"
        files = outbox.attachments_of(db.session, messages[0].id)
        assert [a.filename for a in files] == [f"quote-{number}.pdf"] and files[0].content.startswith(b"%PDF")


def test_emailing_a_draft_quote_sends_it_in_the_same_transaction(app, login):
    pk, number, customer_id = a_quote(app, send=False)
    assert number is None
    browser = login("admin")
    html = browser.get(f"/quotes/{pk}/email").get_data(as_text=True)
    assert 'id="email-sends-draft"' in html
    subject = re.search(r'name="subject" id="subject" value="([^"]*)"', html).group(1)
    body = unescape(re.search(r'<textarea[^>]*name="body"[^>]*>([^<]*)</textarea>', html).group(1))
    assert "QUO" not in subject  # not numbered yet
    r = browser.post(f"/quotes/{pk}/email", {"to": "ada@example.com", "subject": unescape(subject), "body": body,
                                             "form_key": form_key(html)})
    assert r.status_code == 302
    with app.app_context():
        quote = db.session.get(Quote, pk)
        assert quote.status == "sent" and quote.number == "QUO-1"
        message = db.session.scalars(select(Message).where(Message.customer_id == customer_id)).one()
        assert "QUO-1" in message.subject and "quote QUO-1" in message.body  # the defaults, numbered
        assert [a.filename for a in outbox.attachments_of(db.session, message.id)] == ["quote-QUO-1.pdf"]


def test_a_draft_that_cannot_be_sent_is_not_emailed_and_stays_a_draft(app):
    pk, _, customer_id = a_quote(app, send=False)
    with app.app_context():
        db.session.execute(update(Quote).where(Quote.id == pk).values(
            issue_date=date.today() - timedelta(days=9), expires_on=date.today() - timedelta(days=1)))
        db.session.commit()
        try:
            documents.email_quote(db.session, f.user("admin"), pk, {"to": "ada@example.com"}, str(uuid.uuid4()),
                                  app.config)
        except Invalid as e:
            db.session.rollback()
            assert "expires_on" in e.errors
        else:
            raise AssertionError("an expired draft was e-mailed")
        assert db.session.get(Quote, pk).status == "draft"
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_declined_or_expired_quote_is_not_emailed(app, login):
    pk, number, _ = a_quote(app)
    with app.app_context():
        quotes.decline(db.session, f.user("admin"), pk, str(uuid.uuid4()))
    html = login("finance").get(f"/quotes/{pk}/email").get_data(as_text=True)
    assert 'id="email-refused"' in html and "declined" in html and 'id="quote-email-form"' not in html
    r = login("finance").post(f"/quotes/{pk}/email", {"to": "ada@example.com", "form_key": str(uuid.uuid4())})
    assert r.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_who_may_not_post_money_cannot_email_a_quote(app, login):
    pk, _, _ = a_quote(app, actor="reseller_a")
    for user in ("staff", "readonly", "reseller_a"):
        assert login(user).post(f"/quotes/{pk}/email", {"to": "ada@example.com",
                                                        "form_key": str(uuid.uuid4())}).status_code == 403
