"""Cash allocation (Commusoft's): one screen per customer that pays its open invoices from a payment
entered there or from credit it already has, row by row, with small write-offs; and un-allocation.

The screen (`screen`) lists the customer's open invoices oldest first and its sources with an
unallocated rest (overpayments, external payments, manual credits, credit notes). "Allocate oldest
first" is `oldest_first`: the same filling `save` checks against, computed here so that what the
screen shows is what saving does.

`save` is one transaction under the customer's money lock: a new payment (one method) or an existing
credit, an allocation row per invoice (dated: the payment's date by default), small write-offs; a new
payment's excess stays its unallocated rest (account credit). Every row's outstanding and the
source's rest are read again after the lock and compared with what the screen showed: when another
user changed them meanwhile nothing is written and Invalid names the rows (payments.CHANGED).

A small write-off clears what is left of an invoice (at most the company's `write_off_limit`, in the
base currency; WRITE_OFF permission: Finance and Admin) with a reason. It is a source of kind
"write_off", posted to the ledger and fully allocated to its invoice, so the ledger check balances as
for any payment; it is never account credit, and it cannot be un-allocated (void the invoice).

`unallocate` reverses one allocation (a new row with the negative amount naming it): that invoice
owes it again and its source has it back as credit; the source's other allocations stay.

An invoice issued for a customer whose `use_credit` (else the company's `use_credit_default`) is
"automatic" is paid from its credit, oldest credit first, in the issuing transaction
(`use_credit_on_issue`, called by invoices._issue); under "ask" the issuing screen shows the credit
(`credit_offer`) and it is used when the issuer says so.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Allocation, CompanySettings, Customer, Invoice, Payment
from app.models.customers import USE_CREDIT
from app.services import fields, money, permissions
from app.services.billing import POST_MONEY, WRITE_OFF, ledger, payments
from app.services.billing.invoices import _claim, check_currency, is_open, status_for
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import customer_scope, get_customer
from app.services.settings import settings

ZERO = Decimal(0)
MAX_ROWS = 1000  # invoices allocated in one save (the screen shows at most this many)
USE_CREDIT_DEFAULT = "off"
WRITE_OFF_LIMIT_DEFAULT = Decimal("5.00")
CHANGED = payments.CHANGED
NO_INVOICE = "No such open invoice of this customer."  # missing, another customer's, out of scope: alike


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    number: str
    issue_date: date
    due_date: date | None
    total: Decimal
    outstanding: Decimal
    days_overdue: int


@dataclass(frozen=True)
class SourceRow:
    id: int
    kind: str
    received_on: date
    reference: str | None
    amount: Decimal
    unallocated: Decimal


@dataclass(frozen=True)
class Screen:
    customer: Customer
    invoices: list[InvoiceRow]
    sources: list[SourceRow]
    credit: Decimal  # the customer's account credit: the sources' rests
    write_off_limit: Decimal  # in the base currency
    may_write_off: bool


@dataclass(frozen=True)
class Plan:
    """Oldest first: {invoice id: amount} in the order of the invoices, and what would be left over
    (the excess that becomes account credit)."""
    rows: dict[int, Decimal]
    excess: Decimal


@dataclass
class Saved:
    """What a save did: the source used (a new payment or existing credit), its allocations, the
    write-offs, and what of the source is left as account credit."""
    source: Payment
    currency: str
    new: bool  # a payment entered on the screen (its excess becomes account credit)
    allocations: list[Allocation] = field(default_factory=list)
    write_offs: list[Payment] = field(default_factory=list)
    credit: Decimal = ZERO
    # Tallied before the commit (which expires the rows: reading them again would be a query each).
    allocated: Decimal = ZERO
    invoice_count: int = 0
    written_off: Decimal = ZERO

    def tally(self) -> None:
        self.credit = self.source.unallocated
        self.allocated = sum((a.amount for a in self.allocations), ZERO)
        self.invoice_count = len({a.invoice_id for a in self.allocations})
        self.written_off = sum((w.amount for w in self.write_offs), ZERO)

    @property
    def message(self) -> str:
        """"£120.00 allocated to 3 invoices; £5.00 becomes account credit"."""
        parts = []
        if self.invoice_count:
            count = self.invoice_count
            parts.append(f"{money.format(self.allocated, self.currency)} allocated to {count} "
                         f"invoice{'' if count == 1 else 's'}")
        if self.write_offs:
            parts.append(f"{money.format(self.written_off, self.currency)} written off")
        if self.credit > 0:
            parts.append(f"{money.format(self.credit, self.currency)} "
                         f"{'becomes account credit' if self.new else 'is left as account credit'}")
        return "; ".join(parts) or "Nothing was allocated."


# --- reading ----------------------------------------------------------------------------------------

def days_overdue(invoice: Invoice, today: date) -> int:
    """Whole days past the due date (0 when not yet due or with no due date)."""
    return max(0, (today - invoice.due_date).days) if invoice.due_date else 0


def credit_sources(session: Session, customer_id: int) -> list[Payment]:
    """The customer's sources with an unallocated rest, oldest first (never a write-off)."""
    return list(session.scalars(
        select(Payment).where(Payment.customer_id == customer_id, Payment.unallocated > 0,
                              Payment.kind != "write_off")
        .order_by(Payment.received_on, Payment.id).execution_options(populate_existing=True)))


