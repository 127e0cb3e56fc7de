"""Payments and account credit: what the customer paid or was credited, and where it went.

A payment, an external payment or a manual credit is a source (Payment). It pays invoices through
allocation rows; what it has not paid nor given back is its unallocated rest: the customer's
account credit is the sum of those rests, never a number anyone types. A refund pays part of a rest
back; voiding a credit withdraws its rest. "Edit balance" is an adjustment with a reason.

Each command locks the customer's money (ledger.lock) before it reads the figures it checks, so two
payments on one invoice, or a payment racing a void, run one after the other: the second sees what
the first did. A form that showed an invoice's outstanding sends it back (`seen_outstanding`); when
the invoice changed meanwhile, nothing is written and the user is told.
"""
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Adjustment, Allocation, CardCharge, Customer, Invoice, Payment, PaymentMethod, Quote, Release
from app.services import fields, money, permissions
from app.services.billing import POST_MONEY, ledger
from app.services.billing.card_numbers import NOT_HERE, holds_card_number
from app.services.billing.invoices import _claim, check_currency, get_invoice, is_open, status_for
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import customer_scope, get_customer

STATUS_WORDS = {"draft": "a draft", "paid": "paid", "void": "void"}
CHANGED = "seen_outstanding"
MAX_APPLIED = 100  # credits applied to oldest invoices in one command (a list page's worth)  # the field of an Invalid raised because the invoice changed meanwhile


def get_source(session: Session, actor, payment_id) -> Payment:
    """One payment or credit whose customer `actor` may see (NotFound otherwise)."""
    number = fields.record_id(payment_id)
    payment = None
    if number is not None:
        payment = session.scalars(select(Payment).join(Customer, Customer.id == Payment.customer_id)
                                  .where(Payment.id == number, customer_scope(actor))).first()
    if payment is None:
        raise NotFound("No such payment or credit.")
    return payment


def methods(session: Session, include_id: int | None = None) -> list[PaymentMethod]:
    """The payment methods to pick from (the active ones, and the one already chosen)."""
    stmt = select(PaymentMethod).where((PaymentMethod.active.is_(True)) | (PaymentMethod.id == include_id))
    return list(session.scalars(stmt.order_by(PaymentMethod.name)))


def _method(errors: FieldErrors, session: Session, value, required: bool, retired_ok: bool = False) -> int | None:
    """A payment method in use, from a form (a method taken out of use is not offered, nor taken;
    `retired_ok`: money already taken, as a card charge, is recorded with its method all the same)."""
    if value in (None, ""):
        if required:
            errors.add("method_id", "Pick how it was paid.")
        return None
    number = fields.record_id(value)
    method = session.get(PaymentMethod, number) if number is not None else None
    if method is None or not (method.active or retired_ok):
        errors.add("method_id", "Pick a payment method from the list.")
        return None
    return method.id


def _received(errors: FieldErrors, session: Session, customer: Customer, data: dict, *, method_required: bool,
              reason_required: bool = False, retired_ok: bool = False) -> dict:
    check_currency(errors, customer, data)
    amount = money.amount(errors, "amount", data.get("amount"), customer.currency, required=True, label="Amount")
    if amount is not None and amount <= 0:
        errors.add("amount", "The amount must be more than zero.")
    day = fields.a_date(errors, "received_on", data.get("received_on")) or date.today()
    for field in ("reference", "notes"):  # a card is stored as a token, never typed in as text
        if holds_card_number(data.get(field)):
            errors.add(field, NOT_HERE)
    return dict(
        amount=amount, received_on=day,
        method_id=_method(errors, session, data.get("method_id"), method_required, retired_ok),
        reference=fields.text(errors, "reference", data.get("reference"), 100, label="Reference"),
        notes=fields.long_text(errors, "notes", data.get("notes"), 5000, label="Notes"),
        reason=fields.text(errors, "reason", data.get("reason"), 255, required=reason_required, label="Reason"),
    )


