"""A card charge is written as pending before the processor is asked (issue 14): a process that dies
between the processor's approval and the payment's commit leaves a pending charge, which `settle`
records once from the processor's own answer for the same key; never charged twice. The suite runs
the ledger check after each test."""
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.models import CardCharge, Customer, Invoice, LedgerEntry, Payment, PaymentMethod, TaxRate
from app.services.billing import cards, invoices, payments
from app.services.errors import Invalid, NotFound
from tests import factories

D = Decimal


def key():
    return str(uuid.uuid4())


@pytest.fixture
def processor():
    fake = cards.FakeProcessor()
    before, cards._processor = cards._processor, fake
    yield fake
    cards._processor = before


def add_card(ctx, customer, number="4242 4242 4242 4242"):
    return cards.add_card(ctx, factories.user("finance"), customer.id,
                          {"number": number, "exp_month": "12", "exp_year": str(date.today().year + 2), "cvc": "737"},
                          key())


def count(ctx, model, *where):
    return ctx.scalar(select(func.count()).select_from(model).where(*where))


class Died(BaseException):
    """The process dying (not an Exception: nothing catches it on the way out)."""


@pytest.fixture
def dies_after_the_processor(monkeypatch):
    """The payment is never recorded: the process stops once the processor has answered."""
    def die(*args, **kwargs):
        raise Died()
    monkeypatch.setattr(payments, "record_external", die)
    monkeypatch.setattr(payments, "record_payment", die)
    return monkeypatch


def age(ctx, charge_id, minutes=6):
    ctx.execute(update(CardCharge).where(CardCharge.id == charge_id)
                .values(created_at=datetime.now(timezone.utc) - timedelta(minutes=minutes)))
    ctx.commit()


def test_a_charge_is_kept_as_recorded_with_its_payment_and_processor_reference(ctx, processor):
    customer = factories.customer()
    card = add_card(ctx, customer)
    payment = cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "12.00"}, key())
    charge = ctx.scalar(select(CardCharge))
    assert (charge.status, charge.payment_id, charge.amount) == ("recorded", payment.id, D("12.00"))
    assert charge.processor_reference.startswith("ch_fake_") and charge.settled_at is not None


def test_a_declined_charge_is_kept_as_declined_and_nothing_is_recorded(ctx, processor):
    customer = factories.customer()
    card = add_card(ctx, customer)
    with pytest.raises(Invalid):
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "10.13"}, key())
    ctx.rollback()
    charge = ctx.scalar(select(CardCharge))
    assert (charge.status, charge.decline_reason) == ("declined", "insufficient funds")
    assert count(ctx, Payment) == 0 and count(ctx, LedgerEntry) == 0


def test_a_process_that_dies_after_the_approval_leaves_a_pending_charge_settled_once(ctx, processor,
                                                                                      dies_after_the_processor):
    customer = factories.customer()
    card = add_card(ctx, customer)
    finance = factories.user("finance")
    with pytest.raises(Died):
        cards.charge_card(ctx, finance, customer.id, card.id, {"amount": "30.00"}, key())
    ctx.rollback()
    assert len(processor.charges) == 1 and count(ctx, Payment) == 0
    [pending] = cards.pending_charges(ctx, finance, customer.id)
    assert pending.status == "pending"

    dies_after_the_processor.undo()  # the app is back
    charge = cards.settle(ctx, finance, customer.id, pending.id)
    assert charge.status == "recorded" and charge.payment_id is not None
    assert cards.settle(ctx, finance, customer.id, pending.id).status == "recorded"  # twice: once
    ctx.expire_all()
    assert count(ctx, Payment) == 1 and len(processor.charges) == 1
    assert ctx.get(Customer, customer.id).balance == D("-30.00")
    assert cards.pending_charges(ctx, finance, customer.id) == []


