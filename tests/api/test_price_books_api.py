"""Price books over the REST API: Admin and Finance keep books and items (prices as strings in the
item currency's decimals), everyone who picks lines reads them, and the picker's search prices a
customer's items in its currency on a date (converted and rounded once; no rate: the item with an
error); another reseller's customer is 404."""
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import PriceBook, PriceBookItem
from tests import factories as f


def default_book(app):
    with app.app_context():
        return db.session.scalar(select(PriceBook.id).where(PriceBook.is_default.is_(True)))


def test_finance_keeps_items_and_the_search_prices_them_in_the_customers_currency(app, api, resellers):
    finance = api("finance")
    book = default_book(app)
    r = finance.post("/api/v1/price_book_item/", json={"price_book_id": book, "code": "LAB-1", "name": "Labour hour",
                                                        "unit_price": "40.005", "currency": "BHD",
                                                        "category": "labour"})
    assert r.status_code == 201, r.json
    assert r.json["result"]["unit_price"] == "40.005"
    finance.post("/api/v1/price_book_item/", json={"price_book_id": book, "code": "PRT-9", "name": "Valve",
                                                   "unit_price": "10", "currency": "EUR", "category": "parts"})
    finance.post("/api/v1/fx_rate/", json={"from_currency": "EUR", "to_currency": "GBP", "rate": "0.8567",
                                           "effective_on": "2026-01-01"})
    with app.app_context():
        ada = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id
        bob = f.customer(first_name="Bob", surname="Other", reseller_id=resellers["Reseller B"]).id
    r = api("reseller_a").get(f"/api/v1/price_book_item/search?customer_id={ada}&q=valve&on=2026-06-01")
    assert r.status_code == 200, r.json
    [valve] = r.json["result"]
    assert (valve["unit_price"], valve["currency"], valve["item_currency"]) == ("8.57", "GBP", "EUR")
    [labour] = api("staff").get(f"/api/v1/price_book_item/search?customer_id={ada}&q=lab&on=2026-06-01").json["result"]
    assert labour["unit_price"] is None and "BHD" in labour["error"] and "2026-06-01" in labour["error"]
    assert api("reseller_a").get(f"/api/v1/price_book_item/search?customer_id={bob}&q=valve").status_code == 404
    assert api("admin").get(f"/api/v1/price_book_item/search?customer_id={ada}&q=valve&on=01/06/2026").status_code == 422


@pytest.mark.parametrize("body, field", [
    ({"code": "", "name": "X", "unit_price": "1", "currency": "GBP"}, "code"),
    ({"code": "A", "name": "X", "unit_price": "-1", "currency": "GBP"}, "unit_price"),
    ({"code": "A", "name": "X", "unit_price": "1", "currency": "XYZ"}, "currency"),
    ({"code": "A", "name": "X", "unit_price": 1.5, "currency": "GBP"}, "unit_price"),
])
def test_bad_items_are_422_naming_the_field_and_write_nothing(app, api, body, field):
    r = api("admin").post("/api/v1/price_book_item/", json={"price_book_id": default_book(app), **body})
    assert r.status_code == 422 and field in str(r.json), r.json
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PriceBookItem)) == 0


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_who_picks_lines_reads_books_and_items_but_writes_none(app, api, username):
    client = api(username)
    assert client.get("/api/v1/price_book/").status_code == 200
    assert client.get("/api/v1/price_book_item/").status_code == 200
    r = client.post("/api/v1/price_book/", json={"name": "Trade"})
    assert r.status_code in (401, 403)
    assert api("finance").post("/api/v1/price_book/", json={"name": "Trade"}).status_code == 201
