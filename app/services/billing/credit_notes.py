"""Credit notes (Commusoft's): money given back to a customer on a numbered document of its own.

A credit note is issued when it is saved (there are no drafts): its lines are priced as an
invoice's (invoices' own line checks, `priced` and totals: the same rounding once per line), it
takes the next number of the "credit_note" sequence ("CN-", gap-free: under the sequence's row lock
in the saving transaction), keeps the billing address and the rate to the base currency it was
issued with, and posts its total to the ledger (kind "credit_note", negative: the customer owes
less).

The money: a credit note IS a source of account credit. Saving one writes a Payment of kind
"credit_note" for its total, so the Credits list, allocation, refunds and the ledger check treat it
as every other credit. Against an invoice it pays that invoice's outstanding first (an allocation,
payments.allocate_to); what is left is account credit. Against the customer alone all of it is
account credit.

The limit: the totals of an invoice's credit notes that are not void never come to more than the
invoice's total (checked under the customer's lock, re-read). Only an issued, part-paid or paid
invoice can be credited.

Voiding one (Finance, Admin; a reason; the number stays): its source's allocations are reversed
(negative rows naming what they reverse: the invoices owe that again), then what is left of it is
withdrawn (a "void" release, posted as credit_void: payments._release). A credit note any part of
which was refunded cannot be voided: that money has left.

Every write: POST_MONEY, the customer through the actor's scope (NotFound outside it), the form's
key claimed (AlreadyDone the second time), the customer's money lock, committed.
"""
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Allocation, CompanySettings, CreditNote, CreditNoteLine, Customer, Invoice, Payment, Release
from app.models.credit_notes import BREAKDOWN_STYLES
from app.services import fields, money, permissions
from app.services.billing import POST_MONEY, finances, fx, invoices, ledger, payments, tax
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Invalid, NotFound
from app.services.scope import customer_scope, get_customer

SEQUENCE, PREFIX = "credit_note", "CN-"
DEFAULT_STYLE = "full"
CREDITABLE = ("issued", "part_paid", "paid")  # an invoice that can be credited
STATUS_WORDS = {"draft": "a draft", "void": "void"}


def get_credit_note(session: Session, actor, credit_note_id) -> CreditNote:
    """One credit note whose customer `actor` may see (NotFound otherwise, as for a missing one)."""
    number = fields.record_id(credit_note_id)
    note = None
    if number is not None:
        note = session.scalars(select(CreditNote).join(Customer, Customer.id == CreditNote.customer_id)
                               .where(CreditNote.id == number, customer_scope(actor))).first()
    if note is None:
        raise NotFound("No such credit note.")
    return note


def of_source(session: Session, actor, payment_id) -> CreditNote:
    """The credit note whose account credit is the payment `payment_id` (NotFound otherwise)."""
    number = fields.record_id(payment_id)
    note = session.scalars(select(CreditNote).join(Customer, Customer.id == CreditNote.customer_id)
                           .where(CreditNote.payment_id == number, customer_scope(actor))).first() \
        if number is not None else None
    if note is None:
        raise NotFound("No such credit note.")
    return note


def default_style(session: Session) -> str:
    """The breakdown style a new credit note starts with (the company's setting, else "full")."""
    settings = session.get(CompanySettings, 1)
    chosen = settings.credit_note_breakdown if settings is not None else None
    return chosen if chosen in BREAKDOWN_STYLES else DEFAULT_STYLE


def credited(session: Session, invoice_id: int) -> Decimal:
    """What the invoice's credit notes that are not void come to."""
    return Decimal(session.scalar(select(func.coalesce(func.sum(CreditNote.total), 0))
                                  .where(CreditNote.invoice_id == invoice_id, CreditNote.status != "void")))


def left_to_credit(session: Session, invoice: Invoice) -> Decimal:
    """What can still be credited on the invoice: its total less its credit notes (never below 0)."""
    return money.quantize(max(Decimal(0), invoice.total - credited(session, invoice.id)), invoice.currency)


def of_invoice(session: Session, invoice: Invoice) -> list[CreditNote]:
    """The invoice's credit notes, oldest first."""
    return list(session.scalars(select(CreditNote).where(CreditNote.invoice_id == invoice.id).order_by(CreditNote.id)))


def page(session: Session, actor, customer_id, before: int | None = None):
    """A page of the customer's credit notes, newest first, and the id the next page starts before."""
    customer = get_customer(session, actor, customer_id)
    return finances._page(session, select(CreditNote).where(CreditNote.customer_id == customer.id), CreditNote, before)


def allocations(session: Session, note: CreditNote) -> list[tuple[Allocation, Invoice]]:
    """What the credit note paid (and what a void took back), oldest first, with each invoice."""
    return list(session.execute(
        select(Allocation, Invoice).join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Allocation.payment_id == note.payment_id).order_by(Allocation.id)).tuples())