def credit_available(session: Session, customer_id: int) -> Decimal:
    """The customer's account credit (what issuing with "ask" offers to use)."""
    return Decimal(session.scalar(select(func.coalesce(func.sum(Payment.unallocated), 0)).where(
        Payment.customer_id == customer_id, Payment.unallocated > 0, Payment.kind != "write_off")))


def write_off_limit(session: Session) -> Decimal:
    """The most a small write-off may be, in the base currency (the company's, else the default)."""
    row = session.get(CompanySettings, 1)
    limit = row.write_off_limit if row is not None else None
    return WRITE_OFF_LIMIT_DEFAULT if limit is None else limit


def use_credit(session: Session, customer: Customer) -> str:
    """"off", "automatic" or "ask": the customer's own choice, else the company's default."""
    if customer.use_credit in USE_CREDIT:
        return customer.use_credit
    row = session.get(CompanySettings, 1)
    chosen = row.use_credit_default if row is not None else None
    return chosen if chosen in USE_CREDIT else USE_CREDIT_DEFAULT


def screen(session: Session, actor, customer_id) -> Screen:
    """What the allocation screen shows for a customer in `actor`'s scope (NotFound otherwise)."""
    customer = get_customer(session, actor, customer_id)
    today = date.today()
    rows = [InvoiceRow(i.id, i.number, i.issue_date, i.due_date, i.total, i.outstanding, days_overdue(i, today))
            for i in payments.open_invoices(session, customer.id)]
    sources = [SourceRow(p.id, p.kind, p.received_on, p.reference, p.amount, p.unallocated)
               for p in credit_sources(session, customer.id)]
    limit = write_off_limit(session)  # 0: no write-offs, the column is not shown
    return Screen(customer, rows, sources, sum((s.unallocated for s in sources), ZERO), limit,
                  limit > 0 and permissions.may(session, actor, WRITE_OFF))


def _fill(invoices: list[Invoice], amount: Decimal) -> Plan:
    rows, left = {}, amount
    for invoice in invoices:
        if left <= 0:
            break
        part = min(left, invoice.outstanding)
        if part > 0:
            rows[invoice.id] = part
            left -= part
    return Plan(rows, left)


def oldest_first(session: Session, actor, customer_id, amount) -> Plan:
    """`amount` (in the customer's currency) spread over the open invoices oldest first."""
    customer = get_customer(session, actor, customer_id)
    value = money.parse(amount, customer.currency)
    if value < 0:
        raise Invalid({"amount": "The amount cannot be below zero."})
    return _fill(payments.open_invoices(session, customer.id), value)


# --- saving -----------------------------------------------------------------------------------------

@dataclass
class _Row:
    index: int
    invoice: Invoice
    amount: Decimal
    seen: Decimal | None


@dataclass
class _WriteOff:
    index: int
    invoice: Invoice
    amount: Decimal | None  # None: whatever is left of the invoice
    reason: str


