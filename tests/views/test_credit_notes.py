"""Credit notes through HTTP: "Raise credit note" on an invoice (the invoice form pre-filled with its
lines, what is left to credit shown), "Add credit note" on the Finances tab, the credit note's page,
its PDF in each breakdown style, its e-mail, its void; the Credit notes sub-tab, the Credits list and
its CSV; who may not post money is refused; another reseller's credit note is 404."""
import re
import shutil
import subprocess
import uuid
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CreditNote, Invoice, Message, MessageAttachment, Payment, TaxRate
from app.services.billing import credit_note_documents, credit_notes, invoices
from tests import factories as f
from tests.views.test_invoice_screens import a_customer, form_key, page

D = Decimal


def key():
    return str(uuid.uuid4())


def rate_id(name="Zero rate"):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def an_invoice(app, customer_id) -> int:
    """An issued invoice of two lines: labour 80.00 and parts 20.00, no tax."""
    with app.app_context():
        invoice = invoices.create_draft(db.session, f.user("admin"), customer_id, {"lines": [
            {"description": "Boiler service", "quantity": 1, "unit_price": "80.00", "category": "labour",
             "tax_rate_id": rate_id()},
            {"description": "Valve", "quantity": 2, "unit_price": "10.00", "category": "parts",
             "tax_rate_id": rate_id()}]}, key(), issue_now=True)
        return invoice.id


def a_credit_note(app, customer_id, invoice_id=None, style="full", total="30.00") -> int:
    with app.app_context():
        note = credit_notes.create(db.session, f.user("finance"), {
            "description": "Labour reduction", "breakdown_style": style, "lines": [
                {"description": "Less labour", "quantity": 1, "unit_price": total, "category": "labour",
                 "tax_rate_id": rate_id("Standard rate")},
                {"description": "Valve returned", "quantity": 1, "unit_price": "10.00", "category": "parts",
                 "tax_rate_id": rate_id("Standard rate")}]},
            key(), customer_id=customer_id, invoice_id=invoice_id)
        return note.id


def form_lines(app, *rows) -> dict:
    data = {}
    with app.app_context():
        for i, (description, category, quantity, price) in enumerate(rows):
            data.update({f"lines-{i}-description": description, f"lines-{i}-category": category,
                         f"lines-{i}-quantity": quantity, f"lines-{i}-unit_price": price,
                         f"lines-{i}-tax_rate_id": str(rate_id())})
    return data


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_raise_credit_note_is_the_invoice_form_pre_filled_with_what_is_left_to_credit(app, login):
    customer = a_customer(app)
    pk = an_invoice(app, customer)
    browser = login("finance")
    invoice_page = browser.get(f"/invoices/show/{pk}").get_data(as_text=True)
    assert 'id="action-credit-note"' in invoice_page
    html = unescape(browser.get(f"/credit-notes/new/invoice/{pk}").get_data(as_text=True))
    assert 'id="invoice-lines"' in html and "invoice_lines.js" in html
    assert 'value="Boiler service"' in html and 'value="Valve"' in html
    assert "<strong>£100.00</strong> is left to credit" in html.replace("\xa0", " ")
    assert 'name="description"' in html and 'name="breakdown_style"' in html and 'name="due_date"' not in html
    assert 'id="save-credit"' in html and 'id="save-draft"' not in html


def test_saving_lands_on_the_credit_note_page_naming_its_number(app, login):
    customer = a_customer(app)
    pk = an_invoice(app, customer)
    browser = login("finance")
    html = browser.get(f"/credit-notes/new/invoice/{pk}").get_data(as_text=True)
    data = {"issue_date": date.today().isoformat(), "description": "Boiler install refund", "notes": "Sorry",
            "breakdown_style": "category", "form_key": form_key(html),
            **form_lines(app, ("Boiler service", "labour", "1", "80.00"), ("Valve", "parts", "1", "10.00"))}
    r = browser.post(f"/credit-notes/new/invoice/{pk}", data)
    body = page(browser, r)
    assert "Credit note CN-1 issued: £90.00; £90.00 paid on invoice INV-1" in body
    assert 'id="credit-note-page"' in body and "Boiler install refund" in body
    again = browser.post(f"/credit-notes/new/invoice/{pk}", data)  # the same form twice: recorded once
    assert "already recorded" in page(browser, again)
    assert count(app, CreditNote) == 1
    with app.app_context():
        invoice = db.session.get(Invoice, pk)
        assert (invoice.outstanding, invoice.status) == (D("10.00"), "part_paid")
    assert "CN-1" in browser.get(f"/invoices/show/{pk}").get_data(as_text=True)


