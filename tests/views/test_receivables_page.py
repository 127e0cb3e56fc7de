"""The Receivables page over HTTP: per currency and in the base currency for Finance, Admin and a
reseller's user (its own customers only); 403 for others; a bad aged date said next to the field."""
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import TaxRate
from app.services.billing import fx, invoices
from tests import factories as f

TODAY = date.today()


def key():
    return str(uuid.uuid4())


def issued(customer, price):
    admin = f.user("admin")
    data = {"issue_date": (TODAY - timedelta(days=3)).isoformat(),
            "lines": [{"description": "Window clean", "quantity": 1, "unit_price": price,
                       "tax_rate_id": db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))}]}
    return invoices.issue(db.session, admin, invoices.create_draft(db.session, admin, customer.id, data, key()).id,
                          key())


@pytest.fixture
def books(app, resellers):
    with app.app_context():
        fx.create_rate(db.session, f.user("admin"), {"from_currency": "USD", "to_currency": "GBP", "rate": "0.8",
                                                    "effective_on": (TODAY - timedelta(days=5)).isoformat()})
        issued(f.customer(first_name="Ada", surname="Pound", reseller_id=resellers["Reseller A"]), "100.00")
        issued(f.customer(first_name="Sam", surname="Dollar", currency="USD", reseller_id=resellers["Reseller B"]),
               "50.00")
        issued(f.customer(first_name="Kenji", surname="Yen", currency="JPY", reseller_id=resellers["Reseller B"]),
               "1500")


def test_the_page_shows_each_currency_and_the_base_total_and_names_a_missing_rate(login, books):
    html = login("finance").get("/receivables/").get_data(as_text=True)
    assert 'id="currency-GBP"' in html and 'id="currency-USD"' in html and 'id="currency-JPY"' in html
    assert "1 USD = 0.8 GBP" in html and "£40.00" in html and "£140.00" in html
    assert "No FX rate from JPY to GBP" in html and "without the currencies missing a rate" in html
    assert "Realised exchange gains and losses" in html


def test_a_resellers_user_sees_its_own_customers_only_and_others_are_refused(login, books):
    html = login("reseller_a").get("/receivables/").get_data(as_text=True)
    assert 'id="currency-GBP"' in html and 'id="currency-USD"' not in html and "Dollar" not in html
    for role in ("staff", "readonly"):
        assert login(role).get("/receivables/").status_code == 403


def test_the_aged_totals_per_currency_as_at_a_date_and_a_bad_date_said_next_to_the_field(login, books):
    browser = login("admin")
    html = browser.get(f"/receivables/?as_of={TODAY.isoformat()}").get_data(as_text=True)
    assert 'id="aged-GBP"' in html and 'id="aged-JPY"' in html and "¥1,500" in html
    for bad in ("2026-02-30", (TODAY + timedelta(days=1)).isoformat(), "<script>x</script>", "0001-01-05"):
        answer = browser.get("/receivables/", query_string={"as_of": bad})
        assert answer.status_code == 200 and 'id="as-of-error"' in answer.get_data(as_text=True)
        assert "<script>x" not in answer.get_data(as_text=True)


def test_a_download_dated_before_1900_is_refused_not_a_crash(login, books):
    browser = login("admin")
    for url in ("/receivables/aged.csv?as_of=0001-01-05", "/receivables/ledger.csv?since=0001-01-01"):
        assert browser.get(url).status_code == 400, url
    assert browser.get("/receivables/aged.csv?as_of=1900-01-01").status_code == 200