def test_a_pending_charge_on_an_invoice_pays_the_invoice_when_settled(ctx, processor, dies_after_the_processor):
    customer = factories.customer()
    zero = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    invoice = invoices.charge(ctx, factories.user("admin"), customer.id,
                              {"description": "Visit", "amount": "40.00", "tax_rate_id": zero}, key())
    card = add_card(ctx, customer)
    finance = factories.user("finance")
    with pytest.raises(Died):
        cards.charge_card(ctx, finance, customer.id, card.id, {"amount": "40.00", "invoice_id": str(invoice.id)}, key())
    ctx.rollback()
    dies_after_the_processor.undo()
    [pending] = cards.pending_charges(ctx, finance, customer.id)
    cards.settle(ctx, finance, customer.id, pending.id)
    ctx.expire_all()
    assert ctx.get(Invoice, invoice.id).status == "paid"


def test_a_charge_the_processor_never_received_is_abandoned_and_never_charged_later(ctx, processor, monkeypatch):
    customer = factories.customer()
    card = add_card(ctx, customer)
    finance = factories.user("finance")

    def dies_before_asking(*args, **kwargs):
        raise Died()
    monkeypatch.setattr(processor, "charge", dies_before_asking)
    with pytest.raises(Died):
        cards.charge_card(ctx, finance, customer.id, card.id, {"amount": "9.00"}, key())
    ctx.rollback()
    monkeypatch.undo()
    [pending] = cards.pending_charges(ctx, finance, customer.id)
    assert cards.settle(ctx, finance, customer.id, pending.id).status == "pending"  # may still be on its way
    age(ctx, pending.id)
    assert cards.settle(ctx, finance, customer.id, pending.id).status == "abandoned"
    assert processor.charges == [] and count(ctx, Payment) == 0


def test_the_periodic_run_settles_charges_pending_for_five_minutes_only(ctx, processor, dies_after_the_processor):
    customer = factories.customer()
    card = add_card(ctx, customer)
    finance = factories.user("finance")
    for amount in ("5.00", "6.00"):
        with pytest.raises(Died):
            cards.charge_card(ctx, finance, customer.id, card.id, {"amount": amount}, key())
        ctx.rollback()
    dies_after_the_processor.undo()
    old = datetime.now(timezone.utc) - timedelta(minutes=6)
    ctx.execute(update(CardCharge).where(CardCharge.amount == D("5.00")).values(created_at=old))
    ctx.commit()
    assert cards.settle_all_pending(ctx) == 1
    assert [c.amount for c in cards.pending_charges(ctx, finance, customer.id)] == [D("6.00")]
    assert count(ctx, Payment) == 1


def test_a_key_used_by_a_charge_is_refused_before_the_processor_is_asked(ctx, processor, dies_after_the_processor):
    customer = factories.customer()
    card = add_card(ctx, customer)
    once = key()
    with pytest.raises(Died):
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "7.00"}, once)
    ctx.rollback()
    dies_after_the_processor.undo()
    from app.services.errors import AlreadyDone
    with pytest.raises(AlreadyDone):
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "7.00"}, once)
    assert len(processor.charges) == 1


def test_settling_is_scoped_and_needs_the_money_permission(ctx, processor, dies_after_the_processor):
    customer = factories.customer(reseller_id=factories.reseller_id("Reseller A"))
    card = add_card(ctx, customer)
    with pytest.raises(Died):
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "7.00"}, key())
    ctx.rollback()
    dies_after_the_processor.undo()
    charge_id = ctx.scalar(select(CardCharge.id))
    other = factories.customer()
    with pytest.raises(NotFound):
        cards.settle(ctx, factories.user("finance"), other.id, charge_id)
    from app.services.errors import Forbidden
    for user in ("staff", "reseller_a", "reseller_b"):
        with pytest.raises(Forbidden):
            cards.settle(ctx, factories.user(user), customer.id, charge_id)
    with pytest.raises(NotFound):
        cards.settle(ctx, factories.user("finance"), customer.id, charge_id + 1000)