def _invoices(session: Session, actor, customer: Customer, ids) -> dict[int, Invoice]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(
        select(Invoice).join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.id.in_(wanted), Invoice.customer_id == customer.id, customer_scope(actor))
        .execution_options(populate_existing=True))}


def _listed(errors: FieldErrors, name: str, value) -> list:
    if value in (None, ""):
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(r, dict) for r in value):
        errors.add(name, "Send a list of rows.")
        return []
    if len(value) > MAX_ROWS:
        errors.add(name, f"At most {MAX_ROWS} invoices at a time.")
        return []
    return list(value)


def _invoice_of(errors: FieldErrors, name: str, found: dict, value, customer: Customer) -> Invoice | None:
    invoice = found.get(fields.record_id(value)) if value not in (None, "") else None
    if invoice is None:
        errors.add(name, NO_INVOICE if value not in (None, "") else "Pick an invoice.")
        return None
    if invoice.currency != customer.currency:
        errors.add(name, f"Invoice {invoice.number} is in {invoice.currency}, this customer in {customer.currency}.")
        return None
    if not is_open(invoice):
        errors.add(name, f"Invoice {invoice.number or invoice.id} is "
                         f"{payments.STATUS_WORDS.get(invoice.status, invoice.status)}: nothing can be paid on it.")
        return None
    return invoice


def _rows(errors: FieldErrors, session: Session, actor, customer: Customer, data: dict):
    rows = _listed(errors, "rows", data.get("rows"))
    offs = _listed(errors, "write_offs", data.get("write_offs"))
    found = _invoices(session, actor, customer, [fields.record_id(r.get("invoice_id")) for r in rows + offs])
    out, seen_rows = [], {}
    for i, row in enumerate(rows):
        name = f"rows.{i}."
        invoice = _invoice_of(errors, name + "invoice_id", found, row.get("invoice_id"), customer)
        amount = money.amount(errors, name + "amount", row.get("amount"), customer.currency, label="Amount")
        seen = row.get("seen_outstanding")
        seen = fields.decimal_number(seen) if seen not in (None, "") else None
        if row.get("seen_outstanding") not in (None, "") and seen is None:
            errors.add(name + "seen_outstanding", "Reload the screen: this row's outstanding is not a number.")
        if invoice is None:
            continue
        if invoice.id in seen_rows:
            errors.add(name + "invoice_id", f"Invoice {invoice.number} is already in row {seen_rows[invoice.id] + 1}.")
            continue
        seen_rows[invoice.id] = i
        if amount is None:
            continue
        if amount < 0:
            errors.add(name + "amount", "The amount to allocate cannot be below zero.")
        elif amount > invoice.outstanding and (seen is None or seen == invoice.outstanding):
            errors.add(name + "amount", f"Only {money.format(invoice.outstanding, invoice.currency)} of invoice "
                                        f"{invoice.number} is outstanding.")
        elif amount > 0:
            out.append(_Row(i, invoice, amount, seen))
    write_offs, written = [], set()
    for i, row in enumerate(offs):
        name = f"write_offs.{i}."
        invoice = _invoice_of(errors, name + "invoice_id", found, row.get("invoice_id"), customer)
        given = row.get("amount")
        amount = money.amount(errors, name + "amount", given, customer.currency, label="Amount") \
            if given not in (None, "") else None
        if amount is not None and amount <= 0:
            errors.add(name + "amount", "A write-off must be more than zero.")
        reason = fields.text(errors, name + "reason", row.get("reason"), 255, required=True, label="Reason")
        if invoice is None:
            continue
        if invoice.id in written:
            errors.add(name + "invoice_id", f"Invoice {invoice.number} is written off once.")
            continue
        written.add(invoice.id)
        write_offs.append(_WriteOff(i, invoice, amount, reason))
    return out, write_offs


def _source(errors: FieldErrors, session: Session, actor, customer: Customer, data: dict):
    """(the existing source, None) or (None, the new payment's values)."""
    if data.get("source_id") not in (None, ""):
        if data.get("amount") not in (None, ""):
            errors.add("amount", "Enter a payment or pick existing credit, not both.")
        try:
            source = payments.get_source(session, actor, data["source_id"])
        except NotFound:
            source = None
        if source is None or source.customer_id != customer.id or source.kind == "write_off":
            errors.add("source_id", "Pick one of this customer's credits.")
            return None, None
        return source, None
    return None, payments._received(errors, session, customer, data, method_required=True)