def test_errors_are_shown_next_to_the_fields_and_nothing_is_written(app, login):
    customer = a_customer(app)
    pk = an_invoice(app, customer)
    browser = login("finance")
    html = browser.get(f"/credit-notes/new/invoice/{pk}").get_data(as_text=True)
    data = {"issue_date": date.today().isoformat(), "description": "", "breakdown_style": "full",
            "form_key": form_key(html), **form_lines(app, ("Too much", "labour", "1", "150.00"))}
    r = browser.post(f"/credit-notes/new/invoice/{pk}", data)
    assert r.status_code == 422
    body = unescape(r.get_data(as_text=True)).replace("\xa0", " ")
    assert re.search(r'id="field-description".*Description is required', body, re.S)
    data["description"] = "<script>alert(1)</script>"
    r = browser.post(f"/credit-notes/new/invoice/{pk}", {**data, "form_key": key()})
    body = unescape(r.get_data(as_text=True)).replace("\xa0", " ")
    assert r.status_code == 422 and "only £100.00 of invoice INV-1 is left to credit" in body
    assert "<script>alert(1)</script>" not in r.get_data(as_text=True)
    assert count(app, CreditNote) == 0 and count(app, Payment) == 0


def test_add_credit_note_on_the_finances_tab_gives_account_credit_listed_on_credits(app, login):
    customer = a_customer(app)
    browser = login("finance")
    tab = browser.get(f"/customers/show/{customer}?tab=finances&sub=credit_notes").get_data(as_text=True)
    assert 'id="add-credit-note"' in tab and 'id="sub-credit_notes"' in tab
    html = browser.get(f"/credit-notes/new/{customer}").get_data(as_text=True)
    data = {"issue_date": date.today().isoformat(), "description": "Goodwill", "breakdown_style": "none",
            "form_key": form_key(html), **form_lines(app, ("Late visit", "other", "1", "15.00"))}
    body = page(browser, browser.post(f"/credit-notes/new/{customer}", data))
    assert "Credit note CN-1 issued: £15.00; £15.00 became account credit" in body
    sub = browser.get(f"/customers/show/{customer}?tab=finances&sub=credit_notes").get_data(as_text=True)
    assert "CN-1" in sub and "Goodwill" in sub
    credits = unescape(browser.get("/credits/list/").get_data(as_text=True))
    assert "Credit note" in credits and 'class="credit-note-link"' in credits
    link = re.search(r'class="credit-note-link" href="([^"]+)"', credits).group(1)
    assert "/credit-notes/show/" in browser.get(link).headers["Location"]
    csv = browser.get("/credits/export.csv").get_data(as_text=True)
    assert "Credit note" in csv and "CN-1" in csv
    ledger = browser.get(f"/customers/show/{customer}?tab=finances&sub=ledger").get_data(as_text=True)
    assert "Credit note CN-1" in ledger


