"""The quote screens through HTTP: the New quote form (the invoice form, with Expires on and Save and
send), the quote's page with Send, Accept and Decline for who may post money, the Quotes sub-tab of
the Finances tab; who may not post sees no buttons and is refused (403); another reseller's quote is
404."""
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Invoice, LedgerEntry, Quote
from app.services.billing import quotes
from tests import factories as f
from tests.roles import role_user
from tests.views.test_invoice_screens import a_customer, form_key, lines, page

D = Decimal
LATER = (date.today() + timedelta(days=30)).isoformat()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def new_quote(app, browser, customer_id, *rows, save="draft", **extra):
    html = browser.get(f"/quotes/new/{customer_id}").get_data(as_text=True)
    data = {"issue_date": date.today().isoformat(), "expires_on": LATER, "notes": "", "save": save,
            "form_key": form_key(html), **lines(app, *rows), **extra}
    return browser.post(f"/quotes/new/{customer_id}", data)


def a_quote(app, customer_id, send=True) -> int:
    with app.app_context():
        admin = f.user("admin")
        quote = quotes.create_draft(db.session, admin, customer_id, {"expires_on": LATER, "lines": [
            {"description": "Gutter clearing", "quantity": 1, "unit_price": "80.00"}]}, str(uuid.uuid4()),
            send_now=send)
        return quote.id


def test_the_new_quote_form_is_the_invoice_form_with_an_expiry_date(app, login):
    pk = a_customer(app)
    browser = login("finance")
    html = browser.get(f"/quotes/new/{pk}").get_data(as_text=True)
    assert 'id="invoice-lines"' in html and "invoice_lines.js" in html  # the invoice form's rows and JS
    assert 'name="expires_on"' in html and 'name="due_date"' not in html
    assert 'id="save-send"' in html and 'id="save-issue"' not in html
    assert f'action="/quotes/new/{pk}' in html
    r = new_quote(app, browser, pk, ("Labour", "2", "40.00"), ("Parts", "1", "12.345"), expires_on="")
    assert r.status_code == 422
    body = unescape(r.get_data(as_text=True))
    assert "Enter the date the quote expires on." in body and "at most 2 decimals" in body
    assert count(app, Quote) == 0
    r = new_quote(app, browser, pk, ("Labour", "2", "40.00"), ("Parts", "1", "20.00", "Zero rate"), save="send")
    with app.app_context():
        quote = db.session.scalars(select(Quote)).one()
        assert (quote.status, quote.number, quote.total) == ("sent", "QUO-1", D("116.00"))
    shown = page(browser, r)
    assert "Quote QUO-1 sent: £116.00" in shown and 'id="action-accept"' in shown and 'id="action-decline"' in shown
    assert count(app, Invoice) == 0 and count(app, LedgerEntry) == 0


def test_a_draft_is_edited_sent_and_accepted_into_one_draft_invoice(app, login):
    pk = a_customer(app)
    browser = login("admin")
    new_quote(app, browser, pk, ("Labour", "1", "10.00"))
    with app.app_context():
        quote_id = db.session.scalar(select(Quote.id))
    html = browser.get(f"/quotes/{quote_id}/edit-draft").get_data(as_text=True)
    assert 'value="Labour"' in html and 'value="10.00"' in html
    r = browser.post(f"/quotes/{quote_id}/edit-draft", {"issue_date": date.today().isoformat(), "expires_on": LATER,
                                                        "notes": "", "save": "draft", "form_key": form_key(html),
                                                        **lines(app, ("Labour", "3", "10.00"))})
    shown = page(browser, r)
    assert "Draft quote saved: £36.00" in shown and 'id="action-send"' in shown and 'id="action-accept"' not in shown
    shown = page(browser, browser.post(f"/quotes/{quote_id}/send", {"form_key": form_key(shown)}))
    assert "Quote QUO-1 sent" in shown
    key = form_key(shown)
    shown = page(browser, browser.post(f"/quotes/{quote_id}/accept", {"form_key": key}))
    assert "Quote accepted: draft invoice for £36.00" in shown and 'id="invoice-link"' in shown
    again = page(browser, browser.post(f"/quotes/{quote_id}/accept", {"form_key": key}))  # sent twice
    assert "not recorded twice" in again
    assert count(app, Invoice) == 1 and count(app, LedgerEntry) == 0
    with app.app_context():
        invoice = db.session.scalars(select(Invoice)).one()
        assert invoice.status == "draft" and invoice.total == D("36.00")
        assert db.session.get(Quote, quote_id).invoice_id == invoice.id