def _check_creditable(invoice: Invoice, field: str = "invoice_id") -> None:
    if invoice.status not in CREDITABLE:
        raise Invalid({field: f"Invoice {invoice.number or invoice.id} is "
                              f"{STATUS_WORDS.get(invoice.status, invoice.status)}: it cannot be credited."})


def _clean(session: Session, customer: Customer, data: dict, invoice: Invoice | None) -> dict:
    errors = FieldErrors()
    invoices.check_currency(errors, customer, data)
    description = fields.text(errors, "description", data.get("description"), 255, required=True,
                              label="Description")
    credit_date = fields.a_date(errors, "credit_date", data.get("credit_date")) or date.today()
    notes = fields.long_text(errors, "notes", data.get("notes"), 5000, label="Notes")
    style = data.get("breakdown_style")
    style = fields.choice(errors, "breakdown_style", style, BREAKDOWN_STYLES, label="Breakdown style") \
        if style not in (None, "") else default_style(session)
    rows = data.get("lines")
    lines = invoices._lines(errors, session, rows, customer.currency)
    if not lines and "lines" not in errors and not any(k.startswith("lines.") for k in errors.errors):
        errors.add("lines", "A credit note needs at least one line.")
    credited_lines = _invoice_lines(errors, session, rows, invoice)
    errors.raise_if_any()
    return {"description": description, "credit_date": credit_date, "notes": notes, "breakdown_style": style,
            "lines": lines, "invoice_line_ids": credited_lines}


def _invoice_lines(errors: FieldErrors, session: Session, rows, invoice: Invoice | None) -> list[int | None]:
    """Each row's invoice_line_id: a line of the invoice credited, or none."""
    found = []
    known = {line.id for line in invoice.lines} if invoice is not None else set()
    for i, row in enumerate(rows if isinstance(rows, (list, tuple)) else []):
        value = row.get("invoice_line_id") if isinstance(row, dict) else None
        if value in (None, ""):
            found.append(None)
            continue
        number = fields.record_id(value)
        if number is None or number not in known:
            errors.add(f"lines.{i}.description", "This line does not credit a line of the invoice.")
        found.append(number)
    return found


def _write_lines(session: Session, customer: Customer, note: CreditNote, values: dict) -> None:
    """Priced as invoices price theirs (invoices.priced, the same size check and totals)."""
    lines = values["lines"]
    rates = [tax.charged(session, customer, line.tax_rate_id) for line in lines]
    priced_lines = [invoices.priced(customer.currency, line.quantity, line.unit_price, charged.percent)
                    for line, charged in zip(lines, rates)]
    invoices._check_size(priced_lines)
    note.lines = []
    for position, (line, charged, (net, tax_), invoice_line_id) in enumerate(
            zip(lines, rates, priced_lines, values["invoice_line_ids"] or [None] * len(lines))):
        note.lines.append(CreditNoteLine(
            position=position, description=line.description, category=line.category, quantity=line.quantity,
            unit_price=line.unit_price, tax_rate_id=line.tax_rate_id, tax_name=charged.name,
            tax_percent=charged.percent, net=net, tax=tax_, invoice_line_id=invoice_line_id))
    invoices._total(note)


