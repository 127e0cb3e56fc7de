"""A customer's money rules outside billing: its currency is fixed once it has a money record (the
form, the service the API calls, the bulk edit), and its sales tax settings (exempt, a special
rate) are checked where its other fields are."""
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, TaxRate
from app.services.billing import payments
from app.services.customers import bulk
from app.services.customers.update import update_customer
from app.services.errors import Invalid
from tests import factories as f


def with_money(**fields):
    """A customer with a money record: an opening balance (an adjustment, posted to the ledger)."""
    customer = f.customer(**fields)
    payments.adjust_balance(db.session, f.user("admin"), customer.id,
                            {"amount": "12.00", "reason": "Opening balance"}, str(uuid.uuid4()))
    return customer.id


def rate(name):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def test_a_customer_without_money_may_change_its_currency(ctx):
    cid = f.customer(currency="GBP").id
    update_customer(ctx, f.user("admin"), cid, {"currency": "eur"})
    assert ctx.get(Customer, cid).currency == "EUR"


def test_a_customer_with_money_keeps_its_currency_and_is_told_which(ctx):
    cid = with_money(currency="GBP")
    with pytest.raises(Invalid) as error:
        update_customer(ctx, f.user("admin"), cid, {"currency": "EUR", "surname": "Renamed"})
    message = " ".join(error.value.errors["currency"])
    assert "GBP" in message and "EUR" in message
    ctx.rollback()
    customer = ctx.get(Customer, cid)
    assert (customer.currency, customer.balance) == ("GBP", Decimal("12.00"))
    assert customer.surname != "Renamed"  # nothing of the refused change was saved


def test_a_customer_with_money_may_still_save_its_own_currency_and_other_fields(ctx):
    cid = with_money(currency="GBP")
    update_customer(ctx, f.user("admin"), cid, {"currency": "gbp", "surname": "Kept"})
    assert (ctx.get(Customer, cid).currency, ctx.get(Customer, cid).surname) == ("GBP", "Kept")


def test_bulk_edit_of_currency_skips_customers_with_money_naming_their_currency(ctx):
    free = f.customer(currency="GBP").id
    fixed = with_money(currency="GBP")
    same = with_money(currency="EUR")  # already in the new currency: nothing to change
    job = bulk.prepare(ctx, f.user("admin"), "edit", {"currency": "EUR", "creditor_days": "30"},
                       ids=[free, fixed, same])
    ctx.commit()
    job = bulk.run(ctx, job, chunk=2)
    ctx.expire_all()
    assert ctx.get(Customer, free).currency == "EUR" and ctx.get(Customer, free).creditor_days == 30
    kept = ctx.get(Customer, fixed)
    assert (kept.currency, kept.creditor_days) == ("GBP", None)  # left alone altogether
    assert ctx.get(Customer, same).creditor_days == 30
    assert job.result["changed"] == 2
    assert job.result["skipped"] == {bulk.currency_kept("GBP", "EUR"): 1}
    assert "GBP" in bulk.currency_kept("GBP", "EUR") and "EUR" in bulk.currency_kept("GBP", "EUR")


def test_bulk_edit_without_a_currency_still_changes_customers_with_money(ctx):
    fixed = with_money(currency="GBP")
    job = bulk.prepare(ctx, f.user("admin"), "edit", {"creditor_days": "14"}, ids=[fixed])
    ctx.commit()
    bulk.run(ctx, job)
    ctx.expire_all()
    assert ctx.get(Customer, fixed).creditor_days == 14


def test_the_edit_form_refuses_a_currency_change_next_to_the_field(app, login):
    with app.app_context():
        cid = with_money(currency="GBP", surname="Money")
    r = login("admin").form(f"/customers/edit/{cid}", {"customer_type": "private", "surname": "Money",
                                                        "status": "active", "currency": "EUR"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "billed in GBP" in html and "cannot change to EUR" in html
    with app.app_context():
        assert db.session.get(Customer, cid).currency == "GBP"


def test_the_edit_form_sets_the_tax_exemption_and_special_rate_and_the_page_shows_them(app, login):
    with app.app_context():
        cid = f.customer(surname="Taxed").id
        reduced = rate("Reduced rate")
    browser = login("admin")
    r = browser.form(f"/customers/edit/{cid}", {"customer_type": "private", "surname": "Taxed", "status": "active",
                                                "currency": "GBP", "tax_exempt": "y", "tax_rate": str(reduced)})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    with app.app_context():
        customer = db.session.get(Customer, cid)
        assert (customer.tax_exempt, customer.tax_rate_id) == (True, reduced)
    page = browser.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert 'id="tax-exempt">Yes' in page and "Reduced rate" in page
    form = browser.get(f"/customers/edit/{cid}").get_data(as_text=True)
    assert "Exempt from sales tax" in form and "Special tax rate" in form
    r = browser.form(f"/customers/edit/{cid}", {"customer_type": "private", "surname": "Taxed", "status": "active",
                                                "currency": "GBP", "tax_rate": ""})
    assert r.status_code == 302
    with app.app_context():
        customer = db.session.get(Customer, cid)
        assert (customer.tax_exempt, customer.tax_rate_id) == (False, None)


def test_tax_fields_are_checked_with_the_others(ctx):
    cid = f.customer().id
    with pytest.raises(Invalid) as error:
        update_customer(ctx, f.user("admin"), cid, {"tax_rate_id": 987654, "email": "nope"})
    assert set(error.value.errors) == {"tax_rate_id", "email"}
    ctx.rollback()
    update_customer(ctx, f.user("admin"), cid, {"tax_exempt": "true", "tax_rate_id": str(rate("Zero rate"))})
    customer = ctx.get(Customer, cid)
    assert (customer.tax_exempt, customer.tax_rate_id) == (True, rate("Zero rate"))