def save(session: Session, actor, customer_id, data: dict, key) -> Saved:
    """Allocate a new payment (`received_on`, `method_id`, `reference`, `amount`) or an existing credit
    (`source_id`, optional `seen_unallocated`) to the customer's invoices (`rows`: invoice_id, amount,
    seen_outstanding), dated `allocated_on` (default: the payment's date, else today), with small
    write-offs (`write_offs`: invoice_id, reason, amount: default what is left); committed.

    Raises Forbidden (no POST_MONEY; write-offs without WRITE_OFF), NotFound (a customer outside the
    scope), Invalid (field errors "rows.<i>.amount"..., nothing written; CHANGED and the rows' own
    "rows.<i>.seen_outstanding" when another user changed them meanwhile), AlreadyDone (the key again)."""
    permissions.require(session, actor, POST_MONEY, message="You may not allocate payments.")
    customer = get_customer(session, actor, customer_id)
    if data.get("write_offs"):
        permissions.require(session, actor, WRITE_OFF, message="You may not write off amounts.")
    # Claimed first: a form sent twice is told it was done, not that its invoices are paid now.
    _claim(session, key)
    errors = FieldErrors()
    check_currency(errors, customer, data)
    source, values = _source(errors, session, actor, customer, data)
    on = fields.a_date(errors, "allocated_on", data.get("allocated_on"))
    rows, write_offs = _rows(errors, session, actor, customer, data)
    total = sum((r.amount for r in rows), ZERO)
    seen_rest = data.get("seen_unallocated")
    seen_rest = fields.decimal_number(seen_rest) if seen_rest not in (None, "") else None
    if values is not None and values["amount"] is not None and total > values["amount"]:
        errors.add("amount", f"The rows come to {money.format(total, customer.currency)}, more than the payment.")
    if source is not None and total > source.unallocated and seen_rest in (None, source.unallocated):
        errors.add("total", f"The rows come to {money.format(total, customer.currency)}, but only "
                            f"{money.format(source.unallocated, customer.currency)} of this credit is left.")
    if source is not None and not rows and not write_offs:
        errors.add("rows", "Enter an amount to allocate on at least one invoice.")
    errors.raise_if_any()
    customer = ledger.lock_as_read(session, customer)
    _check_unchanged(session, rows, write_offs, source, seen_rest, total)
    written_off = [_write_off_amount(session, off, rows) for off in write_offs]  # checked before any write
    new = source is None
    if new:
        source = payments._source(session, actor, customer, "payment", values, is_credit=values["amount"] > total)
    on = on or (source.received_on if new else date.today())
    saved = Saved(source, customer.currency, new)
    for row in rows:
        saved.allocations.append(payments.allocate_to(session, actor, source, row.invoice, row.amount, on))
    for off, amount in zip(write_offs, written_off):
        saved.write_offs.append(_write_off(session, actor, customer, off, amount, on))
    saved.tally()
    commit(session)
    return saved


def _check_unchanged(session: Session, rows: list[_Row], write_offs: list[_WriteOff], source: Payment | None,
                     seen_rest: Decimal | None, total: Decimal) -> None:
    """After the lock: every row's invoice as the screen showed it, the credit's rest too. Raises
    Invalid (CHANGED and each changed row) otherwise: nothing is written."""
    changed = FieldErrors()
    ids = {r.invoice.id for r in rows} | {o.invoice.id for o in write_offs}
    if ids:  # read again in one query: the rows' invoices are these same objects, refreshed
        session.scalars(select(Invoice).where(Invoice.id.in_(ids)).execution_options(populate_existing=True)).all()
    for row in rows:
        invoice = row.invoice
        if not is_open(invoice):
            changed.add(f"rows.{row.index}.seen_outstanding", f"Invoice {invoice.number} is "
                        f"{payments.STATUS_WORDS.get(invoice.status, invoice.status)} now.")
        elif (row.seen is not None and row.seen != invoice.outstanding) or row.amount > invoice.outstanding:
            changed.add(f"rows.{row.index}.seen_outstanding", f"Invoice {invoice.number} has "
                        f"{money.format(invoice.outstanding, invoice.currency)} outstanding now.")
    for off in write_offs:
        if not is_open(off.invoice):
            changed.add(f"write_offs.{off.index}.invoice_id", f"Invoice {off.invoice.number} is "
                        f"{payments.STATUS_WORDS.get(off.invoice.status, off.invoice.status)} now.")
    if source is not None:
        session.refresh(source)
        if (seen_rest is not None and seen_rest != source.unallocated) or total > source.unallocated:
            changed.add("seen_unallocated", f"Only {money.format(source.unallocated, source.currency)} of this "
                                            "credit is left now.")
    if changed.errors:
        names = sorted(k for k in changed.errors if k.startswith(("rows.", "write_offs.")))
        what = f"{len(names)} row{'s' if len(names) != 1 else ''}" if names else "the credit"
        raise Invalid({CHANGED: f"Another user changed {what} meanwhile: nothing was saved. Reload and check "
                                "the amounts.", **changed.errors})