def allocate_to(session: Session, actor, payment: Payment, invoice: Invoice, amount: Decimal, on: date) -> Allocation:
    """Pay `amount` of `invoice` from `payment` (both of one customer, locked by the caller, read
    after the lock). Raises Invalid when either has less left than `amount`."""
    if invoice.customer_id != payment.customer_id:
        raise Invalid({"invoice_id": "The invoice belongs to another customer."})
    if not is_open(invoice):
        raise Invalid({"invoice_id": f"Invoice {invoice.number or invoice.id} is {STATUS_WORDS.get(invoice.status, invoice.status)}:"
                                     " nothing can be paid on it."})
    if amount <= 0:
        raise Invalid({"amount": "The amount to allocate must be more than zero."})
    if amount > invoice.outstanding:
        raise Invalid({"amount": f"Only {money.format(invoice.outstanding, invoice.currency)} of invoice "
                                 f"{invoice.number} is outstanding."})
    if amount > payment.unallocated:
        raise Invalid({"amount": f"Only {money.format(payment.unallocated, payment.currency)} of this "
                                 f"{'credit' if payment.kind != 'payment' else 'payment'} is left to allocate."})
    allocation = Allocation(payment_id=payment.id, invoice_id=invoice.id, customer_id=invoice.customer_id,
                            currency=invoice.currency, amount=amount, allocated_on=on,
                            created_by_id=getattr(actor, "id", None))
    session.add(allocation)
    payment.unallocated -= amount
    invoice.outstanding -= amount
    invoice.status = status_for(invoice)
    return allocation


def record_payment(session: Session, actor, invoice_id, data: dict, key, *, taken: bool = False) -> Payment:
    """A payment against one invoice (committed): it pays what the invoice has outstanding, and
    the rest becomes account credit. `data`: amount, received_on, method_id, reference, notes and,
    from a form, seen_outstanding (the outstanding it showed)."""
    permissions.require(session, actor, POST_MONEY, message="You may not record payments.")
    invoice = get_invoice(session, actor, invoice_id)
    errors = FieldErrors()
    customer = session.get(Customer, invoice.customer_id)
    values = _received(errors, session, customer, data, method_required=True, retired_ok=taken)
    errors.raise_if_any()
    _claim(session, key)
    customer = ledger.lock(session, invoice.customer_id)
    session.refresh(invoice)
    # CHANGED: the form's figures are out of date (not the amount's fault): said above the form.
    if not is_open(invoice):
        raise Invalid({CHANGED: f"Invoice {invoice.number or invoice.id} is "
                                f"{STATUS_WORDS.get(invoice.status, invoice.status)} now: it changed meanwhile, "
                                "so the payment was not recorded."})
    seen = data.get("seen_outstanding")
    if seen not in (None, "") and fields.decimal_number(seen) != invoice.outstanding:
        raise Invalid({CHANGED: f"Invoice {invoice.number} changed meanwhile: "
                                 f"{money.format(invoice.outstanding, invoice.currency)} is outstanding now. "
                                 "Check the amount and record the payment again."})
    paid = min(values["amount"], invoice.outstanding)
    payment = _source(session, actor, customer, "payment", values, invoice_id=invoice.id,
                      is_credit=values["amount"] > paid)
    allocate_to(session, actor, payment, invoice, paid, values["received_on"])
    commit(session)
    return payment


def credit_part(invoice: Invoice, amount: Decimal) -> Decimal:
    """What of a payment of `amount` on `invoice` would become account credit (shown before saving)."""
    return max(Decimal(0), amount - invoice.outstanding)


def _source(session: Session, actor, customer: Customer, kind: str, values: dict, *, invoice_id=None,
            is_credit: bool = True) -> Payment:
    payment = Payment(customer_id=customer.id, currency=customer.currency, kind=kind, amount=values["amount"],
                      unallocated=values["amount"], is_credit=is_credit, received_on=values["received_on"],
                      method_id=values["method_id"], reference=values["reference"], notes=values["notes"],
                      reason=values["reason"], invoice_id=invoice_id, created_by_id=getattr(actor, "id", None))
    session.add(payment)
    session.flush()
    ledger.post(session, customer, -payment.amount, "payment" if kind == "payment" else kind, payment,
                payment.received_on, actor, values["reason"])
    return payment


def record_external(session: Session, actor, customer_id, data: dict, key, *, taken: bool = False) -> Payment:
    """Add external payment (getSoapy): money received with no invoice; all of it is account credit."""
    permissions.require(session, actor, POST_MONEY, message="You may not record payments.")
    customer = get_customer(session, actor, customer_id)
    errors = FieldErrors()
    values = _received(errors, session, customer, data, method_required=True, retired_ok=taken)
    errors.raise_if_any()
    _claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    payment = _source(session, actor, customer, "external", values)
    commit(session)
    return payment