def test_an_approved_charge_is_recorded_even_if_the_card_method_was_retired_meanwhile(ctx, processor,
                                                                                      dies_after_the_processor):
    customer = factories.customer()
    card = add_card(ctx, customer)
    finance = factories.user("finance")
    with pytest.raises(Died):
        cards.charge_card(ctx, finance, customer.id, card.id, {"amount": "5.00"}, key())
    ctx.rollback()
    dies_after_the_processor.undo()
    ctx.execute(update(PaymentMethod).where(PaymentMethod.name == "Card").values(active=False))
    ctx.commit()
    try:
        [pending] = cards.pending_charges(ctx, finance, customer.id)
        charge = cards.settle(ctx, finance, customer.id, pending.id)
        assert charge.status == "recorded" and ctx.get(Payment, charge.payment_id).amount == D("5.00")
    finally:
        ctx.rollback()
        ctx.execute(update(PaymentMethod).where(PaymentMethod.name == "Card").values(active=True))
        ctx.commit()


def test_a_charge_whose_payment_fails_stays_pending_never_recorded_without_its_payment(ctx, processor, monkeypatch):
    customer = factories.customer()
    card = add_card(ctx, customer)
    finance = factories.user("finance")

    def refuses(*args, **kwargs):
        raise Invalid({"method_id": "Pick a payment method from the list."})
    monkeypatch.setattr(payments, "record_external", refuses)
    with pytest.raises(Invalid):
        cards.charge_card(ctx, finance, customer.id, card.id, {"amount": "5.00"}, key())
    ctx.rollback()
    [pending] = cards.pending_charges(ctx, finance, customer.id)
    assert cards.settle(ctx, finance, customer.id, pending.id).status == "pending"
    ctx.expire_all()
    assert ctx.get(CardCharge, pending.id).status == "pending" and count(ctx, Payment) == 0
    monkeypatch.undo()
    assert cards.settle(ctx, finance, customer.id, pending.id).status == "recorded" and count(ctx, Payment) == 1


def test_the_periodic_run_goes_on_past_a_charge_its_user_may_no_longer_settle(ctx, processor, dies_after_the_processor):
    from app.models import User
    customer = factories.customer()
    card = add_card(ctx, customer)
    for user in ("admin", "finance"):
        with pytest.raises(Died):
            cards.charge_card(ctx, factories.user(user), customer.id, card.id, {"amount": "5.00"}, key())
        ctx.rollback()
    dies_after_the_processor.undo()
    first, second = (c.id for c in cards.pending_charges(ctx, factories.user("admin"), customer.id))
    staff = factories.user("staff")
    ctx.execute(update(CardCharge).where(CardCharge.id == first).values(created_by_id=staff.id))
    ctx.commit()
    age(ctx, first)
    age(ctx, second)
    assert cards.settle_all_pending(ctx) == 1
    assert ctx.get(CardCharge, first).status == "pending" and ctx.get(CardCharge, second).status == "recorded"


def test_a_merge_moves_the_duplicates_cards_and_charges_and_keeps_one_default(ctx, processor,
                                                                              dies_after_the_processor):
    from app.services.customers.merge import merge
    survivor, duplicate = factories.customer(), factories.customer()
    add_card(ctx, survivor)
    card = add_card(ctx, duplicate)
    with pytest.raises(Died):
        cards.charge_card(ctx, factories.user("finance"), duplicate.id, card.id, {"amount": "5.00"}, key())
    ctx.rollback()
    dies_after_the_processor.undo()
    merge(ctx, factories.user("admin"), survivor.id, duplicate.id)
    [pending] = cards.pending_charges(ctx, factories.user("finance"), survivor.id)
    assert [c.is_default for c in cards.cards(ctx, factories.user("finance"), survivor.id)].count(True) == 1
    assert cards.settle(ctx, factories.user("finance"), survivor.id, pending.id).status == "recorded"
    assert ctx.get(Customer, survivor.id).balance == D("-5.00")


def test_a_customer_with_a_card_charge_keeps_its_currency(ctx, processor, dies_after_the_processor):
    from app.services.customers.update import update_customer
    customer = factories.customer()
    card = add_card(ctx, customer)
    with pytest.raises(Died):
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "5.00"}, key())
    ctx.rollback()
    with pytest.raises(Invalid) as error:
        update_customer(ctx, factories.user("admin"), customer.id, {"currency": "EUR"})
    assert "currency" in error.value.errors