def test_an_expired_quote_offers_no_accept_until_its_date_is_moved(app, login):
    pk = a_customer(app)
    quote_id = a_quote(app, pk)
    with app.app_context():
        db.session.execute(update(Quote).where(Quote.id == quote_id).values(
            issue_date=date.today() - timedelta(days=10), expires_on=date.today() - timedelta(days=1)))
        db.session.commit()
    browser = login("finance")
    html = unescape(browser.get(f"/quotes/show/{quote_id}").get_data(as_text=True))
    assert "move its expiry date to accept it" in html and 'id="action-accept"' not in html
    shown = page(browser, browser.post(f"/quotes/{quote_id}/accept", {"form_key": form_key(html)}))
    assert "expired on" in shown and count(app, Invoice) == 0
    shown = page(browser, browser.post(f"/quotes/{quote_id}/extend", {"form_key": str(uuid.uuid4()),
                                                                      "expires_on": LATER}))
    assert f"now expires on {LATER}" in shown and 'id="action-accept"' in shown


def test_decline_and_the_quotes_sub_tab(app, login):
    pk = a_customer(app)
    draft_id, sent_id = a_quote(app, pk, send=False), a_quote(app, pk)
    browser = login("finance")
    shown = page(browser, browser.post(f"/quotes/{sent_id}/decline", {"form_key": str(uuid.uuid4())}))
    assert "Quote QUO-1 declined." in shown and 'id="action-accept"' not in shown
    tab = unescape(browser.get(f"/customers/show/{pk}?tab=finances&sub=quotes").get_data(as_text=True)).replace("\xa0", " ")
    assert 'id="sub-quotes"' in tab and 'id="finance-quotes"' in tab and 'id="new-quote"' in tab
    assert f"/quotes/show/{draft_id}" in tab and f"/quotes/show/{sent_id}" in tab
    assert "QUO-1" in tab and "Declined" in tab and "Draft" in tab and "£96.00" in tab and LATER in tab


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_who_may_not_post_money_sees_the_quote_without_buttons_and_is_refused(app, login, username, resellers):
    with app.app_context():
        pk = f.customer(reseller_id=resellers["Reseller A"]).id
    quote_id = a_quote(app, pk)
    browser = login(username)
    html = browser.get(f"/quotes/show/{quote_id}").get_data(as_text=True)
    assert "Gutter clearing" in html and 'id="action-pdf"' in html  # the PDF is for everyone who sees it
    assert not re.findall(r'id="action-(?!pdf")', html)  # nothing that posts money
    tab = browser.get(f"/customers/show/{pk}?tab=finances&sub=quotes").get_data(as_text=True)
    assert f"/quotes/show/{quote_id}" in tab and 'id="new-quote"' not in tab
    for url in (f"/quotes/{quote_id}/send", f"/quotes/{quote_id}/accept", f"/quotes/{quote_id}/decline",
                f"/quotes/{quote_id}/extend", f"/quotes/{quote_id}/delete-draft", f"/quotes/new/{pk}",
                f"/quotes/{quote_id}/edit-draft", f"/quotes/{quote_id}/email"):
        assert browser.post(url, {"form_key": str(uuid.uuid4()), "expires_on": LATER}).status_code == 403, url
    assert browser.get(f"/quotes/new/{pk}").status_code == 403
    assert count(app, Invoice) == 0
    with app.app_context():
        assert db.session.get(Quote, quote_id).status == "sent"


def test_another_resellers_quote_is_404_even_to_who_may_post(app, resellers):
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
    quote_id = a_quote(app, theirs)
    with app.app_context():
        with role_user(app, db.session, "FinanceA", like="Finance", reseller_id=resellers["Reseller A"]):
            from tests.conftest import Browser
            browser = Browser(app.test_client(), "financea")
            assert browser.login().status_code == 302
            for url in (f"/quotes/show/{quote_id}", f"/quotes/{quote_id}/edit-draft", f"/quotes/new/{theirs}"):
                assert browser.get(url).status_code == 404, url
            for url in (f"/quotes/{quote_id}/send", f"/quotes/{quote_id}/accept", f"/quotes/{quote_id}/decline",
                        f"/quotes/{quote_id}/extend", f"/quotes/{quote_id}/delete-draft"):
                assert browser.post(url, {"form_key": str(uuid.uuid4()), "expires_on": LATER}).status_code == 404, url
    assert count(app, Invoice) == 0
