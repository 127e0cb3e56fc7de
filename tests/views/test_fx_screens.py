"""The FX rates screens over HTTP: the list and its CSV, add, bulk Copy to a new effective date and
Delete (asked first), the Upload CSV preview and Apply, a customer's own rates from its page, and who
may see what (403 for the global rates outside Finance and Admin; another reseller's customer: 404)."""
import re
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import CustomerFxRate, FxRate
from app.services.billing import fx
from tests import factories as f

D = Decimal


@pytest.fixture(autouse=True)
def no_rates(app):
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(delete(CustomerFxRate))
        db.session.execute(delete(FxRate))
        db.session.commit()


@pytest.fixture
def ada(app, resellers):
    with app.app_context():
        return f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id


def add(app, from_, to, rate, on):
    with app.app_context():
        return fx.create_rate(db.session, f.user("admin"), {"from_currency": from_, "to_currency": to, "rate": rate,
                                                           "effective_on": on}).id


def rates(app):
    with app.app_context():
        return sorted((r.from_currency, r.to_currency, r.rate, r.effective_on.isoformat())
                      for r in db.session.scalars(select(FxRate)))


def landed(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return unescape(browser.get(response.headers["Location"]).get_data(as_text=True))


def test_finance_lists_filters_and_downloads_the_rates(app, login):
    add(app, "USD", "GBP", "0.7874", "2026-06-15")
    add(app, "EUR", "GBP", "0.86", "2026-06-01")
    browser = login("finance")
    html = browser.get("/fx-rates/list/").get_data(as_text=True)
    assert "0.7874" in html and "2026-06-15" in html and "EUR" in html
    assert 'id="upload-csv"' in html and 'id="export-csv"' in html
    filtered = browser.get("/fx-rates/list/?_flt_0_from_currency=USD").get_data(as_text=True)
    table = filtered[filtered.index("<table"):]
    assert "0.7874" in table and "0.8600" not in table and ">EUR<" not in table
    csv = browser.get("/fx-rates/export.csv?_flt_0_from_currency=USD").get_data(as_text=True)
    header, *rows = csv.lstrip("\ufeff").splitlines()
    assert header == "From,To,Rate,Effective date" and len(rows) == 1
    cells = rows[0].split(",")
    assert (cells[0], cells[1], D(cells[2]), cells[3]) == ("USD", "GBP", D("0.7874"), "2026-06-15")


def test_adding_a_rate_and_a_duplicate_shows_its_error(app, login):
    browser = login("finance")
    data = {"from_currency": "usd", "to_currency": "GBP", "rate": "0.79", "effective_on": "2026-06-15"}
    r = browser.form("/fx-rates/add", data)
    assert "FX rate USD/GBP on 2026-06-15 added" in landed(browser, r)
    again = browser.form("/fx-rates/add", {**data, "rate": "0.8"}).get_data(as_text=True)
    assert "already exists" in again
    bad = browser.form("/fx-rates/add", {**data, "rate": "0", "to_currency": "USD"}).get_data(as_text=True)
    assert "more than zero" in bad and "different currencies" in bad
    assert rates(app) == [("USD", "GBP", D("0.79"), "2026-06-15")]


def test_bulk_copy_asks_the_date_then_copies_and_reports_a_pair_that_had_one(app, login):
    usd, eur = add(app, "USD", "GBP", "0.79", "2026-06-15"), add(app, "EUR", "GBP", "0.86", "2026-06-15")
    add(app, "EUR", "GBP", "0.87", "2026-07-01")
    browser = login("finance")
    html = browser.post("/fx-rates/action_post", {"action": "copy_to_date", "rowid": [str(usd), str(eur)]}).get_data(
        as_text=True)
    assert 'name="effective_on"' in html and "Copy to a new effective date: 2 FX rates" in html
    bad = browser.post("/fx-rates/bulk/copy_to_date", {"rowid": [str(usd), str(eur)], "effective_on": "soon"})
    assert bad.status_code == 422 and "field-error" in bad.get_data(as_text=True)
    r = browser.post("/fx-rates/bulk/copy_to_date", {"rowid": [str(usd), str(eur)], "effective_on": "2026-07-01"})
    page = landed(browser, r)
    assert "Copied 1 FX rate to 2026-07-01" in page and "EUR/GBP" in page
    assert ("USD", "GBP", D("0.79"), "2026-07-01") in rates(app)
    assert ("EUR", "GBP", D("0.87"), "2026-07-01") in rates(app)


def test_bulk_delete_is_asked_first(app, login):
    usd = add(app, "USD", "GBP", "0.79", "2026-06-15")
    browser = login("admin")
    html = browser.post("/fx-rates/action_post", {"action": "delete_rates", "rowid": [str(usd)]}).get_data(as_text=True)
    assert "Documents already issued keep the rate" in html and rates(app)
    assert "Deleted 1 FX rate" in landed(browser, browser.post("/fx-rates/bulk/delete_rates", {"rowid": [str(usd)]}))
    assert rates(app) == []


def test_upload_previews_then_applies(app, login):
    add(app, "USD", "GBP", "0.79", "2026-06-15")
    browser = login("finance")
    assert browser.get("/fx-rates/upload").status_code == 200
    text = "from,to,rate,date\nUSD,GBP,0.80,2026-06-15\nJPY,GBP,0.0052,2026-06-15\n"
    html = browser.post("/fx-rates/upload", {"csv": text, "preview": "1"}).get_data(as_text=True)
    assert "1 new, 1 changed, 0 unchanged" in html and "changed (was 0.79)" in html and 'id="apply"' in html
    assert rates(app) == [("USD", "GBP", D("0.79"), "2026-06-15")]
    bad = browser.post("/fx-rates/upload", {"csv": text + "AUD,GBP,-1,2026-06-15\n", "preview": "1"})
    bad_html = bad.get_data(as_text=True)
    assert 'id="upload-errors"' in bad_html and "more than zero" in bad_html and 'id="apply"' not in bad_html
    refused = browser.post("/fx-rates/upload", {"csv": text + "AUD,GBP,-1,2026-06-15\n", "apply": "1"})
    assert refused.status_code == 422 and len(rates(app)) == 1
    page = landed(browser, browser.post("/fx-rates/upload", {"csv": text, "apply": "1"}))
    assert "Uploaded: 1 new, 1 changed, 0 unchanged FX rates." in page
    assert rates(app) == [("JPY", "GBP", D("0.0052"), "2026-06-15"), ("USD", "GBP", D("0.80"), "2026-06-15")]


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_only_finance_and_admin_see_the_global_rates(app, login, username):
    usd = add(app, "USD", "GBP", "0.79", "2026-06-15")
    browser = login(username)
    for url in ("/fx-rates/list/", "/fx-rates/export.csv", "/fx-rates/upload", "/fx-rates/add",
                f"/fx-rates/show/{usd}"):
        assert browser.get(url).status_code == 403, url
    assert browser.post("/fx-rates/bulk/copy_to_date", {"rowid": [str(usd)], "effective_on": "2026-07-01"}) \
        .status_code == 403
    assert browser.post("/fx-rates/upload", {"csv": "JPY,GBP,1,2026-06-15", "apply": "1"}).status_code == 403
    assert "FX rates" not in browser.get("/").get_data(as_text=True)
    assert len(rates(app)) == 1


def test_a_customers_own_rates_from_its_page(app, login, ada):
    browser = login("finance")
    profile = browser.get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True)
    assert 'id="customer-fx-rates"' in profile
    r = browser.form(f"/customer-fx-rates/add?_flt_0_customer={ada}",
                     {"from_currency": "EUR", "to_currency": "GBP", "rate": "0.85", "effective_on": "2026-06-15"})
    assert r.status_code == 302
    html = browser.get(f"/customer-fx-rates/list/?_flt_0_customer={ada}").get_data(as_text=True)
    assert "0.85" in html and "Ada Lovelace" in html
    with app.app_context():
        assert fx.rate(db.session, "EUR", "GBP", date(2026, 6, 20), ada).rate == D("0.85")


def test_a_customers_rates_are_read_only_for_staff_and_hidden_from_another_reseller(app, login, ada):
    with app.app_context():
        row = fx.create_customer_rate(db.session, f.user("admin"), ada, {
            "from_currency": "EUR", "to_currency": "GBP", "rate": "0.85", "effective_on": "2026-06-15"}).id
    staff = login("staff")
    assert 'id="customer-fx-rates"' in staff.get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True)
    html = staff.get(f"/customer-fx-rates/list/?_flt_0_customer={ada}").get_data(as_text=True)
    assert "0.8500" in html or "0.85" in html
    assert staff.get(f"/customer-fx-rates/add?_flt_0_customer={ada}").status_code == 403
    assert staff.get(f"/customer-fx-rates/edit/{row}").status_code == 403
    assert login("reseller_a").get(f"/customer-fx-rates/show/{row}").status_code == 200
    other = login("reseller_b")
    assert other.get(f"/customer-fx-rates/list/?_flt_0_customer={ada}").status_code == 404
    assert other.get(f"/customer-fx-rates/show/{row}").status_code == 404
