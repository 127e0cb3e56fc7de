"""Stored cards: a customer's cards kept as processor tokens, and charging them.

A card number and its CVC go to the card processor once, when the card is added, and are then
forgotten: only the processor's token, the brand, the last four digits, the expiry and the name on
the card are kept (DESIGN.md, Cards). Neither the number nor the CVC is ever put in an exception's
text, a log line, the audit trail, an Invalid's messages or the session: every message here is a
fixed sentence.

The processor is pluggable (config CARD_PROCESSOR, default "fake"): `tokenize` and `charge`. The
fake one (tests, the demo) checks Luhn, tells the brand from the number, approves unless the amount
ends in .13 or the card is 4000 0000 0000 0002, and answers a charge sent twice with the same
idempotency key once.

Charging: the form's key is the processor's idempotency key; a key already used is refused before
the processor is called (AlreadyDone). The charge is committed as a pending CardCharge (its key
unique: two racing submits write one) before the processor is asked; the payment is recorded in
the transaction that marks it recorded. A process that dies between the approval and that commit
leaves it pending: `settle` asks the processor (`lookup`) what became of the key and records it
once; the cards page offers it, `flask jobs run-due` settles those older than five minutes. Approved: a payment
("Card", reference "Visa •••• 4242") through payments.record_external, or on an invoice through
payments.record_payment. Declined: an Invalid, nothing written.
"""
import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import CardCharge, Customer, Invoice, Payment, PaymentMethod, StoredCard, SubmittedForm
from app.services import fields, money, permissions
from app.services.billing import ALREADY_RECORDED, POST_MONEY, ledger, payments
from app.services.billing.card_numbers import card_digits, luhn_ok
from app.services.billing.invoices import _claim, get_invoice, is_open
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Invalid, NotFound, ServiceError
from app.services.scope import get_customer

log = logging.getLogger(__name__)

CARD_METHOD = "Card"  # the payment method a card payment is recorded with (migration 0018's)
DECLINED_CARD = "4000000000000002"


def brand_of(digits: str) -> str:
    """The card's brand from its first digits (IIN ranges)."""
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4":
        return "Visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "Mastercard"
    if two in (34, 37):
        return "Amex"
    if digits.startswith("6011") or digits.startswith("65") or 644 <= int(digits[:3]) <= 649:
        return "Discover"
    if 3528 <= four <= 3589:
        return "JCB"
    if two in (36, 38, 39) or 300 <= int(digits[:3]) <= 305:
        return "Diners"
    return "Card"


# ---- processors -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Approved:
    reference: str  # the processor's id of the charge


@dataclass(frozen=True)
class Declined:
    reason: str  # a sentence for the user, never holding the card's number


class CardRefused(Exception):
    """The processor would not store the card; the message is a sentence for the user."""


class CardProcessor(Protocol):
    """What a card processor does for us. Implementations never log or raise with the number or CVC."""

    def tokenize(self, number: str, exp_month: int, exp_year: int, cvc: str, name: str | None) -> tuple[str, str, str]:
        """Store the card with the processor: (token, brand, last4). Raises CardRefused."""
        ...

    def charge(self, token: str, amount: Decimal, currency: str, idempotency_key: str) -> Approved | Declined:
        """Charge the card; the same idempotency key twice charges once and answers the same."""
        ...

    def lookup(self, token: str, idempotency_key: str) -> Approved | Declined | None:
        """What the processor answered to the charge with this key; None: it never received one
        (nothing was taken)."""
        ...