def _write_off_amount(session: Session, off: _WriteOff, rows: list[_Row]) -> Decimal:
    """What the write-off clears: the rest of its invoice after this save's rows. Invalid when the
    amount given is not that rest, or it is above the limit (in the base currency)."""
    invoice, name = off.invoice, f"write_offs.{off.index}.amount"
    left = invoice.outstanding - sum((r.amount for r in rows if r.invoice.id == invoice.id), ZERO)
    amount = left if off.amount is None else off.amount
    if amount <= 0 or amount != left:
        raise Invalid({name: f"A write-off clears what is left of invoice {invoice.number}: "
                             f"{money.format(left, invoice.currency)} after this allocation."})
    limit = write_off_limit(session)
    in_base = _in_base(invoice, amount)
    if in_base is None:
        raise Invalid({name: f"No rate from {invoice.currency} to {settings.base_currency} is known for this "
                             "invoice: the write-off cannot be checked against the limit."})
    if in_base > limit:
        raise Invalid({name: f"At most {money.format(limit, settings.base_currency)} can be written off; "
                             f"this is {money.format(in_base, settings.base_currency)}."})
    return amount


def _write_off(session: Session, actor, customer: Customer, off: _WriteOff, amount: Decimal, on: date) -> Payment:
    """A "write_off" source for `amount`, posted and allocated to its invoice (never account credit)."""
    source = payments._source(session, actor, customer, "write_off", {
        "amount": amount, "received_on": on, "method_id": None, "reference": off.invoice.number, "notes": None,
        "reason": off.reason}, invoice_id=off.invoice.id, is_credit=False)
    payments.allocate_to(session, actor, source, off.invoice, amount, on)
    return source


def _in_base(invoice: Invoice, amount: Decimal) -> Decimal | None:
    """`amount` of the invoice in the base currency, at the rate it was issued with."""
    if invoice.currency == settings.base_currency:
        return amount
    if invoice.fx_rate is None:
        return None
    return money.quantize(amount * invoice.fx_rate, settings.base_currency)


# --- un-allocating ----------------------------------------------------------------------------------

def get_allocation(session: Session, actor, allocation_id) -> Allocation:
    """One allocation whose customer `actor` may see (NotFound otherwise)."""
    number = fields.record_id(allocation_id)
    allocation = None
    if number is not None:
        allocation = session.scalars(select(Allocation).join(Customer, Customer.id == Allocation.customer_id)
                                     .where(Allocation.id == number, customer_scope(actor))).first()
    if allocation is None:
        raise NotFound("No such allocation.")
    return allocation