def add_credit(session: Session, actor, customer_id, data: dict, key) -> Payment:
    """A manual account credit (a goodwill credit): its reason is required; a method is optional."""
    permissions.require(session, actor, POST_MONEY, message="You may not add credit.")
    customer = get_customer(session, actor, customer_id)
    errors = FieldErrors()
    values = _received(errors, session, customer, data, method_required=False, reason_required=True)
    errors.raise_if_any()
    _claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    payment = _source(session, actor, customer, "credit", values)
    commit(session)
    return payment


def update_source(session: Session, actor, payment_id, data: dict) -> Payment:
    """Change a payment's or credit's reference and notes: nothing else of it ever changes."""
    permissions.require(session, actor, POST_MONEY, message="You may not change payments.")
    payment = get_source(session, actor, payment_id)
    errors = FieldErrors()
    unknown = set(data) - {"reference", "notes"}
    for name in sorted(unknown):
        errors.add(name, "Only the reference and the notes of a payment or credit can be changed.")
    reference = fields.text(errors, "reference", data.get("reference", payment.reference), 100, label="Reference")
    notes = fields.long_text(errors, "notes", data.get("notes", payment.notes), 5000, label="Notes")
    for field, value in (("reference", reference), ("notes", notes)):
        if field in data and holds_card_number(value):
            errors.add(field, NOT_HERE)
    if payment.kind == "credit_note" and reference != payment.reference:  # the credit note's number
        errors.add("reference", f"This credit's reference is credit note {payment.reference}'s number: it stays.")
    errors.raise_if_any()
    payment.reference, payment.notes = reference, notes
    commit(session)
    return payment


def open_invoices(session: Session, customer_id: int) -> list[Invoice]:
    """A customer's invoices with something to pay, oldest first (by due date, then issue date)."""
    return list(session.scalars(
        select(Invoice).where(Invoice.customer_id == customer_id, Invoice.status.in_(("issued", "part_paid")))
        .order_by(func.coalesce(Invoice.due_date, Invoice.issue_date), Invoice.issue_date, Invoice.id)
        .execution_options(populate_existing=True)))


def allocate(session: Session, actor, payment_id, invoice_id, amount, key, on: date | str | None = None) -> Allocation:
    """Pay `amount` of an invoice from a payment's or credit's rest (the service the allocation
    screen calls), committed."""
    permissions.require(session, actor, POST_MONEY, message="You may not allocate payments.")
    payment = get_source(session, actor, payment_id)
    invoice = get_invoice(session, actor, invoice_id)
    errors = FieldErrors()
    number = money.amount(errors, "amount", amount, payment.currency, required=True, label="Amount")
    day = on if isinstance(on, date) else fields.a_date(errors, "allocated_on", on)
    errors.raise_if_any()
    _claim(session, key)
    ledger.lock(session, payment.customer_id)
    session.refresh(payment)
    session.refresh(invoice)
    allocation = allocate_to(session, actor, payment, invoice, number, day or date.today())
    commit(session)
    return allocation


def _apply_one(session: Session, actor, payment: Payment, on: date) -> Decimal:
    applied = Decimal(0)
    for invoice in open_invoices(session, payment.customer_id):
        if payment.unallocated <= 0:
            break
        amount = min(payment.unallocated, invoice.outstanding)
        allocate_to(session, actor, payment, invoice, amount, on)
        applied += amount
    return applied


def apply_to_oldest(session: Session, actor, payment_ids, key) -> tuple[int, dict[str, Decimal]]:
    """Apply each credit's rest to its customer's oldest open invoices (committed). Returns how many
    credits paid something and the amount applied per currency."""
    permissions.require(session, actor, POST_MONEY, message="You may not allocate credit.")
    ids = list(dict.fromkeys(payment_ids or ()))  # an id sent twice is one credit, applied once
    if not ids:
        raise Invalid({"ids": "Tick at least one credit."})
    if len(ids) > MAX_APPLIED:
        raise Invalid({"ids": f"At most {MAX_APPLIED} credits at a time."})
    payments = [get_source(session, actor, i) for i in ids]
    _claim(session, key)
    used, totals = 0, {}
    for customer_id in sorted({p.customer_id for p in payments}):
        ledger.lock(session, customer_id)
    for payment in payments:  # each read once, after the locks (a refresh later would drop what is done)
        session.refresh(payment)
    for payment in payments:
        applied = _apply_one(session, actor, payment, date.today())
        if applied:
            used += 1
            totals[payment.currency] = totals.get(payment.currency, Decimal(0)) + applied
    commit(session)
    return used, totals