class FakeProcessor:
    """The processor of tests and the demo: nothing leaves the process.

    Tokens are deterministic and made from neither the number nor anything that gives it back
    (brand, last four digits, expiry, name); the one card that always declines is marked in its
    token, since the number is forgotten. `charges` lists the charges made (not the repeats).
    """

    def __init__(self):
        self.charges: list[tuple[str, Decimal, str, str]] = []
        self._answers: dict[str, Approved | Declined] = {}

    def tokenize(self, number, exp_month, exp_year, cvc, name):
        digits = card_digits(number)
        if digits is None or not luhn_ok(digits):
            raise CardRefused("The processor refused the card number.")
        brand, last4 = brand_of(digits), digits[-4:]
        seed = f"{brand}|{last4}|{exp_month}|{exp_year}|{name or ''}".encode()
        kind = "decline" if digits == DECLINED_CARD else "card"
        return f"tok_fake_{kind}_{_letters(seed)}", brand, last4

    def charge(self, token, amount, currency, idempotency_key):
        if idempotency_key in self._answers:
            return self._answers[idempotency_key]
        if token.startswith("tok_fake_decline_"):
            answer = Declined("the card issuer declined the payment")
        elif Decimal(amount).quantize(Decimal("0.01")) % 1 == Decimal("0.13"):
            answer = Declined("insufficient funds")
        else:
            answer = Approved(f"ch_fake_{_letters(idempotency_key.encode())}")
            self.charges.append((token, Decimal(amount), currency, idempotency_key))
        self._answers[idempotency_key] = answer
        return answer

    def lookup(self, token, idempotency_key):
        return self._answers.get(idempotency_key)


def _letters(seed: bytes) -> str:
    """24 lowercase letters from a hash (no digits: a reference never looks like a card number)."""
    digest = hmac.new(b"fake-card-processor", seed, hashlib.sha256).digest()
    return "".join(chr(97 + b % 26) for b in digest[:24])


PROCESSORS = {"fake": FakeProcessor}
_processor: CardProcessor | None = None


def processor_for(config: dict) -> CardProcessor:
    """The processor CARD_PROCESSOR names (default "fake")."""
    name = config.get("CARD_PROCESSOR") or "fake"
    if name not in PROCESSORS:
        raise ValueError(f"CARD_PROCESSOR must be one of {sorted(PROCESSORS)}, not {name!r}")
    return PROCESSORS[name]()


def configure(config: dict) -> None:
    global _processor
    _processor = processor_for(config)


def processor() -> CardProcessor:
    global _processor
    if _processor is None:
        _processor = FakeProcessor()
    return _processor


# ---- reading --------------------------------------------------------------------------------------

def cards(session: Session, actor, customer_id) -> list[StoredCard]:
    """The customer's cards in use (default first, then newest), within the actor's scope."""
    customer = get_customer(session, actor, customer_id)
    return list(session.scalars(select(StoredCard).where(StoredCard.customer_id == customer.id,
                                                         StoredCard.removed_at.is_(None))
                                .order_by(StoredCard.is_default.desc(), StoredCard.id.desc())))


def get_card(session: Session, customer: Customer, card_id) -> StoredCard:
    """One card in use of `customer` (the customer loaded through the scope); NotFound otherwise."""
    number = fields.record_id(card_id)
    card = None
    if number is not None:
        card = session.scalar(select(StoredCard).where(StoredCard.id == number, StoredCard.customer_id == customer.id,
                                                       StoredCard.removed_at.is_(None)))
    if card is None:
        raise NotFound("No such card.")
    return card


def is_expired(card: StoredCard, today: date | None = None) -> bool:
    today = today or date.today()
    return (card.exp_year, card.exp_month) < (today.year, today.month)


# ---- commands -------------------------------------------------------------------------------------

def _expiry(errors: FieldErrors, data: dict, today: date) -> tuple[int | None, int | None]:
    month = fields.whole_number(str(data.get("exp_month") or "").strip(), 1, 12)
    year_text = str(data.get("exp_year") or "").strip()
    year = fields.whole_number(year_text, 0, 2199)
    if year is not None and len(year_text) == 2:
        year += 2000
    if month is None:
        errors.add("exp_month", "Pick the expiry month (1 to 12).")
    if year is None or not 2000 <= year <= 2199:
        errors.add("exp_year", "Type the expiry year (e.g. 2029).")
        year = None
    if month is not None and year is not None and (year, month) < (today.year, today.month):
        errors.add("exp_year", "This card has expired: check the expiry date.")
    return month, year


