"""Money > Quotes: every quote in the user's scope (number, customer, status as shown, dates,
total), filtered (status incl. expired, customer name, number), sorted, and as CSV (the list's
filter, formula-safe). And the invoice page's stored FX rate line for a foreign-currency invoice."""
import csv
import io
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Quote, TaxRate
from app.services.billing import fx, invoices, quotes
from tests import factories as f

TODAY = date.today()
LATER = (TODAY + timedelta(days=30)).isoformat()


def a_quote(customer_id, price, send=True):
    zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    return quotes.create_draft(db.session, f.user("admin"), customer_id, {"expires_on": LATER, "lines": [
        {"description": "Gutters", "quantity": 1, "unit_price": price, "tax_rate_id": zero}]}, str(uuid.uuid4()),
        send_now=send)


@pytest.fixture
def book(app, resellers):
    """Reseller A: "=cmd" (GBP) with a sent quote and a draft, "Yuki" (JPY) with an expired one;
    Reseller B: "Bob" with a sent quote."""
    with app.app_context():
        cmd = f.customer(customer_type="company", company_name="=cmd", reseller_id=resellers["Reseller A"])
        yuki = f.customer(first_name="Yuki", surname="Tanaka", currency="JPY", reseller_id=resellers["Reseller A"])
        bob = f.customer(first_name="Bob", surname="Other", reseller_id=resellers["Reseller B"])
        sent = a_quote(cmd.id, "80.00")
        draft = a_quote(cmd.id, "5.00", send=False)
        old = a_quote(yuki.id, "1500")
        db.session.execute(update(Quote).where(Quote.id == old.id).values(
            issue_date=TODAY - timedelta(days=40), expires_on=TODAY - timedelta(days=10)))
        db.session.commit()
        other = a_quote(bob.id, "9.00")
        return {"sent": sent.number, "draft": draft.id, "old": old.number, "other": other.number}


def read_csv(response):
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    return [dict(zip(table[0], row)) for row in table[1:]]


def test_the_list_shows_each_quote_in_scope_with_its_status_as_shown(login, book):
    html = login("finance").get("/quotes/list/").get_data(as_text=True)
    for number in (book["sent"], book["old"], book["other"]):
        assert number in html
    assert "Expired" in html and "Draft" in html and "¥1,500" in html and "£80.00" in html
    assert "/quotes/export.csv" in html
    mine = login("reseller_a").get("/quotes/list/").get_data(as_text=True)
    assert book["sent"] in mine and book["other"] not in mine
    for role in ("staff", "readonly"):
        assert login(role).get("/quotes/list/").status_code == 200


def test_the_list_filters_by_status_as_shown_customer_and_number(login, book):
    browser = login("admin")
    expired = browser.get("/quotes/list/?_flt_0_status=expired").get_data(as_text=True)
    assert book["old"] in expired and book["sent"] not in expired
    sent = browser.get("/quotes/list/?_flt_0_status=sent").get_data(as_text=True)
    assert book["sent"] in sent and book["old"] not in sent
    by_name = browser.get("/quotes/list/?_flt_0_customer=tanaka").get_data(as_text=True)
    assert book["old"] in by_name and book["sent"] not in by_name
    by_number = browser.get(f"/quotes/list/?_flt_0_number={book['sent']}").get_data(as_text=True)
    assert book["sent"] in by_number and book["other"] not in by_number
    ordered = browser.get("/quotes/list/?_oc_QuoteView=total&_od_QuoteView=asc")
    assert ordered.status_code == 200


def test_the_csv_is_the_lists_rows_formula_safe_with_each_currencys_decimals(login, book):
    rows = read_csv(login("reseller_a").get("/quotes/export.csv"))
    by_customer = {r["Customer"]: r for r in rows if r["Number"]}
    assert set(by_customer) == {"'=cmd", "Yuki Tanaka"}  # the formula escaped; another reseller's left out
    assert by_customer["Yuki Tanaka"]["Status"] == "Expired" and by_customer["Yuki Tanaka"]["Total"] == "1500"
    assert by_customer["'=cmd"]["Total"] == "80.00"
    only = read_csv(login("admin").get("/quotes/export.csv?_flt_0_status=expired"))
    assert [r["Number"] for r in only] == [book["old"]]
    assert login("admin").get("/quotes/export.csv?_flt_0_nope=1").status_code == 400


def test_fabs_own_add_edit_and_delete_routes_are_gone(login, book):
    browser = login("admin")
    for url in ("/quotes/add", f"/quotes/edit/{book['draft']}", f"/quotes/delete/{book['draft']}"):
        assert browser.get(url).status_code == 404, url


# ---- the invoice page's FX rate -----------------------------------------------------------------
def issued(customer):
    admin = f.user("admin")
    zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    draft = invoices.create_draft(db.session, admin, customer.id, {"lines": [
        {"description": "Work", "quantity": 1, "unit_price": "100.00", "tax_rate_id": zero}]}, str(uuid.uuid4()))
    return invoices.issue(db.session, admin, draft.id, str(uuid.uuid4())).id


def test_a_foreign_currency_invoice_shows_its_stored_rate_and_total_in_the_base_currency(app, login):
    with app.app_context():
        fx.create_rate(db.session, f.user("admin"), {"from_currency": "USD", "to_currency": "GBP", "rate": "0.8",
                                                    "effective_on": (TODAY - timedelta(days=2)).isoformat()})
        usd = issued(f.customer(first_name="Sam", surname="Dollar", currency="USD"))
        gbp = issued(f.customer(first_name="Ada", surname="Pound"))
    html = login("finance").get(f"/invoices/show/{usd}").get_data(as_text=True)
    assert 'id="fx-rate"' in html and "Rate to GBP" in html and "1 USD = 0.8 GBP" in html
    assert f"(rate of {(TODAY - timedelta(days=2)).isoformat()})" in html and "£80.00" in html
    assert 'id="fx-rate"' not in login("finance").get(f"/invoices/show/{gbp}").get_data(as_text=True)
    with app.app_context():
        from app.models import Invoice
        from app.services.billing import documents
        pdf_html = documents.invoice_html(db.session, db.session.get(Invoice, usd), app.config)
        gbp_html = documents.invoice_html(db.session, db.session.get(Invoice, gbp), app.config)
    assert "1 USD = 0.8 GBP" in pdf_html and "Rate to GBP" not in gbp_html