def _pdf_text(pdf: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


@pytest.mark.parametrize("style, present, absent", [
    ("none", ["Labour reduction", "£48.00"], ["Less labour", "Valve returned", "Labour subtotal"]),
    ("category", ["Labour", "Parts", "£36.00", "£12.00"], ["Less labour", "Valve returned"]),
    ("full", ["Less labour", "Valve returned"], ["Labour subtotal"]),
    ("full_category", ["Less labour", "Valve returned", "Labour subtotal", "Parts subtotal"], []),
])
def test_the_pdf_shows_each_breakdown_style(app, login, style, present, absent):
    customer = a_customer(app)
    pk = a_credit_note(app, customer, style=style)
    r = login("readonly").get(f"/credit-notes/{pk}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
    assert r.headers["Content-Disposition"] == 'inline; filename="credit-note-CN-1.pdf"'
    with app.app_context():
        html = credit_note_documents.credit_note_html(db.session, db.session.get(CreditNote, pk), app.config)
    text = _pdf_text(r.data) if shutil.which("pdftotext") else html
    for word in present:
        assert word in text, (style, word)
    for word in absent:
        assert word not in text, (style, word)
    assert "CN-1" in text and "£48.00" in text


def test_another_style_is_asked_for_on_the_url(app, login):
    customer = a_customer(app)
    pk = a_credit_note(app, customer, style="full")
    r = login("finance").get(f"/credit-notes/{pk}/pdf?style=none")
    if shutil.which("pdftotext"):
        assert "Less labour" not in _pdf_text(r.data)
    assert login("finance").get(f"/credit-notes/{pk}/pdf?style=<script>").status_code == 200


def test_emailing_puts_a_message_with_the_pdf_in_the_outbox(app, login):
    customer = a_customer(app, email="ada@example.com")
    pk = a_credit_note(app, customer)
    browser = login("finance")
    html = browser.get(f"/credit-notes/{pk}/email").get_data(as_text=True)
    assert "Credit note CN-1" in html
    data = {"to": "ada@example.com", "subject": "Your credit note", "body": "Attached.", "form_key": form_key(html)}
    body = page(browser, browser.post(f"/credit-notes/{pk}/email", data))
    assert "Credit note CN-1 e-mailed to ada@example.com" in body
    browser.post(f"/credit-notes/{pk}/email", data)
    with app.app_context():
        message = db.session.scalars(select(Message)).one()
        attachment = db.session.scalars(select(MessageAttachment)).one()
        assert message.subject == "Your credit note"
        assert attachment.filename == "credit-note-CN-1.pdf" and attachment.content_type == "application/pdf"


def test_void_asks_a_reason_and_takes_the_credit_back(app, login):
    customer = a_customer(app)
    invoice = an_invoice(app, customer)
    pk = a_credit_note(app, customer, invoice_id=invoice)
    browser = login("finance")
    html = browser.get(f"/credit-notes/{pk}/void").get_data(as_text=True)
    r = browser.post(f"/credit-notes/{pk}/void", {"reason": "", "form_key": form_key(html)})
    assert r.status_code == 422 and "Reason is required" in r.get_data(as_text=True)
    body = page(browser, browser.post(f"/credit-notes/{pk}/void", {"reason": "Raised twice", "form_key": key()}))
    assert "Credit note CN-1 voided" in body and "Raised twice" in body
    with app.app_context():
        assert db.session.get(Invoice, invoice).outstanding == D("100.00")


def test_who_may_not_post_money_sees_the_credit_note_but_no_buttons_and_is_refused(app, login):
    customer = a_customer(app, reseller_id=None)
    invoice = an_invoice(app, customer)
    pk = a_credit_note(app, customer, invoice_id=invoice)
    for user in ("staff", "readonly"):
        browser = login(user)
        html = browser.get(f"/credit-notes/show/{pk}").get_data(as_text=True)
        assert "CN-1" in html and 'id="action-void"' not in html and 'id="action-email"' not in html
        assert 'id="action-credit-note"' not in browser.get(f"/invoices/show/{invoice}").get_data(as_text=True)
        assert browser.get(f"/credit-notes/new/invoice/{invoice}").status_code == 403
        assert browser.get(f"/credit-notes/{pk}/void").status_code == 403
        assert browser.post(f"/credit-notes/new/{customer}", {"form_key": key()}).status_code == 403


def test_another_resellers_credit_note_is_not_found(app, login):
    with app.app_context():
        theirs = f.customer(actor="reseller_b", first_name="Bo", surname="B")
        theirs_id = theirs.id
    pk = a_credit_note(app, theirs_id)
    browser = login("reseller_a")
    for url in (f"/credit-notes/show/{pk}", f"/credit-notes/{pk}/pdf", f"/credit-notes/new/{theirs_id}"):
        assert browser.get(url).status_code in (403, 404), url
    assert browser.get(f"/credit-notes/show/{pk}").status_code == 404
    assert login("reseller_b").get(f"/credit-notes/show/{pk}").status_code == 200


def test_the_payments_and_ledger_csv_name_the_credit_note(app, login):
    customer = a_customer(app)
    a_credit_note(app, customer)
    browser = login("finance")
    payments_csv = browser.get("/credits/payments.csv").get_data(as_text=True)
    assert "Credit note" in payments_csv and "CN-1" in payments_csv
    ledger_csv = browser.get("/receivables/ledger.csv").get_data(as_text=True)
    assert "Credit note" in ledger_csv


def test_the_pre_filled_lines_say_which_invoice_line_each_credits(app, login):
    customer = a_customer(app)
    pk = an_invoice(app, customer)
    with app.app_context():
        boiler, valve = (line.id for line in db.session.get(Invoice, pk).lines)
    browser = login("finance")
    html = browser.get(f"/credit-notes/new/invoice/{pk}").get_data(as_text=True)
    assert f'name="lines-0-invoice_line_id" value="{boiler}"' in html
    assert f'name="lines-1-invoice_line_id" value="{valve}"' in html
    assert "invoice_line_id" not in browser.get(f"/credit-notes/new/{customer}").get_data(as_text=True)
    data = {"issue_date": date.today().isoformat(), "description": "Part refund", "breakdown_style": "full",
            "form_key": form_key(html), "lines-0-invoice_line_id": str(boiler), "lines-2-invoice_line_id": "",
            **form_lines(app, ("Boiler service", "labour", "1", "30.00"), ("Valve", "parts", "0", "0"),
                         ("Call-out goodwill", "other", "1", "5.00"))}
    del data["lines-1-description"], data["lines-1-unit_price"]  # the valve's row emptied: left out
    page(browser, browser.post(f"/credit-notes/new/invoice/{pk}", data))
    with app.app_context():
        note = db.session.scalar(select(CreditNote))
        assert [(line.description, line.invoice_line_id) for line in note.lines] == [
            ("Boiler service", boiler), ("Call-out goodwill", None)]


def test_a_forged_invoice_line_of_another_invoice_is_refused(app, login):
    customer = a_customer(app)
    pk, other = an_invoice(app, customer), an_invoice(app, customer)
    with app.app_context():
        foreign = db.session.get(Invoice, other).lines[0].id
    browser = login("finance")
    html = browser.get(f"/credit-notes/new/invoice/{pk}").get_data(as_text=True)
    data = {"issue_date": date.today().isoformat(), "description": "Refund", "breakdown_style": "full",
            "form_key": form_key(html), "lines-0-invoice_line_id": str(foreign),
            **form_lines(app, ("Boiler service", "labour", "1", "30.00"))}
    r = browser.post(f"/credit-notes/new/invoice/{pk}", data)
    assert r.status_code == 422 and "does not credit a line of the invoice" in r.get_data(as_text=True)
    assert count(app, CreditNote) == 0