def add_card(session: Session, actor, customer_id, data: dict, key, today: date | None = None) -> StoredCard:
    """Store a card on a customer (committed). `data`: number, exp_month, exp_year, cvc, name,
    make_default. The number and CVC go to the processor only; the first card is the default."""
    permissions.require(session, actor, POST_MONEY, message="You may not add cards.")
    customer = get_customer(session, actor, customer_id)
    errors = FieldErrors()
    digits = card_digits(data.get("number"))
    if digits is None:
        errors.add("number", "Type the card number: 13 to 19 digits (spaces allowed).")
    elif not luhn_ok(digits):
        errors.add("number", "This is not a valid card number: check the digits.")
    month, year = _expiry(errors, data, today or date.today())
    cvc = str(data.get("cvc") or "").strip()
    if not (cvc.isascii() and cvc.isdigit() and 3 <= len(cvc) <= 4):
        errors.add("cvc", "Type the 3 or 4 digit security code from the back of the card.")
    name = fields.text(errors, "name", data.get("name"), 100, label="Name on card")
    errors.raise_if_any()
    try:
        token, brand, last4 = processor().tokenize(digits, month, year, cvc, name)
    except CardRefused as e:
        raise Invalid({"number": str(e)}) from None  # no chain: nothing of the card in a traceback
    _claim(session, key)
    ledger.lock(session, customer.id)
    has_default = session.scalar(select(StoredCard.id).where(StoredCard.customer_id == customer.id,
                                                             StoredCard.is_default)) is not None
    make_default = not has_default or str(data.get("make_default") or "").lower() in ("1", "y", "yes", "on", "true")
    if make_default and has_default:
        _clear_default(session, customer.id)
    card = StoredCard(customer_id=customer.id, token=token, brand=brand, last4=last4, exp_month=month, exp_year=year,
                      name_on_card=name, is_default=make_default, created_by_id=getattr(actor, "id", None))
    session.add(card)
    commit(session)
    log.info("card %s stored on customer %s", card.label, customer.id)
    return card


def _clear_default(session: Session, customer_id: int) -> None:
    for card in session.scalars(select(StoredCard).where(StoredCard.customer_id == customer_id, StoredCard.is_default)):
        card.is_default = False
    session.flush()  # before another card is made the default: the one-default index checks each row


def set_default(session: Session, actor, customer_id, card_id, key) -> StoredCard:
    """Make a card the customer's default (the one offered first), committed."""
    permissions.require(session, actor, POST_MONEY, message="You may not change cards.")
    customer = get_customer(session, actor, customer_id)
    get_card(session, customer, card_id)
    _claim(session, key)
    ledger.lock(session, customer.id)
    card = get_card(session, customer, card_id)
    if not card.is_default:
        _clear_default(session, customer.id)
        card.is_default = True
    commit(session)
    return card


def remove_card(session: Session, actor, customer_id, card_id, key) -> StoredCard:
    """Take a card out of use (kept for the payments that used it). When it was the default, the
    newest card left becomes the default."""
    permissions.require(session, actor, POST_MONEY, message="You may not remove cards.")
    customer = get_customer(session, actor, customer_id)
    get_card(session, customer, card_id)
    _claim(session, key)
    ledger.lock(session, customer.id)
    card = get_card(session, customer, card_id)
    was_default = card.is_default
    card.is_default = False
    card.removed_at = datetime.now(timezone.utc)
    session.flush()
    if was_default:
        following = session.scalar(select(StoredCard).where(StoredCard.customer_id == customer.id,
                                                            StoredCard.removed_at.is_(None))
                                   .order_by(StoredCard.id.desc()).limit(1))
        if following is not None:
            following.is_default = True
    commit(session)
    return card


def _card_method(session: Session) -> PaymentMethod | None:
    return session.scalar(select(PaymentMethod).where(PaymentMethod.name == CARD_METHOD,
                                                      PaymentMethod.active.is_(True)))


