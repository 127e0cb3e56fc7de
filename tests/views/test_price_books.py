"""The price book screens over HTTP: books and items added, edited and deleted by Finance and Admin
(with their field errors and the flash naming what changed), read by Staff, Read-only and Reseller
users, the items' CSV, the line picker's JSON search (scoped: another reseller's customer is 404),
and a customer's book set on its edit form and shown on its Finances tab."""
from html import unescape

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import Customer, FxRate, PriceBook, PriceBookItem
from app.services.billing import fx, price_books
from tests import factories as f


@pytest.fixture(autouse=True)
def no_rates(app):
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(delete(FxRate))
        db.session.commit()


@pytest.fixture
def ada(app, resellers):
    with app.app_context():
        return f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id


def default_id(app):
    with app.app_context():
        return price_books.default_book(db.session).id


def add_item(app, code, name, price, currency="GBP", book_id=None):
    with app.app_context():
        return price_books.create_item(db.session, f.user("admin"), {
            "price_book_id": book_id or price_books.default_book(db.session).id, "code": code, "name": name,
            "unit_price": price, "currency": currency}).id


def landed(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return unescape(browser.get(response.headers["Location"]).get_data(as_text=True))


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("username", ["admin", "finance"])
def test_finance_and_admin_add_edit_and_delete_books_and_items(app, login, username):
    browser = login(username)
    page = landed(browser, browser.form("/price-books/add", {"name": "Trade", "active": "y"}))
    assert "Price book Trade added" in page
    with app.app_context():
        trade = db.session.scalar(select(PriceBook).where(PriceBook.name == "Trade")).id
    data = {"price_book": str(trade), "code": "LAB-HR", "name": "Labour per hour", "unit_price": "45.00",
            "currency": "gbp", "category": "labour", "active": "y"}
    page = landed(browser, browser.form("/price-book-items/add", data))
    assert "Item LAB-HR Labour per hour added" in page
    with app.app_context():
        item = db.session.scalar(select(PriceBookItem))
        assert (item.currency, str(item.unit_price), item.category) == ("GBP", "45.0000", "labour")
        item_id = item.id
    page = landed(browser, browser.form(f"/price-book-items/edit/{item_id}", {**data, "unit_price": "50"}))
    assert "Item LAB-HR Labour per hour updated" in page
    listed = browser.get("/price-book-items/list/").get_data(as_text=True)
    assert "LAB-HR" in listed and "£50.00" in listed and 'id="export-csv"' in listed
    csv = browser.get("/price-book-items/export.csv").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert csv[0] == "Book,Code,Name,Description,Unit price,Currency,Category,In use"
    assert csv[1] == "Trade,LAB-HR,Labour per hour,,50.00,GBP,labour,yes"
    assert browser.get(f"/price-books/show/{trade}").status_code == 200
    browser.post(f"/price-book-items/delete/{item_id}")
    assert count(app, PriceBookItem) == 0
    browser.post(f"/price-books/delete/{trade}")
    assert count(app, PriceBook) == 1


def test_bad_item_input_shows_the_errors_next_to_the_fields_and_writes_nothing(app, login):
    browser = login("finance")
    bad = {"price_book": str(default_id(app)), "code": "", "name": "<script>alert(1)</script>",
           "unit_price": "-5", "currency": "XYZ", "category": "labour"}
    html = browser.form("/price-book-items/add", bad).get_data(as_text=True)
    assert "Code is required." in html and "is not an ISO 4217 currency code" in html
    assert "<script>alert(1)</script>" not in html
    html = browser.form("/price-book-items/add", {**bad, "code": "A", "currency": "GBP"}).get_data(as_text=True)
    assert "cannot be negative" in html
    assert count(app, PriceBookItem) == 0
    add_item(app, "A", "One", "1.00")
    add_item(app, "=HYPERLINK(\"http://x\")", "+cmd", "1.00")
    csv = browser.get("/price-book-items/export.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in csv and "'+cmd" in csv
    html = browser.form("/price-book-items/add", {**bad, "code": "A", "currency": "GBP", "unit_price": "1"}) \
        .get_data(as_text=True)
    assert "already has an item with the code A" in html and count(app, PriceBookItem) == 2


def test_the_default_book_cannot_be_deleted_from_the_list(app, login):
    browser = login("admin")
    page = landed(browser, browser.post(f"/price-books/delete/{default_id(app)}"))
    assert "cannot be deleted" in page and count(app, PriceBook) == 1


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_others_read_the_items_and_change_nothing(app, login, username):
    item = add_item(app, "LAB-HR", "Labour per hour", "45.00")
    browser = login(username)
    assert "LAB-HR" in browser.get("/price-book-items/list/").get_data(as_text=True)
    assert browser.get(f"/price-book-items/show/{item}").status_code == 200
    for url in ("/price-book-items/add", f"/price-book-items/edit/{item}", "/price-books/add",
                f"/price-books/edit/{default_id(app)}"):
        assert browser.get(url).status_code == 403, url
    browser.post(f"/price-book-items/delete/{item}")
    browser.post(f"/price-books/delete/{default_id(app)}")
    assert count(app, PriceBookItem) == 1 and count(app, PriceBook) == 1


def test_the_search_answers_the_customers_items_priced_in_its_currency(app, login, ada):
    add_item(app, "LAB-HR", "Labour per hour", "45.00")
    add_item(app, "EU-V", "Euro valve", "10.00", currency="EUR")
    with app.app_context():
        fx.create_rate(db.session, f.user("admin"), {"from_currency": "EUR", "to_currency": "GBP", "rate": "0.855",
                                                     "effective_on": "2026-06-01"})
    browser = login("finance")
    r = browser.get(f"/price-books/search?customer_id={ada}&q=lab&on=2026-06-15")
    assert r.status_code == 200
    [match] = r.get_json()
    assert (match["code"], match["unit_price"], match["currency"], match["error"]) == ("LAB-HR", "45.00", "GBP", None)
    [euro] = browser.get(f"/price-books/search?customer_id={ada}&q=VALVE&on=2026-06-15").get_json()
    assert (euro["unit_price"], euro["currency"], euro["category"]) == ("8.55", "GBP", "other")
    [early] = browser.get(f"/price-books/search?customer_id={ada}&q=valve&on=2026-05-01").get_json()
    assert early["unit_price"] is None and early["error"] == "No FX rate from EUR to GBP on or before 2026-05-01."
    assert browser.get(f"/price-books/search?customer_id={ada}&q=valve&on=soon").status_code == 422
    assert browser.get(f"/price-books/search?customer_id={ada}&q=").get_json() == []


def test_the_search_is_scoped_and_needs_a_login(app, login, ada):
    add_item(app, "LAB-HR", "Labour per hour", "45.00")
    url = f"/price-books/search?customer_id={ada}&q=lab"
    assert [m["code"] for m in login("reseller_a").get(url).get_json()] == ["LAB-HR"]
    assert login("reseller_b").get(url).status_code == 404
    assert login("admin").get("/price-books/search?customer_id=99999999&q=lab").status_code == 404
    assert login("admin").get("/price-books/search?customer_id=abc&q=lab").status_code == 404
    assert app.test_client().get(url).status_code in (302, 401)


def test_a_customers_book_is_set_on_its_edit_form_and_shown_on_its_finances_tab(app, login, ada):
    with app.app_context():
        trade = price_books.create_book(db.session, f.user("admin"), {"name": "Trade prices"}).id
    browser = login("admin")  # Finance reads customers; Admin edits them
    form = browser.get(f"/customers/edit/{ada}").get_data(as_text=True)
    assert 'id="price_book"' in form and "Trade prices" in form
    r = browser.form(f"/customers/edit/{ada}", {"customer_type": "private", "first_name": "Ada",
                                                "surname": "Lovelace", "status": "active", "currency": "GBP",
                                                "price_book": str(trade)})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    with app.app_context():
        assert db.session.get(Customer, ada).price_book_id == trade
    tab = browser.get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True)
    assert "Price book: Trade prices" in tab
    # Staff edit the customer; its book is shown to them, not theirs to change.
    staff = login("staff")
    assert "change a customer&#39;s price book." in staff.get(f"/customers/edit/{ada}").get_data(as_text=True)
    r = staff.form(f"/customers/edit/{ada}", {"customer_type": "private", "first_name": "Ada", "surname": "Byron",
                                              "status": "active", "currency": "GBP", "price_book": ""})
    assert r.status_code == 302
    with app.app_context():
        c = db.session.get(Customer, ada)
        assert (c.surname, c.price_book_id) == ("Byron", trade)


def test_the_invoice_form_carries_what_the_picker_needs(app, login, ada):
    html = login("finance").get(f"/invoices/new/{ada}").get_data(as_text=True)
    assert 'data-price-search="/price-books/search"' in html and f'data-customer-id="{ada}"' in html
    assert 'data-date-field="issue_date"' in html and "js/price_picker.js" in html


def test_the_quote_form_carries_what_the_picker_needs(app, login, ada):
    html = login("finance").get(f"/quotes/new/{ada}").get_data(as_text=True)
    assert 'data-price-search="/price-books/search"' in html and "js/price_picker.js" in html


def test_the_credit_note_form_carries_what_the_picker_needs(app, login, ada):
    html = login("finance").get(f"/credit-notes/new/{ada}").get_data(as_text=True)
    assert 'data-price-search="/price-books/search"' in html and "js/price_picker.js" in html
    assert 'data-date-field="issue_date"' in html


def test_a_customers_book_shows_by_name_in_its_changes(app, login, ada):
    with app.app_context():
        trade = price_books.create_book(db.session, f.user("admin"), {"name": "Trade prices"}).id
        from app.services.customers.update import update_customer
        update_customer(db.session, f.user("admin"), ada, {"price_book_id": trade})
    html = unescape(login("admin").get(f"/customers/show/{ada}?tab=changes").get_data(as_text=True))
    assert "Price book" in html and "Trade prices" in html
    log = unescape(login("admin").get("/audit/list/").get_data(as_text=True))
    assert "Added price book" in log
