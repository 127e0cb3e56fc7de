"""Price books through their service: the search (code prefix, name contains, case and script
blind, the customer's own book or the default), prices converted to the customer's currency at the
document's date (the dated rate, the customer's own rate first, the inverse, through the base
currency) and rounded once (JPY 0 decimals, BHD 3), no rate (an error naming the pair and the date),
a stale rate (a warning), one default book, bad input, permissions and scope."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import AuditEntry, CustomerFxRate, FxRate, PriceBook, PriceBookItem, TaxRate
from app.services.billing import fx, price_books
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.settings import settings
from tests import factories

D = Decimal
DAY = date(2026, 6, 15)


@pytest.fixture(autouse=True)
def no_rates(app):
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(delete(CustomerFxRate))
        db.session.execute(delete(FxRate))
        db.session.commit()


def admin():
    return factories.user("admin")


def default():
    return price_books.default_book(db.session)


def item(code, name, price, currency="GBP", book=None, **more):
    data = {"price_book_id": (book or default()).id, "code": code, "name": name, "unit_price": price,
            "currency": currency, **more}
    return price_books.create_item(db.session, admin(), data)


def rate(from_, to, value, on):
    fx.create_rate(db.session, admin(), {"from_currency": from_, "to_currency": to, "rate": value, "effective_on": on})


def find(customer, text, on=DAY, actor="admin"):
    return price_books.search(db.session, factories.user(actor), customer.id, text, on)


def test_items_are_found_by_the_start_of_their_code_and_anywhere_in_their_name(ctx):
    item("LAB-HR", "Labour per hour", "45.00")
    item("PRT-VAL", "Radiator valve", "12.50")
    item("XLAB", "Call-out", "60.00")
    customer = factories.customer()
    assert [m.code for m in find(customer, "lab")] == ["LAB-HR"]  # a code's start, not its middle
    assert [m.code for m in find(customer, "VALVE")] == ["PRT-VAL"]
    assert [m.code for m in find(customer, "per ho")] == ["LAB-HR"]
    assert find(customer, "") == [] and find(customer, "zzz") == []


def test_a_code_match_comes_before_a_name_match_and_inactive_items_are_left_out(ctx):
    item("BOIL", "Service", "80.00")
    item("SRV", "Boiler service", "90.00")
    item("BOIL-OLD", "Old boiler", "10.00", active=False)
    assert [m.code for m in find(factories.customer(), "boil")] == ["BOIL", "SRV"]


def test_the_search_is_blind_to_case_in_any_script_and_to_like_wildcards(ctx):
    item("ÉCR-1", "Écrou Straße", "1.00")
    item("P%1", "Percent_sign", "2.00")
    customer = factories.customer()
    assert [m.code for m in find(customer, "écr")] == ["ÉCR-1"]
    assert [m.code for m in find(customer, "straße")] == ["ÉCR-1"]
    assert [m.code for m in find(customer, "p%")] == ["P%1"]
    assert find(customer, "%") == []  # a wildcard is a character like any other
    assert [m.code for m in find(customer, "t_s")] == ["P%1"]
    assert find(customer, "t_t") == []


def test_a_customer_with_a_book_of_its_own_finds_that_books_items_others_the_default(ctx):
    trade = price_books.create_book(db.session, admin(), {"name": "Trade"})
    item("LAB", "Labour", "45.00")
    item("LAB", "Labour (trade)", "40.00", book=trade)
    own, plain = factories.customer(price_book_id=trade.id), factories.customer()
    assert [(m.name, m.unit_price) for m in find(own, "lab")] == [("Labour (trade)", D("40.00"))]
    assert [(m.name, m.unit_price) for m in find(plain, "lab")] == [("Labour", D("45.00"))]
    assert price_books.book_for(ctx, own).id == trade.id
    assert price_books.book_for(ctx, plain).id == default().id
    price_books.update_book(db.session, admin(), trade.id, {"active": False})  # a book out of use
    assert price_books.book_for(ctx, own).id == default().id


def test_a_price_in_another_currency_is_converted_at_the_documents_date_and_rounded_once(ctx):
    item("EUR-1", "Imported part", "10.005", currency="BHD")
    item("E", "Euro part", "19.99", currency="EUR")
    rate("EUR", "GBP", "0.80", DAY - timedelta(days=10))
    rate("EUR", "GBP", "0.85", DAY)
    rate("EUR", "GBP", "0.90", DAY + timedelta(days=1))
    customer = factories.customer()
    [match] = find(customer, "euro")
    assert (match.unit_price, match.currency, match.item_price, match.item_currency) == (
        D("16.99"), "GBP", D("19.99"), "EUR")  # 19.99 x 0.85 = 16.9915
    assert find(customer, "euro", DAY - timedelta(days=1))[0].unit_price == D("15.99")  # 15.992
    assert match.warning is None and match.error is None


def test_a_customers_own_rate_wins(ctx):
    item("E", "Euro part", "10.00", currency="EUR")
    rate("EUR", "GBP", "0.85", DAY)
    customer, other = factories.customer(), factories.customer()
    fx.create_customer_rate(db.session, admin(), customer.id, {"from_currency": "EUR", "to_currency": "GBP",
                                                               "rate": "0.5", "effective_on": DAY})
    assert find(customer, "E")[0].unit_price == D("5.00")
    assert find(other, "E")[0].unit_price == D("8.50")


def test_only_the_inverse_rate_or_a_way_through_the_base_currency_still_prices_the_item(ctx):
    item("U", "Dollar part", "10.00", currency="USD")
    rate("GBP", "USD", "1.25", DAY)  # only GBP -> USD: USD -> GBP is its inverse, 0.8
    assert find(factories.customer(), "U")[0].unit_price == D("8.00")
    rate("GBP", "JPY", "200", DAY)  # USD -> GBP -> JPY: 0.8 x 200 = 160 yen a dollar
    assert settings.base_currency == "GBP"
    assert find(factories.customer(currency="JPY"), "U")[0].unit_price == D("1600")


def test_yen_round_to_no_decimals_and_dinars_to_three(ctx):
    item("G", "Gasket", "3.33")
    rate("GBP", "JPY", "187.65", DAY)
    rate("GBP", "BHD", "0.47777", DAY)
    yen = find(factories.customer(currency="JPY"), "gask")[0]
    dinar = find(factories.customer(currency="BHD"), "gask")[0]
    assert (yen.unit_price, yen.currency) == (D("625"), "JPY")  # 624.8745
    assert (dinar.unit_price, dinar.currency) == (D("1.591"), "BHD")  # 1.5909741
    assert item("Y", "Yen part", "1000", currency="JPY").unit_price == D("1000")


def test_no_rate_gives_the_item_with_an_error_naming_the_pair_and_the_date(ctx):
    item("U", "Dollar part", "10.00", currency="USD")
    [match] = find(factories.customer(), "dollar")
    assert match.unit_price is None
    assert match.error == "No FX rate from USD to GBP on or before 2026-06-15."


def test_a_stale_rate_prices_the_item_with_a_warning(ctx):
    item("U", "Dollar part", "10.00", currency="USD")
    old = DAY - timedelta(days=settings.fx_stale_days + 1)
    rate("USD", "GBP", "0.8", old)
    [match] = find(factories.customer(), "dollar")
    assert match.unit_price == D("8.00")
    assert old.isoformat() in match.warning and "out of date" in match.warning


def test_there_is_always_exactly_one_default_book(ctx):
    first = default()
    second = price_books.create_book(db.session, admin(), {"name": "Second", "is_default": True})
    assert default().id == second.id
    assert ctx.scalar(select(func.count()).select_from(PriceBook).where(PriceBook.is_default.is_(True))) == 1
    with pytest.raises(Invalid) as e:
        price_books.update_book(db.session, admin(), second.id, {"is_default": False})
    assert "is_default" in e.value.errors
    with pytest.raises(Invalid):
        price_books.delete_book(db.session, admin(), second.id)
    with pytest.raises(Invalid) as e:
        price_books.update_book(db.session, admin(), second.id, {"active": False})
    assert "active" in e.value.errors
    price_books.update_book(db.session, admin(), first.id, {"is_default": True})
    assert default().id == first.id
    assert ctx.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "price_book")).all()


def test_deleting_a_book_sends_its_customers_back_to_the_default_and_removes_its_items(ctx):
    trade = price_books.create_book(db.session, admin(), {"name": "Trade"})
    item("LAB", "Labour", "45.00", book=trade)
    customer = factories.customer(price_book_id=trade.id)
    price_books.delete_book(db.session, admin(), trade.id)
    ctx.expire_all()
    assert customer.price_book_id is None
    assert ctx.scalar(select(func.count()).select_from(PriceBookItem)) == 0


@pytest.mark.parametrize("data, field", [
    ({"code": ""}, "code"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 161}, "name"),
    ({"code": "x" * 41}, "code"),
    ({"unit_price": "-1"}, "unit_price"),
    ({"unit_price": "abc"}, "unit_price"),
    ({"unit_price": "1e20"}, "unit_price"),
    ({"unit_price": "1.234"}, "unit_price"),  # GBP has two decimals
    ({"unit_price": "NaN"}, "unit_price"),
    ({"currency": "XYZ"}, "currency"),
    ({"currency": ""}, "currency"),
    ({"category": "food"}, "category"),
    ({"tax_rate_id": "999999"}, "tax_rate_id"),
    ({"price_book_id": "999999"}, "price_book_id"),
    ({"price_book_id": "99999999999999999999"}, "price_book_id"),
])
def test_bad_item_input_is_refused_with_its_field_and_nothing_written(ctx, data, field):
    good = {"price_book_id": default().id, "code": "A", "name": "A thing", "unit_price": "1.00", "currency": "GBP"}
    with pytest.raises(Invalid) as e:
        price_books.create_item(db.session, admin(), {**good, **data})
    assert field in e.value.errors
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(PriceBookItem)) == 0


def test_a_code_once_in_a_book_but_again_in_another(ctx):
    trade = price_books.create_book(db.session, admin(), {"name": "Trade"})
    item("A", "One", "1.00")
    with pytest.raises(Invalid) as e:
        item("A", "Two", "1.00")
    assert "code" in e.value.errors
    ctx.rollback()
    assert item("A", "Two", "1.00", book=trade).code == "A"


def test_markup_and_formulas_are_kept_as_text(ctx):
    kept = item("=HYPERLINK(\"x\")", "<script>alert(1)</script>", "1.00", description="=1+2")
    assert (kept.code, kept.name, kept.description) == ("=HYPERLINK(\"x\")", "<script>alert(1)</script>", "=1+2")


def test_a_duplicate_book_name_is_a_field_error(ctx):
    with pytest.raises(Invalid) as e:
        price_books.create_book(db.session, admin(), {"name": default().name})
    assert "name" in e.value.errors
    with pytest.raises(Invalid) as e:
        price_books.create_book(db.session, admin(), {"name": ""})
    assert "name" in e.value.errors


def test_an_item_keeps_its_tax_rate_and_category(ctx):
    reduced = ctx.scalar(select(TaxRate).where(TaxRate.name == "Reduced rate"))
    item("P", "Part", "1.00", tax_rate_id=reduced.id, category="parts")
    [match] = find(factories.customer(), "part")
    assert (match.tax_rate_id, match.category) == (reduced.id, "parts")


def test_only_finance_and_admin_keep_books_and_items(ctx):
    for username in ("staff", "readonly", "reseller_a"):
        with pytest.raises(Forbidden):
            price_books.create_book(db.session, factories.user(username), {"name": "Mine"})
        with pytest.raises(Forbidden):
            price_books.create_item(db.session, factories.user(username), {"code": "A"})
    assert price_books.create_book(db.session, factories.user("finance"), {"name": "Finance's"}).id


def test_the_search_reaches_only_a_customer_in_the_users_scope(ctx, resellers):
    item("LAB", "Labour", "45.00")
    customer = factories.customer(reseller_id=resellers["Reseller A"])
    assert [m.code for m in find(customer, "lab", actor="reseller_a")] == ["LAB"]
    assert [m.code for m in find(customer, "lab", actor="staff")] == ["LAB"]
    with pytest.raises(NotFound):
        find(customer, "lab", actor="reseller_b")
    with pytest.raises(NotFound):
        price_books.search(db.session, admin(), "999999999", "lab", DAY)


def test_only_who_may_post_money_sets_a_customers_book(ctx):
    from app.services.customers.update import update_customer
    trade = price_books.create_book(db.session, admin(), {"name": "Trade"})
    customer = factories.customer()
    with pytest.raises(Invalid) as e:
        update_customer(db.session, factories.user("staff"), customer.id, {"price_book_id": trade.id})
    assert "price_book_id" in e.value.errors
    ctx.rollback()
    assert update_customer(db.session, factories.user("finance"), customer.id,
                           {"price_book_id": str(trade.id)}).price_book_id == trade.id
    with pytest.raises(Invalid):
        update_customer(db.session, factories.user("finance"), customer.id, {"price_book_id": "424242"})


def test_the_demo_data_fills_the_default_book_once_with_an_item_in_another_currency(ctx):
    from app.services import demo_data
    demo_data.generate(ctx, 2, resellers=1, tags=1, with_money=False)
    demo_data.generate(ctx, 1, resellers=1, tags=1, with_money=False)
    items = ctx.scalars(select(PriceBookItem).where(PriceBookItem.price_book_id == default().id)).all()
    assert len(items) == 13 and {i.currency for i in items} == {"GBP", "EUR"}
    customer = factories.customer()
    [match] = price_books.search(ctx, admin(), customer.id, "imported", date.today())
    assert match.error is None and match.unit_price == D("32.68")  # 38.00 EUR x 0.86