def charge_card(session: Session, actor, customer_id, card_id, data: dict, key, today: date | None = None) -> Payment:
    """Charge a stored card and record the payment (committed). `data`: amount and, optionally,
    invoice_id (an open invoice of this customer: the payment is recorded on it, the rest credit).

    The charge is written and committed as "pending" before the processor is asked; the payment is
    recorded in the transaction that marks it "recorded". A process that dies in between leaves it
    pending: `settle` asks the processor what became of that key and records it then, once.

    Raises Invalid (declined, expired, a bad amount or invoice: nothing charged nor written),
    AlreadyDone (this form's key was used: charged once)."""
    permissions.require(session, actor, POST_MONEY, message="You may not charge cards.")
    customer = get_customer(session, actor, customer_id)
    card = get_card(session, customer, card_id)
    errors = FieldErrors()
    amount = money.amount(errors, "amount", data.get("amount"), customer.currency, required=True, label="Amount")
    if amount is not None and amount <= 0:
        errors.add("amount", "The amount must be more than zero.")
    invoice = None
    if data.get("invoice_id") not in (None, ""):
        try:
            invoice = get_invoice(session, actor, data.get("invoice_id"))
        except NotFound:
            invoice = None
        if invoice is None or invoice.customer_id != customer.id or not is_open(invoice):
            errors.add("invoice_id", "Pick an open invoice of this customer, or none.")
            invoice = None
    if is_expired(card, today):
        errors.add("card_id", f"{card.label} expired at the end of {card.expiry}: add the card again with its new expiry.")
    if _card_method(session) is None:
        errors.add("card_id", f"The payment method “{CARD_METHOD}” is not in use: an admin must put it back first.")
    errors.raise_if_any()
    charge = _begin_charge(session, actor, customer, card, invoice, amount, key)
    answer = processor().charge(card.token, amount, customer.currency, idempotency_key=charge.key)
    return _settle(session, actor, charge, answer, today)


def _begin_charge(session: Session, actor, customer: Customer, card: StoredCard, invoice, amount: Decimal,
                  key) -> CardCharge:
    """The pending charge, committed before the processor is asked. A key used before (by a form
    or another charge) is refused here, before the processor is asked twice."""
    try:
        key = str(uuid.UUID(str(key or "")))
    except ValueError:
        raise Invalid({"form_key": "This form has no valid key: open it again."}) from None
    used = select(SubmittedForm.key).where(SubmittedForm.key == key).union_all(
        select(CardCharge.key).where(CardCharge.key == key))
    if session.scalar(used) is not None:
        raise AlreadyDone(ALREADY_RECORDED)
    charge = CardCharge(key=key, customer_id=customer.id, card_id=card.id, invoice_id=getattr(invoice, "id", None),
                        amount=amount, currency=customer.currency, created_by_id=getattr(actor, "id", None))
    session.add(charge)
    try:
        session.commit()
    except IntegrityError:  # the same form, submitted twice at once: the other submit charges
        session.rollback()
        raise AlreadyDone(ALREADY_RECORDED) from None
    return charge


ABANDON_AFTER = timedelta(minutes=5)  # a charge the processor has no answer for is given up after this


