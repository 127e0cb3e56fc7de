"""Money and the customer's own commands: a merge takes the duplicate's money with it, delete is
refused (archive instead), `flask ledger check` says what differs, tax rates are checked."""
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.models import Customer, Invoice, LedgerEntry, Payment, PaymentMethod, TaxRate
from app.services.billing import finances, invoices, payments, tax
from app.services.customers import delete, merge
from app.services.errors import Invalid
from tests import factories

D = Decimal


def key():
    return str(uuid.uuid4())


def charge(ctx, customer, amount):
    zero = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    return invoices.charge(ctx, factories.user("admin"), customer.id,
                           {"description": "Visit", "amount": amount, "tax_rate_id": zero}, key())


def test_a_merge_moves_invoices_payments_credits_and_ledger_and_the_balance_follows(ctx):
    admin = factories.user("admin")
    survivor, duplicate = factories.customer(), factories.customer()
    charge(ctx, survivor, "30.00")
    owed = charge(ctx, duplicate, "50.00")
    cash = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    payments.record_payment(ctx, admin, owed.id, {"amount": "60.00", "method_id": cash}, key())
    merge.merge(ctx, admin, survivor.id, duplicate.id)
    ctx.expire_all()
    kept = ctx.get(Customer, survivor.id)
    assert kept.balance == D("20.00")  # 30 + 50 - 60
    assert ctx.scalar(select(func.count()).select_from(Invoice).where(Invoice.customer_id == survivor.id)) == 2
    assert ctx.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.customer_id != survivor.id)) == 0
    figures = finances.figures(ctx, kept)
    assert (figures.debt, figures.credit) == (D("30.00"), D("10.00"))
    # (the suite's ledger check after the test proves the books agree)


def test_a_customer_with_money_is_not_deleted_and_is_offered_archive(ctx):
    customer = factories.customer()
    charge(ctx, customer, "5.00")
    with pytest.raises(Invalid) as error:
        delete.delete_customer(ctx, factories.user("admin"), customer.id)
    assert "archive it instead" in error.value.messages
    ctx.rollback()
    assert ctx.get(Customer, customer.id) is not None


def test_flask_ledger_check_exits_non_zero_listing_each_difference(app, ctx):
    customer = factories.customer()
    invoice = charge(ctx, customer, "12.00")
    runner = app.test_cli_runner()
    clean = runner.invoke(args=["ledger", "check"])
    assert clean.exit_code == 0 and "agrees" in clean.output
    ctx.execute(update(Customer).where(Customer.id == customer.id).values(balance=D("99.00")))
    ctx.execute(update(Invoice).where(Invoice.id == invoice.id).values(outstanding=D("1.00")))
    ctx.commit()
    found = runner.invoke(args=["ledger", "check"])
    assert found.exit_code == 1
    assert f"customer {customer.id}: balance 99" in found.output and f"invoice {invoice.id}: outstanding 1" in found.output
    ctx.execute(update(Customer).where(Customer.id == customer.id).values(balance=D("12.00")))
    ctx.execute(update(Invoice).where(Invoice.id == invoice.id).values(outstanding=D("12.00")))
    ctx.commit()


@pytest.mark.parametrize("percent, message", [("100.5", "between 0 and 100"), ("-1", "between 0 and 100"),
                                              ("abc", "must be a number"), ("12.00001", "at most 4 decimals")])
def test_a_tax_rate_over_100_negative_or_not_a_number_is_refused(ctx, percent, message):
    with pytest.raises(Invalid) as error:
        tax.create_rate(ctx, factories.user("admin"), {"name": "Odd rate", "percent": percent})
    assert message in error.value.errors["percent"][0]
    ctx.rollback()
    assert ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Odd rate")) is None


def test_one_default_tax_rate(ctx):
    new = tax.create_rate(ctx, factories.user("admin"), {"name": "Special 12.5", "percent": "12.5", "is_default": "y"})
    assert ctx.scalars(select(TaxRate.name).where(TaxRate.is_default.is_(True))).all() == [new.name]


def test_a_payment_method_money_was_recorded_with_is_never_deleted(ctx):
    from app.services.billing import methods
    customer = factories.customer()
    admin = factories.user("admin")
    method = methods.create_method(ctx, admin, {"name": "Voucher", "nominal_code": "4000"})
    payments.record_external(ctx, admin, customer.id, {"amount": "5.00", "method_id": method.id}, key())
    with pytest.raises(Invalid) as error:
        methods.delete_method(ctx, admin, method.id)
    assert "take it out of use" in error.value.messages
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Payment)) == 1
