"""FX rates through their service: the look-up (customer's own first, latest on or before the date,
inverse, through the base currency, same currency, none, stale), the field rules, copy to a new
date, the CSV upload, and issued invoices keeping the rate they were issued with."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import CustomerFxRate, FxRate, Invoice, TaxRate
from app.services.billing import fx, invoices
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


def add(from_, to, rate, on, actor="admin"):
    return fx.create_rate(db.session, factories.user(actor), {"from_currency": from_, "to_currency": to,
                                                             "rate": rate, "effective_on": on})


def own(customer, from_, to, rate, on):
    return fx.create_customer_rate(db.session, factories.user("admin"), customer.id, {
        "from_currency": from_, "to_currency": to, "rate": rate, "effective_on": on})


def test_the_latest_rate_on_or_before_the_date_is_used(ctx):
    add("USD", "GBP", "0.80", DAY - timedelta(days=10))
    add("USD", "GBP", "0.79", DAY)
    add("USD", "GBP", "0.70", DAY + timedelta(days=1))
    found = fx.rate(ctx, "USD", "GBP", DAY)
    assert (found.rate, found.effective_on, found.source, found.stale) == (D("0.79"), DAY, "global", False)
    assert fx.rate(ctx, "USD", "GBP", DAY - timedelta(days=1)).rate == D("0.80")


def test_a_customers_own_rate_wins_over_the_global_one(ctx):
    customer, other = factories.customer(), factories.customer()
    add("USD", "GBP", "0.80", DAY)
    own(customer, "USD", "GBP", "0.75", DAY - timedelta(days=5))
    assert fx.rate(ctx, "USD", "GBP", DAY, customer.id).rate == D("0.75")
    assert fx.rate(ctx, "USD", "GBP", DAY, customer.id).source == "customer"
    assert fx.rate(ctx, "USD", "GBP", DAY, other.id).rate == D("0.80")
    assert fx.rate(ctx, "USD", "GBP", DAY).rate == D("0.80")


def test_only_the_other_direction_gives_its_inverse_to_ten_places(ctx):
    add("GBP", "USD", "1.27", DAY)
    found = fx.rate(ctx, "USD", "GBP", DAY)
    assert found.rate == D("0.7874015748") and found.source == "global inverse"


def test_a_pair_without_a_rate_goes_through_the_base_currency(ctx):
    assert settings.base_currency == "GBP"
    add("USD", "GBP", "0.80", DAY - timedelta(days=3))
    add("GBP", "EUR", "1.15", DAY)
    found = fx.rate(ctx, "USD", "EUR", DAY)
    assert found.rate == D("0.92") and found.source == "via GBP" and found.effective_on == DAY - timedelta(days=3)


def test_the_same_currency_is_one(ctx):
    assert fx.rate(ctx, "EUR", "EUR", DAY).rate == 1


def test_no_rate_at_all_names_the_pair_and_the_date(ctx):
    add("USD", "GBP", "0.80", DAY + timedelta(days=1))  # after the date: not used
    with pytest.raises(Invalid) as error:
        fx.rate(ctx, "USD", "GBP", DAY)
    assert "USD" in str(error.value) and "GBP" in str(error.value) and "2026-06-15" in str(error.value)


def test_a_rate_older_than_the_stale_days_is_used_and_marked_stale(ctx):
    add("USD", "GBP", "0.80", DAY - timedelta(days=settings.fx_stale_days + 1))
    assert fx.rate(ctx, "USD", "GBP", DAY).stale is True
    assert fx.rate(ctx, "USD", "GBP", DAY - timedelta(days=1)).stale is False


@pytest.mark.parametrize("data, field", [
    ({"rate": "0"}, "rate"), ({"rate": "-1.2"}, "rate"), ({"rate": "abc"}, "rate"),
    ({"rate": "1.12345678901"}, "rate"), ({"to_currency": "USD"}, "to_currency"),
    ({"from_currency": "XYZ"}, "from_currency"), ({"from_currency": ""}, "from_currency"),
    ({"effective_on": "2026-02-30"}, "effective_on"),
])
def test_a_bad_rate_is_refused_with_its_field(ctx, data, field):
    values = {"from_currency": "USD", "to_currency": "GBP", "rate": "0.8", "effective_on": "2026-06-15", **data}
    with pytest.raises(Invalid) as error:
        fx.create_rate(ctx, factories.user("admin"), values)
    assert field in error.value.errors
    assert ctx.scalar(select(func.count()).select_from(FxRate)) == 0


def test_a_second_rate_for_the_same_pair_and_date_is_a_clear_error(ctx):
    first = add("USD", "GBP", "0.80", DAY)
    with pytest.raises(Invalid) as error:
        add("usd", "gbp", "0.81", "2026-06-15")
    assert "already exists" in " ".join(error.value.errors["effective_on"])
    fx.update_rate(ctx, factories.user("admin"), first.id, {"rate": "0.82"})  # itself is no duplicate
    assert ctx.get(FxRate, first.id).rate == D("0.82")


def test_only_who_may_manage_rates_writes_them(ctx):
    for username in ("staff", "readonly", "reseller_a"):
        with pytest.raises(Forbidden):
            add("USD", "GBP", "0.80", DAY, actor=username)
    add("USD", "GBP", "0.80", DAY, actor="finance")


def test_copy_to_a_new_date_reports_a_pair_that_already_has_a_rate_that_day(ctx):
    usd, eur = add("USD", "GBP", "0.80", DAY), add("EUR", "GBP", "0.86", DAY)
    later = DAY + timedelta(days=7)
    add("EUR", "GBP", "0.87", later)
    result = fx.copy_to_date(ctx, factories.user("finance"), [str(usd.id), str(eur.id)], later.isoformat())
    assert [(r.from_currency, r.rate, r.effective_on) for r in result.copied] == [("USD", D("0.80"), later)]
    assert result.existing == ["EUR/GBP"]
    assert fx.rate(ctx, "EUR", "GBP", later).rate == D("0.87")  # not overwritten
    with pytest.raises(Invalid):
        fx.copy_to_date(ctx, factories.user("finance"), [usd.id], "next week")
    with pytest.raises(Forbidden):
        fx.copy_to_date(ctx, factories.user("staff"), [usd.id], later)


def test_an_upload_dry_run_says_what_would_change_and_writes_nothing(ctx):
    add("USD", "GBP", "0.80", DAY)
    add("EUR", "GBP", "0.86", DAY)
    text = ("from,to,rate,date\n"
            "USD,GBP,0.81,2026-06-15\n"
            "EUR,GBP,0.86,2026-06-15\n"
            "JPY,GBP,0.0052,2026-06-15\n"
            "GBP,GBP,1,2026-06-15\n"
            "AUD,GBP,0,2026-06-15\n"
            "CAD,GBP\n")
    result = fx.upload(ctx, factories.user("finance"), text, dry_run=True)
    assert [(r.line, r.from_currency, r.change) for r in result.rows] == [
        (2, "USD", "changed"), (3, "EUR", "unchanged"), (4, "JPY", "new")]
    assert result.rows[0].old_rate == D("0.80")
    assert [n for n, _m in result.errors] == [5, 6, 7]
    assert "different" in result.errors[0][1] and "zero" in result.errors[1][1] and "4 columns" in result.errors[2][1]
    assert ctx.scalar(select(func.count()).select_from(FxRate)) == 2


def test_an_upload_with_a_bad_row_writes_nothing_and_a_good_one_writes_all(ctx):
    add("USD", "GBP", "0.80", DAY)
    bad = "USD,GBP,0.81,2026-06-15\nJPY,GBP,0.0052,2026-06-15\nEUR,GBP,-1,2026-06-15\n"
    with pytest.raises(Invalid) as error:
        fx.upload(ctx, factories.user("finance"), bad, dry_run=False)
    assert error.value.errors["csv"][0].startswith("Line 3:")
    assert fx.rate(ctx, "USD", "GBP", DAY).rate == D("0.80")
    assert ctx.scalar(select(func.count()).select_from(FxRate)) == 1
    good = "USD,GBP,0.81,2026-06-15\nJPY,GBP,0.0052,2026-06-15\n"
    result = fx.upload(ctx, factories.user("finance"), good, dry_run=False)
    assert (result.count("new"), result.count("changed")) == (1, 1)
    assert fx.rate(ctx, "USD", "GBP", DAY).rate == D("0.81")
    assert fx.rate(ctx, "JPY", "GBP", DAY).rate == D("0.0052")


def test_a_line_repeated_in_an_upload_is_an_error(ctx):
    result = fx.upload(ctx, factories.user("admin"), "USD,GBP,0.8,2026-06-15\nUSD,GBP,0.9,2026-06-15\n", True)
    assert result.errors == [(2, "Line 1 already has the USD/GBP rate for 2026-06-15.")]


def _issued(customer, on):
    admin = factories.user("admin")
    zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    draft = invoices.create_draft(db.session, admin, customer.id, {
        "issue_date": on.isoformat(),
        "lines": [{"description": "Work", "quantity": 1, "unit_price": "100", "tax_rate_id": zero}]}, str(uuid.uuid4()))
    return invoices.issue(db.session, admin, draft.id, str(uuid.uuid4()))


def test_an_issued_invoice_keeps_its_rate_when_the_rate_is_edited_or_deleted(ctx):
    customer = factories.customer(currency="USD")
    rate = add("USD", "GBP", "0.80", DAY - timedelta(days=2))
    invoice = _issued(customer, DAY)
    assert (invoice.fx_rate, invoice.fx_rate_on) == (D("0.80"), DAY - timedelta(days=2))
    fx.update_rate(ctx, factories.user("admin"), rate.id, {"rate": "0.90"})
    ctx.expire_all()
    assert ctx.get(Invoice, invoice.id).fx_rate == D("0.80")
    fx.delete_rate(ctx, factories.user("admin"), rate.id)
    ctx.expire_all()
    assert (ctx.get(Invoice, invoice.id).fx_rate, ctx.get(Invoice, invoice.id).fx_rate_on) == \
        (D("0.80"), DAY - timedelta(days=2))


def test_an_invoice_is_issued_without_a_rate_when_none_is_known(ctx):
    customer = factories.customer(currency="USD")
    invoice = _issued(customer, DAY)
    assert invoice.status == "issued" and invoice.fx_rate is None and invoice.fx_rate_on is None


def test_an_invoice_uses_its_customers_own_rate(ctx):
    customer = factories.customer(currency="EUR")
    add("EUR", "GBP", "0.86", DAY)
    own(customer, "EUR", "GBP", "0.85", DAY)
    assert _issued(customer, DAY).fx_rate == D("0.85")


def test_a_customers_rate_is_reached_through_the_users_scope(ctx, resellers):
    customer = factories.customer(reseller_id=resellers["Reseller A"])
    row = own(customer, "USD", "GBP", "0.8", DAY)
    assert fx.get_customer_rate(ctx, factories.user("reseller_a"), row.id).id == row.id
    with pytest.raises(NotFound):
        fx.get_customer_rate(ctx, factories.user("reseller_b"), row.id)
    with pytest.raises(Forbidden):
        fx.delete_customer_rate(ctx, factories.user("reseller_a"), row.id)
