"""Cases a review of the money code found: each was wrong once, and stays right."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.models import AuditEntry, Customer, Invoice, Payment, PaymentMethod, TaxRate
from app.services.billing import invoices, ledger, payments, tax
from app.services.customers import merge
from app.services.customers.update import update_customer
from app.services.errors import Forbidden, Invalid
from tests import factories

D = Decimal


def key():
    return str(uuid.uuid4())


def rate(ctx, name):
    return ctx.scalar(select(TaxRate.id).where(TaxRate.name == name))


def cash(ctx):
    return ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def charge(ctx, customer, amount, actor="admin"):
    return invoices.charge(ctx, factories.user(actor), customer.id,
                           {"description": "Visit", "amount": amount, "tax_rate_id": rate(ctx, "Zero rate")}, key())


def test_a_credit_ticked_twice_is_applied_once(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    first, second = charge(ctx, customer, "60.00"), charge(ctx, customer, "80.00")
    credit = payments.record_external(ctx, admin, customer.id, {"amount": "100.00", "method_id": cash(ctx)}, key())
    used, totals = payments.apply_to_oldest(ctx, admin, [credit.id, credit.id], key())
    assert used == 1 and totals == {"GBP": D("100.00")}
    ctx.expire_all()
    assert (ctx.get(Invoice, first.id).outstanding, ctx.get(Invoice, second.id).outstanding) == (0, D("40.00"))
    assert ctx.get(Payment, credit.id).unallocated == 0


def test_issuing_checks_the_total_the_lines_come_to_at_todays_rates(ctx):
    customer = factories.customer(tax_exempt=True)
    admin = factories.user("admin")
    draft = invoices.create_draft(ctx, admin, customer.id, {"lines": [
        {"description": "Work", "quantity": 1, "unit_price": "100.00", "tax_rate_id": rate(ctx, "Zero rate")},
        {"description": "Discount", "quantity": 1, "unit_price": "-99.00", "tax_rate_id": rate(ctx, "Standard rate")}]},
        key())
    assert draft.total == D("1.00")
    ctx.execute(update(Customer).where(Customer.id == customer.id).values(tax_exempt=False))
    ctx.commit()
    with pytest.raises(Invalid) as error:  # 100 - 99 - 19.80 tax on the discount: below zero now
        invoices.issue(ctx, admin, draft.id, key())
    assert "more than zero" in error.value.messages
    ctx.rollback()
    assert ctx.get(Invoice, draft.id).status == "draft"


def test_a_line_too_large_for_the_money_columns_is_an_error_next_to_it(ctx):
    customer = factories.customer()
    with pytest.raises(Invalid) as error:
        invoices.create_draft(ctx, factories.user("admin"), customer.id, {"lines": [
            {"description": "Big", "quantity": 2, "unit_price": "999999999999", "tax_rate_id": rate(ctx, "Zero rate")}]},
            key())
    assert "lines.0.quantity" in error.value.errors
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Invoice)) == 0


def test_an_issue_date_whose_due_date_falls_past_the_calendar_is_an_error(ctx):
    customer = factories.customer(creditor_days=7)
    with pytest.raises(Invalid) as error:
        invoices.create_draft(ctx, factories.user("admin"), customer.id, {"issue_date": "9999-12-30", "lines": []},
                              key())
    assert "9999" in error.value.errors["issue_date"][0]


def test_a_first_money_record_racing_a_change_of_currency_records_nothing(ctx, monkeypatch):
    customer = factories.customer(currency="GBP")
    original = ledger.lock

    def changed_meanwhile(session, customer_id):  # another user's change committed just before the lock
        session.execute(update(Customer).where(Customer.id == customer_id).values(currency="JPY"))
        return original(session, customer_id)
    monkeypatch.setattr(ledger, "lock", changed_meanwhile)
    with pytest.raises(Invalid) as error:
        payments.add_credit(ctx, factories.user("admin"), customer.id, {"amount": "10.50", "reason": "Goodwill"}, key())
    assert "from GBP to JPY" in error.value.errors["currency"][0]
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Payment)) == 0


def test_only_who_posts_money_changes_a_customers_sales_tax(ctx):
    customer = factories.customer()
    with pytest.raises(Invalid) as error:
        update_customer(ctx, factories.user("staff"), customer.id, {"tax_exempt": "y"})
    assert "tax_exempt" in error.value.errors
    ctx.rollback()
    update_customer(ctx, factories.user("staff"), customer.id, {"phone": "020 7946 0018"})  # the rest, as before
    assert update_customer(ctx, factories.user("finance"), customer.id, {"tax_exempt": "y"}).tax_exempt is True


def test_deleting_a_special_rate_takes_it_off_its_customers(ctx):
    admin = factories.user("admin")
    special = tax.create_rate(ctx, admin, {"name": "Special 8", "percent": "8"})
    customer = factories.customer()
    update_customer(ctx, admin, customer.id, {"tax_rate_id": special.id})
    tax.delete_rate(ctx, admin, special.id)
    ctx.expire_all()
    assert ctx.get(Customer, customer.id).tax_rate_id is None


def test_a_void_gives_the_payment_back_as_credit_in_the_changes(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    invoice = charge(ctx, customer, "50.00")
    payment = payments.record_payment(ctx, admin, invoice.id, {"amount": "20.00", "method_id": cash(ctx)}, key())
    invoices.void(ctx, admin, invoice.id, "Wrong customer", key())
    changes = [e.changes for e in ctx.scalars(select(AuditEntry).where(
        AuditEntry.entity == "payment", AuditEntry.entity_id == payment.id, AuditEntry.action == "update"))]
    assert any(c.get("is_credit") == [False, True] and Decimal(c["unallocated"][1]) == 20 for c in changes), changes


def test_merging_a_duplicate_with_money_is_posting_money(app, ctx):
    from tests.roles import role_user
    survivor, duplicate = factories.customer(), factories.customer()
    charge(ctx, duplicate, "5.00")
    with role_user(app, ctx, "Merger", like="Staff", grants=[("can_merge", "CustomerView")]) as clerk:
        with pytest.raises(Forbidden):
            merge.merge(ctx, clerk, survivor.id, duplicate.id)
        ctx.rollback()
    assert merge.merge(ctx, factories.user("admin"), survivor.id, duplicate.id).id == survivor.id


def test_a_payment_method_out_of_use_is_not_taken(ctx):
    customer = factories.customer()
    ctx.execute(update(PaymentMethod).where(PaymentMethod.name == "Cheque").values(active=False))
    ctx.commit()
    cheque = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cheque"))
    try:
        with pytest.raises(Invalid) as error:
            payments.record_external(ctx, factories.user("admin"), customer.id,
                                     {"amount": "5.00", "method_id": cheque}, key())
        assert "method_id" in error.value.errors
    finally:
        ctx.rollback()
        ctx.execute(update(PaymentMethod).where(PaymentMethod.name == "Cheque").values(active=True))
        ctx.commit()


def test_posting_without_the_lock_is_refused_whatever_python_runs_with(ctx):
    customer = factories.customer()
    with pytest.raises(RuntimeError):
        ledger.post(ctx, ctx.get(Customer, customer.id), D("1.00"), "adjustment", ctx.get(Customer, customer.id),
                    date.today())
    ctx.rollback()