def unallocate(session: Session, actor, allocation_id, key) -> Allocation:
    """Reverse one allocation (committed): a new row with its negative amount, dated today, naming it;
    its invoice owes that again (status from what is left), its source has it back as account credit.
    Refused (Invalid) for a reversal, an allocation already reversed, a write-off's."""
    permissions.require(session, actor, POST_MONEY, message="You may not un-allocate payments.")
    allocation = get_allocation(session, actor, allocation_id)
    _claim(session, key)
    ledger.lock(session, allocation.customer_id)
    if allocation.amount < 0 or allocation.reverses_id is not None:
        raise Invalid({"allocation_id": "This row is itself an un-allocation: it cannot be reversed."})
    if session.scalar(select(Allocation.id).where(Allocation.reverses_id == allocation.id)) is not None:
        raise Invalid({"allocation_id": "This allocation was already reversed."})
    source = session.get(Payment, allocation.payment_id, populate_existing=True)
    invoice = session.get(Invoice, allocation.invoice_id, populate_existing=True)
    if source.kind == "write_off":
        raise Invalid({"allocation_id": f"This is invoice {invoice.number}'s write-off: it is not money that can "
                                        "go to another invoice. Void the invoice to undo it."})
    reversal = Allocation(payment_id=source.id, invoice_id=invoice.id, customer_id=allocation.customer_id,
                          currency=allocation.currency, amount=-allocation.amount, allocated_on=date.today(),
                          reverses_id=allocation.id, created_by_id=getattr(actor, "id", None))
    session.add(reversal)
    source.unallocated += allocation.amount
    source.is_credit = True  # one of the customer's credits now
    invoice.outstanding += allocation.amount
    invoice.status = status_for(invoice)
    commit(session)
    return reversal


# --- account credit used when an invoice is issued ---------------------------------------------------

def credit_offer(session: Session, customer: Customer) -> Decimal | None:
    """The credit to offer when one of the customer's invoices is issued: its account credit when its
    setting is "ask" and it has some; None otherwise (nothing to ask)."""
    if use_credit(session, customer) != "ask":
        return None
    credit = credit_available(session, customer.id)
    return credit if credit > 0 else None


def _yes(asked) -> bool:
    """The issuer's answer: a checkbox's "1"/"on"/absent, JSON's true/false/null; anything else is refused."""
    if asked is None or isinstance(asked, bool):
        return bool(asked)
    if isinstance(asked, str) and asked.strip().lower() in ("", "0", "1", "on", "true", "false", "yes", "no"):
        return fields.boolean(asked)
    raise Invalid({"use_credit": "Say whether to use the account credit: true or false."})


def use_credit_on_issue(session: Session, actor, customer: Customer, invoice: Invoice,
                        asked=None) -> list[Allocation]:
    """In the issuing transaction (customer locked): when the customer's setting is "automatic", or
    "ask" and the issuer said yes (`asked`: a form's "1" or JSON's true), pay the invoice from its
    credit, oldest credit first, dated the invoice's issue date. Under "off" and "automatic" the
    answer is not heeded: the setting decides."""
    mode = use_credit(session, customer)
    if mode == "off" or (mode == "ask" and not _yes(asked)):
        return []
    done = []
    for source in credit_sources(session, customer.id):
        if invoice.outstanding <= 0:
            break
        amount = min(source.unallocated, invoice.outstanding)
        done.append(payments.allocate_to(session, actor, source, invoice, amount, invoice.issue_date))
    return done


def recent(session: Session, actor, customer_id, limit: int, before=None) -> list[dict]:
    """The customer's latest allocations, newest first (by id: the order they were written), those
    older than the allocation `before` when it is given (a page further down), each with its invoice's
    number, its source's kind and reference, whether it was reversed, and whether `unallocate` would
    take it (not a reversal, not reversed, not a write-off's). Raises NotFound (missing or out of
    scope)."""
    customer = get_customer(session, actor, customer_id)
    query = (select(Allocation, Invoice.number, Payment.kind, Payment.reference)
             .join(Invoice, Invoice.id == Allocation.invoice_id).join(Payment, Payment.id == Allocation.payment_id)
             .where(Allocation.customer_id == customer.id))
    before = fields.record_id(before)
    if before is not None:
        query = query.where(Allocation.id < before)
    rows = session.execute(query.order_by(Allocation.id.desc()).limit(limit)).all()
    ids = [a.id for a, *_ in rows]
    reversed_ids = set(session.scalars(select(Allocation.reverses_id).where(Allocation.reverses_id.in_(ids))))
    return [{"row": a, "number": number, "kind": kind, "reference": reference, "reversed": a.id in reversed_ids,
             "may_undo": a.amount > 0 and a.reverses_id is None and a.id not in reversed_ids
             and kind != "write_off"} for a, number, kind, reference in rows]