def _release(session: Session, actor, payment: Payment, kind: str, amount: Decimal, values: dict) -> Release:
    release = Release(payment_id=payment.id, customer_id=payment.customer_id, currency=payment.currency, kind=kind,
                      amount=amount, released_on=values["released_on"], method_id=values.get("method_id"),
                      reference=values.get("reference"), reason=values["reason"],
                      created_by_id=getattr(actor, "id", None))
    session.add(release)
    payment.unallocated -= amount
    session.flush()
    customer = session.get(Customer, payment.customer_id)
    ledger.post(session, customer, amount, "refund" if kind == "refund" else "credit_void", release,
                release.released_on, actor, values["reason"])
    return release


def refund(session: Session, actor, payment_id, data: dict, key) -> Release:
    """Pay back part of a payment's or credit's unallocated rest (never more than the rest)."""
    permissions.require(session, actor, POST_MONEY, message="You may not refund.")
    payment = get_source(session, actor, payment_id)
    errors = FieldErrors()
    customer = session.get(Customer, payment.customer_id)
    check_currency(errors, customer, data)
    amount = money.amount(errors, "amount", data.get("amount"), payment.currency, required=True, label="Amount")
    if amount is not None and amount <= 0:
        errors.add("amount", "The amount must be more than zero.")
    values = dict(released_on=fields.a_date(errors, "released_on", data.get("released_on")) or date.today(),
                  method_id=_method(errors, session, data.get("method_id"), True),
                  reference=fields.text(errors, "reference", data.get("reference"), 100, label="Reference"),
                  reason=fields.text(errors, "reason", data.get("reason"), 255, label="Reason"))
    errors.raise_if_any()
    _claim(session, key)
    ledger.lock(session, payment.customer_id)
    session.refresh(payment)
    if amount > payment.unallocated:
        raise Invalid({"amount": f"At most {money.format(payment.unallocated, payment.currency)} can be refunded: "
                                 "that is what is left of it."})
    release = _release(session, actor, payment, "refund", amount, values)
    commit(session)
    return release


def void_credit(session: Session, actor, payment_id, reason, key) -> Release:
    """Withdraw what is left of a payment's or credit's rest (its allocations stay), with a reason."""
    permissions.require(session, actor, POST_MONEY, message="You may not void credit.")
    payment = get_source(session, actor, payment_id)
    errors = FieldErrors()
    reason = fields.text(errors, "reason", reason, 255, required=True, label="Reason")
    errors.raise_if_any()
    _claim(session, key)
    ledger.lock(session, payment.customer_id)
    session.refresh(payment)
    if payment.kind == "credit_note":  # its credit note would say it still gives the credit
        raise Invalid({"amount": f"This credit is credit note {payment.reference}: void the credit note instead."})
    if payment.unallocated <= 0:
        raise Invalid({"amount": "Nothing of this credit is left to void."})
    release = _release(session, actor, payment, "void", payment.unallocated, {"released_on": date.today(),
                                                                               "reason": reason})
    commit(session)
    return release


def adjust_balance(session: Session, actor, customer_id, data: dict, key) -> Adjustment:
    """Edit balance (getSoapy): add `amount` to what the customer owes (negative: owes less), with a
    reason. Never an overwrite of the balance."""
    permissions.require(session, actor, POST_MONEY, message="You may not adjust balances.")
    customer = get_customer(session, actor, customer_id)
    errors = FieldErrors()
    check_currency(errors, customer, data)
    amount = money.amount(errors, "amount", data.get("amount"), customer.currency, required=True, label="Amount")
    if amount is not None and amount == 0:
        errors.add("amount", "An adjustment of zero changes nothing.")
    effective_on = fields.a_date(errors, "effective_on", data.get("effective_on")) or date.today()
    reason = fields.text(errors, "reason", data.get("reason"), 255, required=True, label="Reason")
    errors.raise_if_any()
    _claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    adjustment = Adjustment(customer_id=customer.id, currency=customer.currency, amount=amount,
                            effective_on=effective_on, reason=reason, created_by_id=getattr(actor, "id", None))
    session.add(adjustment)
    session.flush()
    ledger.post(session, customer, amount, "adjustment", adjustment, effective_on, actor, reason)
    commit(session)
    return adjustment


def has_money(session: Session, customer_id: int) -> bool:
    """Whether the customer has any money record (its currency is then fixed)."""
    return any(session.scalar(select(model.id).where(model.customer_id == customer_id).limit(1)) is not None
               for model in (Invoice, Payment, Adjustment, Quote, CardCharge))