def _settle(session: Session, actor, charge: CardCharge, answer: "Approved | Declined | None",
            today: date | None = None) -> Payment | None:
    """Record what the processor answered for a charge (committed): a declined charge says so
    (Invalid); an approved one becomes a payment in the same transaction that marks it recorded
    (anything that stops the payment rolls both back: the charge stays pending); None (the
    processor never received it) marks it abandoned."""
    now = datetime.now(timezone.utc)
    if answer is None:
        charge.status, charge.settled_at = "abandoned", now
        commit(session)
        return None
    card = session.get(StoredCard, charge.card_id)
    if isinstance(answer, Declined):
        charge.status, charge.decline_reason, charge.settled_at = "declined", answer.reason[:255], now
        commit(session)
        raise Invalid({"card_id": f"{card.label} was declined ({answer.reason}). Nothing was charged or recorded."})
    # The money was taken: recorded with the card method even if it was retired meanwhile (taken=True).
    method_id = session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == CARD_METHOD))
    values = {"amount": str(charge.amount), "method_id": method_id, "reference": card.label,
              "notes": f"Card payment, processor reference {answer.reference}",
              "received_on": (today or date.today()).isoformat()}

    def recorded():  # rides in the payment's transaction: recorded if and only if the payment is
        charge.status, charge.processor_reference, charge.settled_at = "recorded", answer.reference[:100], now

    try:
        payment = None
        if charge.invoice_id is not None:
            recorded()
            try:
                payment = payments.record_payment(session, actor, charge.invoice_id, values, charge.key, taken=True)
            except Invalid:
                # The invoice changed after the look above (paid, voided): the money was taken, so it
                # is recorded all the same, as account credit.
                session.rollback()
                number = session.scalar(select(Invoice.number).where(Invoice.id == charge.invoice_id))
                values["notes"] += f"; invoice {number} changed meanwhile, so this is account credit"
        if payment is None:
            recorded()
            payment = payments.record_external(session, actor, charge.customer_id, values, charge.key, taken=True)
    except BaseException:
        session.rollback()  # never "recorded" without its payment
        raise
    charge.payment_id = payment.id
    commit(session)
    return payment


def pending_charges(session: Session, actor, customer_id) -> list[CardCharge]:
    """The customer's charges whose answer is not recorded yet (a process died meanwhile)."""
    customer = get_customer(session, actor, customer_id)
    return list(session.scalars(select(CardCharge).where(CardCharge.customer_id == customer.id,
                                                         CardCharge.status == "pending").order_by(CardCharge.id)))


def settle(session: Session, actor, customer_id, charge_id, today: date | None = None) -> CardCharge:
    """Ask the processor what became of a pending charge and record it (committed): the payment
    when it was approved, "declined", or "abandoned" when the processor never received it and the
    charge is ABANDON_AFTER old (a younger one may still be on its way: it stays pending). Settling
    twice records once."""
    permissions.require(session, actor, POST_MONEY, message="You may not charge cards.")
    customer = get_customer(session, actor, customer_id)
    number = fields.record_id(charge_id)
    charge = number is not None and session.scalar(
        select(CardCharge).where(CardCharge.id == number, CardCharge.customer_id == customer.id))
    if not charge:
        raise NotFound("No such card charge.")
    if charge.status != "pending":
        return charge
    card = session.get(StoredCard, charge.card_id)
    answer = processor().lookup(card.token, charge.key)
    started = charge.created_at if charge.created_at.tzinfo else charge.created_at.replace(tzinfo=timezone.utc)
    if answer is None and datetime.now(timezone.utc) - started < ABANDON_AFTER:
        return charge
    try:
        _settle(session, actor, charge, answer, today)
    except (Invalid, AlreadyDone):
        # Declined (said by the charge's status), or recorded by a settle that ran at the same time;
        # anything else that stopped the payment left the charge pending (rolled back).
        session.rollback()
        session.refresh(charge)
    return charge


def settle_all_pending(session: Session, older_than: timedelta = ABANDON_AFTER) -> int:
    """Settle every charge pending for longer than `older_than` (cron, `flask jobs run-due`), as the
    user who started it. A charge that user may no longer settle (its rights or the customer's
    scope changed) is logged and left for Finance on the cards page; the others go on. Returns how
    many were settled."""
    from app.models import User
    cutoff = datetime.now(timezone.utc) - older_than
    done = 0
    for charge_id, customer_id, user_id in session.execute(
            select(CardCharge.id, CardCharge.customer_id, CardCharge.created_by_id)
            .where(CardCharge.status == "pending", CardCharge.created_at < cutoff).order_by(CardCharge.id)).all():
        user = session.get(User, user_id) if user_id is not None else None
        if user is None:
            log.warning("card charge %s is pending and its user is gone: settle it from the cards page", charge_id)
            continue
        try:
            charge = settle(session, user, customer_id, charge_id)
        except ServiceError as e:
            session.rollback()
            log.warning("card charge %s is pending and could not be settled (%s): settle it from the cards page",
                        charge_id, e)
            continue
        done += charge.status != "pending"
    return done