def create(session: Session, actor, data: dict, key, *, customer_id=None, invoice_id=None) -> CreditNote:
    """Issue a credit note (committed): against the invoice `invoice_id` (its outstanding paid first,
    the rest account credit), else against the customer `customer_id` (all account credit).
    `data`: description, credit_date, notes, breakdown_style, lines (as an invoice's, each with an
    optional invoice_line_id).

    Raises Forbidden, NotFound (outside the actor's scope), Invalid (the fields; an invoice that is
    a draft or void; a total above what is left to credit on the invoice, on "total"),
    AlreadyDone (the same key again)."""
    permissions.require(session, actor, POST_MONEY, message="You may not raise credit notes.")
    invoice = None
    if invoice_id not in (None, ""):
        invoice = invoices.get_invoice(session, actor, invoice_id)
        _check_creditable(invoice)
        customer_id = invoice.customer_id
    elif customer_id in (None, ""):
        raise Invalid({"customer_id": "Name the invoice to credit (invoice_id) or the customer (customer_id)."})
    customer = get_customer(session, actor, customer_id)
    values = _clean(session, customer, data, invoice)
    invoices._claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    note = CreditNote(customer_id=customer.id, currency=customer.currency, status="issued",
                      credit_date=values["credit_date"], description=values["description"], notes=values["notes"],
                      breakdown_style=values["breakdown_style"], invoice_id=invoice.id if invoice else None,
                      created_by_id=getattr(actor, "id", None))
    _write_lines(session, customer, note, values)  # before it is added: one audit entry
    if note.total <= 0:
        raise Invalid({"lines": "A credit note's total must be more than zero."})
    if invoice is not None:
        session.refresh(invoice)  # as it is now, under the lock
        _check_creditable(invoice)
        if invoice.currency != customer.currency:
            raise Invalid({"currency": f"Invoice {invoice.number} is in {invoice.currency}: it cannot be credited "
                                       f"in {customer.currency}."})
        left = left_to_credit(session, invoice)
        if note.total > left:
            raise Invalid({"total": f"This credit note comes to {money.format(note.total, note.currency)}, but only "
                                    f"{money.format(left, invoice.currency)} of invoice {invoice.number} is left to "
                                    "credit: lower the lines."})
    # Read before any change: a query amid the changes would flush half of them.
    number = invoices._next_number(session, SEQUENCE, PREFIX)
    address = invoices.billing_address(session, customer, invoice)  # the invoice's addressee, if it names one
    rate, rate_on = fx.issued_rate(session, customer.currency, values["credit_date"], customer.id)
    source = Payment(customer_id=customer.id, currency=customer.currency, kind="credit_note", amount=note.total,
                     unallocated=note.total, is_credit=True, received_on=values["credit_date"], reference=number,
                     invoice_id=invoice.id if invoice else None, created_by_id=getattr(actor, "id", None))
    session.add(source)
    session.flush()
    note.number, note.payment_id, note.billing_address = number, source.id, address
    note.fx_rate, note.fx_rate_on = rate, rate_on
    session.add(note)
    session.flush()
    ledger.post(session, customer, -note.total, "credit_note", note, note.credit_date, actor, note.description)
    if invoice is not None and invoices.is_open(invoice) and invoice.outstanding > 0:
        payments.allocate_to(session, actor, source, invoice, min(note.total, invoice.outstanding), note.credit_date)
    source.is_credit = source.unallocated > 0  # any of it left as account credit
    commit(session)
    return note


def void(session: Session, actor, credit_note_id, reason, key) -> CreditNote:
    """Void a credit note (committed): what it paid on invoices is reversed (they owe it again), what
    is left of it is withdrawn, the number stays. Refused when any of it was refunded."""
    permissions.require(session, actor, POST_MONEY, message="You may not void credit notes.")
    note = get_credit_note(session, actor, credit_note_id)
    errors = FieldErrors()
    reason = fields.text(errors, "reason", reason, 255, required=True, label="Reason")
    errors.raise_if_any()
    invoices._claim(session, key)
    ledger.lock(session, note.customer_id)
    session.refresh(note)
    if note.status == "void":
        raise AlreadyDone(f"Credit note {note.number} was already void.")
    source = session.get(Payment, note.payment_id, populate_existing=True)
    refunded = session.scalar(select(func.coalesce(func.sum(Release.amount), 0))
                              .where(Release.payment_id == source.id, Release.kind == "refund"))
    if refunded:
        raise Invalid({"status": f"{money.format(refunded, source.currency)} of credit note {note.number} was "
                                 "refunded to the customer: it cannot be voided (that money has left). Add a "
                                 "charge instead."})
    today = date.today()
    _reverse_allocations(session, actor, source, today)
    if source.unallocated > 0:
        payments._release(session, actor, source, "void", source.unallocated,
                          {"released_on": today, "reason": f"Credit note {note.number} voided: {reason}"[:255]})
    note.status, note.voided_at, note.void_reason = "void", datetime.now(timezone.utc), reason
    commit(session)
    return note


def _reverse_allocations(session: Session, actor, source: Payment, on: date) -> None:
    """Every allocation of `source` not yet reversed gets its reversal; its invoice owes it again."""
    reversed_ids = select(Allocation.reverses_id).where(Allocation.payment_id == source.id,
                                                        Allocation.reverses_id.is_not(None))
    live = list(session.scalars(select(Allocation).where(
        Allocation.payment_id == source.id, Allocation.amount > 0, Allocation.id.not_in(reversed_ids))))
    owed = {i.id: i for i in session.scalars(
        select(Invoice).where(Invoice.id.in_({a.invoice_id for a in live})).execution_options(populate_existing=True))}
    for allocation in live:
        session.add(Allocation(payment_id=source.id, invoice_id=allocation.invoice_id,
                               customer_id=allocation.customer_id, currency=allocation.currency,
                               amount=-allocation.amount, allocated_on=on, reverses_id=allocation.id,
                               created_by_id=getattr(actor, "id", None)))
        invoice = owed[allocation.invoice_id]  # not void: a void invoice's allocations were reversed with it
        source.unallocated += allocation.amount
        invoice.outstanding += allocation.amount
        invoice.status = invoices.status_for(invoice)
    session.flush()

