"""Stored cards (issue 14): added as a processor token (never the number or CVC), one default a
customer, removed but kept, charged once per form key through the fake processor, declined with
nothing written; a card number typed in a payment's reference is refused. The suite runs the ledger
check after each test."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, Customer, Invoice, LedgerEntry, Payment, PaymentMethod, StoredCard, TaxRate
from app.services.billing import cards, invoices, payments
from app.services.billing.card_numbers import holds_card_number, luhn_ok
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from tests import factories

D = Decimal
VISA = "4242 4242 4242 4242"
DECLINING = "4000 0000 0000 0002"
CVC = "737"


def key():
    return str(uuid.uuid4())


def card_data(number=VISA, **more):
    return {"number": number, "exp_month": "12", "exp_year": str(date.today().year + 2), "cvc": CVC,
            "name": "Ada Lovelace", **more}


@pytest.fixture
def processor():
    """A fresh fake processor for each test (its charges counted)."""
    fake = cards.FakeProcessor()
    before, cards._processor = cards._processor, fake
    yield fake
    cards._processor = before


def add(ctx, customer, number=VISA, actor="finance", **more):
    return cards.add_card(ctx, factories.user(actor), customer.id, card_data(number, **more), key())


def count(ctx, model, *where):
    return ctx.scalar(select(func.count()).select_from(model).where(*where))


def test_a_card_is_kept_as_token_brand_last_four_and_expiry_and_the_first_is_the_default(ctx, processor):
    customer = factories.customer()
    card = add(ctx, customer)
    ctx.expire_all()
    card = ctx.get(StoredCard, card.id)
    assert (card.brand, card.last4, card.exp_month, card.name_on_card) == ("Visa", "4242", 12, "Ada Lovelace")
    assert card.is_default and card.label == "Visa \u2022\u2022\u2022\u2022 4242"
    assert card.token.startswith("tok_fake_") and "4242424242424242" not in card.token and "4242" not in card.token
    trail = " ".join(str(e.changes) for e in ctx.scalars(select(AuditEntry)))
    assert "4242" in trail and card.token not in trail and "4242424242424242" not in trail and CVC not in trail


def test_the_default_moves_to_the_card_chosen_and_one_card_at_most_is_the_default(ctx, processor):
    customer = factories.customer()
    first = add(ctx, customer)
    second = add(ctx, customer, "5555 5555 5555 4444")
    assert (ctx.get(StoredCard, first.id).is_default, ctx.get(StoredCard, second.id).is_default) == (True, False)
    third = add(ctx, customer, "3782 822463 10005", make_default="on")
    assert ctx.get(StoredCard, third.id).brand == "Amex"
    cards.set_default(ctx, factories.user("finance"), customer.id, second.id, key())
    ctx.expire_all()
    assert [c.id for c in cards.cards(ctx, factories.user("finance"), customer.id)][0] == second.id
    assert count(ctx, StoredCard, StoredCard.customer_id == customer.id, StoredCard.is_default) == 1


def test_a_removed_card_is_kept_but_no_longer_offered_and_the_default_passes_on(ctx, processor):
    customer = factories.customer()
    first = add(ctx, customer)
    second = add(ctx, customer, "5555 5555 5555 4444")
    cards.remove_card(ctx, factories.user("finance"), customer.id, first.id, key())
    ctx.expire_all()
    assert ctx.get(StoredCard, first.id).removed_at is not None
    offered = cards.cards(ctx, factories.user("finance"), customer.id)
    assert [(c.id, c.is_default) for c in offered] == [(second.id, True)]
    with pytest.raises(NotFound):
        cards.charge_card(ctx, factories.user("finance"), customer.id, first.id, {"amount": "5.00"}, key())


def test_an_approved_charge_records_a_card_payment_and_its_ledger_entry(ctx, processor):
    customer = factories.customer()
    card = add(ctx, customer)
    payment = cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "25.00"}, key())
    ctx.expire_all()
    payment = ctx.get(Payment, payment.id)
    assert (payment.amount, payment.kind, payment.reference) == (D("25.00"), "external", card.label)
    assert ctx.get(PaymentMethod, payment.method_id).name == "Card"
    assert count(ctx, LedgerEntry, LedgerEntry.customer_id == customer.id) == 1
    assert ctx.get(Customer, customer.id).balance == D("-25.00")
    assert len(processor.charges) == 1


def test_a_charge_on_an_invoice_pays_it_and_the_rest_is_credit(ctx, processor):
    customer = factories.customer()
    zero = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    invoice = invoices.charge(ctx, factories.user("admin"), customer.id,
                              {"description": "Visit", "amount": "40.00", "tax_rate_id": zero}, key())
    card = add(ctx, customer)
    payment = cards.charge_card(ctx, factories.user("finance"), customer.id, card.id,
                                {"amount": "50.00", "invoice_id": str(invoice.id)}, key())
    ctx.expire_all()
    assert ctx.get(Invoice, invoice.id).status == "paid"
    assert (ctx.get(Payment, payment.id).unallocated, ctx.get(Customer, customer.id).balance) == (D("10.00"), D("-10.00"))


def test_a_declined_charge_writes_nothing(ctx, processor):
    customer = factories.customer()
    declining = add(ctx, customer, DECLINING)
    for card_id, amount in ((declining.id, "10.00"), (add(ctx, customer).id, "10.13")):
        with pytest.raises(Invalid) as error:
            cards.charge_card(ctx, factories.user("finance"), customer.id, card_id, {"amount": amount}, key())
        assert "declined" in error.value.errors["card_id"][0]
        ctx.rollback()
    assert count(ctx, Payment) == 0 and count(ctx, LedgerEntry) == 0 and processor.charges == []


def test_the_same_key_twice_charges_once_and_records_once(ctx, processor):
    customer = factories.customer()
    card = add(ctx, customer)
    once = key()
    cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "8.00"}, once)
    with pytest.raises(AlreadyDone):
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "8.00"}, once)
    ctx.rollback()
    assert len(processor.charges) == 1 and count(ctx, Payment) == 1


def test_the_processor_answers_a_repeated_idempotency_key_without_charging_again(processor):
    token, _brand, _last4 = processor.tokenize("4242424242424242", 12, 2099, CVC, None)
    first = processor.charge(token, D("5.00"), "GBP", "k-1")
    assert processor.charge(token, D("5.00"), "GBP", "k-1") == first and len(processor.charges) == 1


def test_an_expired_card_is_not_added_nor_charged(ctx, processor):
    customer = factories.customer()
    with pytest.raises(Invalid) as error:
        add(ctx, customer, exp_month="1", exp_year="2020")
    assert "expired" in error.value.errors["exp_year"][0]
    ctx.rollback()
    card = add(ctx, customer, exp_month=str(date.today().month), exp_year=str(date.today().year))
    later = date(date.today().year + 1, 1, 1)
    with pytest.raises(Invalid) as error:
        cards.charge_card(ctx, factories.user("finance"), customer.id, card.id, {"amount": "5.00"}, key(), today=later)
    assert "expired" in error.value.errors["card_id"][0]
    ctx.rollback()
    assert processor.charges == [] and count(ctx, Payment) == 0


def test_a_bad_number_or_cvc_is_refused_without_either_in_the_messages(ctx, processor):
    customer = factories.customer()
    with pytest.raises(Invalid) as error:
        add(ctx, customer, "4242 4242 4242 4241", cvc="12")
    ctx.rollback()
    assert set(error.value.errors) == {"number", "cvc"}
    text = str(error.value) + error.value.messages + repr(error.value.__cause__) + repr(error.value.__context__)
    assert "4242424242424241" not in text and "4242 4242 4242 4241" not in text and "4241" not in text
    assert count(ctx, StoredCard) == 0


def test_a_card_number_in_a_payments_reference_or_notes_is_refused(ctx):
    customer = factories.customer()
    card_method = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Card"))
    for field, text in (("reference", "4242-4242-4242-4242"), ("notes", "paid with card 4111 1111 1111 1111 today")):
        with pytest.raises(Invalid) as error:
            payments.record_external(ctx, factories.user("finance"), customer.id,
                                     {"amount": "5.00", "method_id": card_method, field: text}, key())
        assert error.value.errors[field][0].startswith("Do not type card numbers here")
        ctx.rollback()
    with pytest.raises(Invalid) as error:
        payments.add_credit(ctx, factories.user("finance"), customer.id,
                            {"amount": "5.00", "reason": "Goodwill", "reference": "5555555555554444"}, key())
    assert "reference" in error.value.errors
    ctx.rollback()
    # A long bank reference that fails Luhn, or a short one, is fine.
    payments.record_external(ctx, factories.user("finance"), customer.id,
                             {"amount": "5.00", "method_id": card_method, "reference": "4242 4242 4242 4241"}, key())


def test_card_numbers_in_text_are_spotted_by_length_and_luhn():
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424241")
    assert holds_card_number("card 4242 4242 4242 4242.") and holds_card_number("4000-0000-0000-0002")
    assert not holds_card_number("INV-0042, till 4") and not holds_card_number("12345678")
    assert not holds_card_number("42424242424242424242")  # 20 digits: no card is that long


def test_another_resellers_customer_is_not_found_and_staff_may_not_add_cards(ctx, processor):
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    with pytest.raises(NotFound):
        cards.cards(ctx, factories.user("reseller_a"), theirs.id)
    with pytest.raises(Forbidden):
        add(ctx, theirs, actor="staff")
    with pytest.raises(Forbidden):
        add(ctx, theirs, actor="reseller_b")
