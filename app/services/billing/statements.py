"""Customer statements (issue 16; Commusoft's "Statements"): what a customer owes, as at a date or over a
period, with its ageing as of the statement's date.

Two kinds:
- **Outstanding as at a date** (the default): the invoices unpaid at that date, each with what was
  outstanding on it then, and the credits unallocated then. Outstanding at a date is rebuilt from the
  allocations dated on or before it (and the voids and releases of that date or before), never from
  today's figures.
- **Activity for a period**: the balance brought forward (opening, the day before the period), every
  document, payment and allocation of the period in date order with a running balance, the closing
  balance.

Ageing is as of the statement's date, by each invoice's due date (its issue date when it has none):
not yet due, 1-30, 31-60, 61-90, over 90 days. The buckets minus the unallocated credit equal the
closing balance.

The records below are what the screen, the PDF (statement_documents) and the e-mail show: one
statement, built once, is what all three read.

Grouped by contact (the customer's "group statements by contact"; Commusoft's "Group Statements by
Customer Contact"): by_contact splits an outstanding statement into one statement per billing contact,
whom its documents were made out to: the customer itself, or an additional invoice address (an insurer,
a landlord) its invoices were issued to. The groups' lines and credits partition the statement's, so
their closing balances sum to its closing balance. An activity statement is never grouped: its opening
and running balances are the account's, one ledger per customer.

As at a date (as_at.py's rule, the aged receivables' too): an invoice counts when issued on or before
the date and not voided on or before it, owing its total less the allocations that count by then; a
source (a payment's overpayment, an external payment, a manual credit, a credit note) has its amount
less those allocations less its refunds and voided credit dated on or before the date. A write-off is
never account credit: it is allocated to its invoice the day it is made, so it has no rest; only one
dated before its invoice's issue date is, until that date, what the ledger says it is (money off the
customer's balance, no invoice yet): a credit (kind "write_off"). A balance adjustment ("Edit balance") pays no invoice and is paid by nothing: an increase is a
line of its own aged from its date, a decrease a credit of its own.

The ledger: the closing balance is the customer's ledger balance as at the date (the sum of its
entries effective on or before it). What was found and decided to keep them equal:
- An allocation dated before its source arrived or before its invoice was issued (credit used by an
  invoice back-dated before the payment, "automatic"; a credit note dated before the invoice it pays;
  an allocation date typed earlier than either) would take money off the invoice on a day the ledger
  had not yet seen the payment, or off the source on a day the invoice was not yet owed. It counts from
  the latest of its dates, on both sides, so the ledger and the statement agree at every date.
- An un-allocation dated before the allocation it reverses (an allocation dated in the future, undone
  today) counts from the reversed allocation's date: the pair nets to nothing, and an invoice never
  shows more outstanding than its total.
- Allocations back-dated before an un-allocation (allocated, undone, then allocated again with an
  earlier date) can, between those dates, take more off an invoice than it was issued for: the
  invoice is then shown with what it really had outstanding by the rows' dates, below zero.
- A refund or withdrawn credit dated before its source was received counts at its own date, as the
  ledger posts it: that source's rest is below zero between the two dates (shown as such), rather than
  the statement disagreeing with the ledger.
- Left as it is (a ledger matter, noted): an invoice issued with a future date and voided before that
  date. The ledger posts the void on the day it is done, before the invoice; the statement leaves the
  invoice out until its issue date and from then on (it nets to nothing), so between the void and the
  issue date the ledger is lower than the statement by the invoice's total.

Amounts are Decimals rounded to the currency's minor units (money.quantize), never floats. Each
statement is a handful of set-based SELECTs whatever the number of invoices.

Who may read one: whoever may see the customer, as the Finances tab (finances.py) decides: the
customer is loaded through the user's scope (another reseller's customer is NotFound, as a missing
one); the routes' own permission (can_show on the customers) does the rest.
"""
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from app.models import Adjustment, Allocation, CreditNote, Customer, Invoice, InvoiceAddress, LedgerEntry, Payment, \
    PaymentMethod, Release
from app.services import money
from app.services.billing import address_format, as_at as at
from app.services.billing.invoices import billing_address
from app.services.errors import Invalid, NotFound
from app.services.scope import get_customer

KINDS = ("outstanding", "activity")
CUSTOMER = "customer"  # the customer's own group of a statement grouped by contact
BUCKETS = ("Not yet due", "1-30 days", "31-60 days", "61-90 days", "Over 90 days")


@dataclass(frozen=True)
class StatementLine:
    on: date  # the line's date (an invoice's issue date, a payment's received date, an allocation's date)
    kind: str  # "invoice", "credit_note", "payment", "external", "credit", "allocation", "refund", "void", ...
    reference: str  # the document's number or the payment's reference ("" when it has none)
    description: str  # in words: "Invoice INV-12", "Payment by card", "Allocated to INV-12"
    due_on: date | None = None  # an invoice's due date
    amount: Decimal = Decimal(0)  # what it did to the balance: + the customer owes more, - less, 0 (allocation)
    total: Decimal | None = None  # a document's total (outstanding statements: the invoice's; a credit's amount)
    outstanding: Decimal | None = None  # outstanding statements: what was left of it at the date (a credit: its rest)
    balance: Decimal | None = None  # activity statements: the running balance after this line
    days_overdue: int | None = None  # as of the statement's date (outstanding statements)
    allocated: Decimal | None = None  # an allocation line: what it moved (negative: an un-allocation)
    document_id: int | None = None  # the record it is of: an invoice line's invoice, a credit's payment (its source);
    # activity: the ledger entry's source (an invoice, payment, release, credit note or adjustment)


@dataclass(frozen=True)
class Ageing:
    as_at: date
    buckets: tuple[Decimal, Decimal, Decimal, Decimal, Decimal]  # in BUCKETS' order
    credit: Decimal  # unallocated credit at the date (positive)

    @property
    def total(self) -> Decimal:
        """What is owed: the buckets less the credit (the closing balance)."""
        return sum(self.buckets, Decimal(0)) - self.credit


@dataclass(frozen=True)
class Statement:
    kind: str  # one of KINDS
    customer_id: int
    customer_name: str
    currency: str
    billing_address: str  # as the customer's invoice settings address it (lines joined by "\n")
    as_at: date  # the statement's date: an outstanding statement's date, an activity statement's last day
    ageing: Ageing
    closing_balance: Decimal
    lines: list[StatementLine] = field(default_factory=list)  # invoices (outstanding) or every entry (activity)
    credits: list[StatementLine] = field(default_factory=list)  # outstanding: the credits unallocated at the date
    start: date | None = None  # activity: the period's first day
    opening_balance: Decimal | None = None  # activity: the balance the day before `start`
    contact_name: str | None = None  # grouped by contact (by_contact): the billing contact it is for
    contact_id: int | None = None  # grouped: the additional invoice address it is for (None: the customer's own)

    @property
    def contact(self) -> str:
        """The group's key in a query string: "customer" or the additional address's id."""
        return str(self.contact_id) if self.contact_id is not None else CUSTOMER


ZERO = Decimal(0)
# Ageing: the first day past the due date each bucket after "Not yet due" starts at.
BUCKET_STARTS = (1, 31, 61, 91)
PAYMENT_WORDS = {"payment": "Payment", "external": "External payment", "credit": "Credit",
                 "credit_note": "Credit note", "write_off": "Write-off"}


def bucket_of(days_overdue: int) -> int:
    """The index in BUCKETS of an amount `days_overdue` days past its due date (<= 0: not yet due)."""
    return sum(1 for start in BUCKET_STARTS if days_overdue >= start)


@dataclass(frozen=True)
class _Rebuilt:
    lines: list[StatementLine]
    credits: list[StatementLine]
    ageing: Ageing
    closing: Decimal


def outstanding(session: Session, actor, customer_id, as_at: date) -> Statement:
    """The outstanding statement as at the end of `as_at`: the invoices (and balance increases) unpaid
    then, oldest due first, each with its total, what was outstanding on it then and its days overdue;
    the credits unallocated then; the ageing; the closing balance. Raises NotFound (missing or out of
    `actor`'s scope)."""
    return outstanding_for(session, get_customer(session, actor, customer_id), as_at)


def outstanding_for(session: Session, customer: Customer, as_at: date) -> Statement:
    """The outstanding statement (see outstanding) of a customer already loaded within its reader's
    scope: a batch's job (statement_batch.py) whose customers were chosen in scope when it started."""
    built = _rebuild(session, customer, as_at)
    return Statement(kind="outstanding", customer_id=customer.id, customer_name=customer.name,
                     currency=customer.currency, billing_address=billing_address(session, customer), as_at=as_at,
                     ageing=built.ageing, closing_balance=built.closing, lines=built.lines, credits=built.credits)


def activity(session: Session, actor, customer_id, start: date, end: date) -> Statement:
    """The activity statement from `start` to `end` (both included): the balance at the end of the day
    before `start`, every posting of the period (invoices, voids, payments and credits, credit notes,
    refunds and withdrawn credit, write-offs, balance adjustments) and every allocation (amount 0: it
    moves money between documents, not the balance) in date order with the running balance, the
    closing balance; its ageing and credits as at `end`. Raises NotFound (missing or out of scope),
    Invalid (a period that ends before it starts)."""
    customer = get_customer(session, actor, customer_id)
    if end < start:
        raise Invalid({"end": "The period cannot end before it starts."})
    currency = customer.currency
    opening = money.quantize(session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.customer_id == customer.id, LedgerEntry.effective_on < start)), currency)
    found = _postings(session, customer, start, end) + _allocation_lines(session, customer, start, end)
    found.sort(key=lambda item: item[0])
    lines, running = [], opening
    for _, line in found:
        running += line.amount
        lines.append(replace(line, balance=running))
    built = _rebuild(session, customer, end)
    return Statement(kind="activity", customer_id=customer.id, customer_name=customer.name, currency=currency,
                     billing_address=billing_address(session, customer), as_at=end, ageing=built.ageing,
                     closing_balance=running, lines=lines, credits=built.credits, start=start,
                     opening_balance=opening)


# --- grouped by contact ---------------------------------------------------------------------------

def by_contact(session: Session, statement: Statement) -> list[Statement]:
    """An outstanding statement split by billing contact (the customer's "group statements by contact"):
    one statement per addressee of its documents. An invoice goes to the additional invoice address it
    was made out to (invoice.invoice_address_id, recorded when issued; only an address of the customer's
    reseller, as invoices.addressee decides), a credit note's unallocated credit to the addressee of the
    invoice it credits, everything else (payments, external payments, manual credits, balance adjustments,
    write-offs, credit notes of no invoice or of the customer's) to the customer's own group. Each group
    has its own lines, credits, ageing (buckets from its lines, credit from its credits) and closing
    balance (buckets less credit: the groups' closing balances sum to the statement's); its billing
    address is the addressee's (the customer's group: the customer's own address, not its chosen
    additional one), its contact_name the addressee's name (and contact), contact_id the address's id.

    The customer's group first, then by name; a group with no line and no credit is left out. With no
    additional addressee at all, or for an activity statement (its ledger, opening and running balances
    are the account's), it is [statement] unchanged. Invoices issued before invoices recorded their
    addressee name only the address they chose themselves (no backfill): the others are the customer's."""
    if statement.kind != "outstanding":
        return [statement]
    customer = session.get(Customer, statement.customer_id)
    addressed = _addressees(session, customer, statement)
    if not addressed:
        return [statement]
    addresses = {a.id: a for a in addressed.values()}

    def of(kind: str, line: StatementLine) -> int | None:
        found = addressed.get((kind, line.document_id))
        return found.id if found is not None else None
    owner: dict[int | None, tuple[list, list]] = {}
    for line in statement.lines:
        owner.setdefault(of("invoice", line) if line.kind == "invoice" else None, ([], []))[0].append(line)
    for line in statement.credits:
        owner.setdefault(of("credit", line), ([], []))[1].append(line)
    groups = []
    for address_id in sorted(owner, key=lambda i: (i is not None, addresses[i].name.lower() if i else "", i or 0)):
        lines, credits = owner[address_id]
        ageing = _ageing(statement.as_at, lines, credits)
        address = addresses.get(address_id)
        groups.append(replace(
            statement, lines=lines, credits=credits, ageing=ageing, closing_balance=ageing.total,
            billing_address=address.text if address else address_format.address_of(session, customer),
            contact_name=_contact_words(address) if address else customer.name, contact_id=address_id))
    return groups


def _addressees(session: Session, customer: Customer, statement: Statement) -> dict[tuple[str, int], InvoiceAddress]:
    """("invoice", invoice id) and ("credit", payment id) of the statement's lines made out to an
    additional invoice address of the customer's reseller, with that address: two SELECTs."""
    same_reseller = InvoiceAddress.reseller_id.is_(None) if customer.reseller_id is None \
        else InvoiceAddress.reseller_id == customer.reseller_id
    found: dict[tuple[str, int], InvoiceAddress] = {}
    invoice_ids = [line.document_id for line in statement.lines if line.kind == "invoice"]
    if invoice_ids:
        for invoice_id, address in session.execute(
                select(Invoice.id, InvoiceAddress).join(InvoiceAddress, InvoiceAddress.id == Invoice.invoice_address_id)
                .where(Invoice.id.in_(invoice_ids), same_reseller)):
            found[("invoice", invoice_id)] = address
    note_ids = [line.document_id for line in statement.credits if line.kind == "credit_note"]
    if note_ids:
        for payment_id, address in session.execute(
                select(Payment.id, InvoiceAddress).join(Invoice, Invoice.id == Payment.invoice_id)
                .join(InvoiceAddress, InvoiceAddress.id == Invoice.invoice_address_id)
                .where(Payment.id.in_(note_ids), same_reseller)):
            found[("credit", payment_id)] = address
    return found


def _contact_words(address: InvoiceAddress) -> str:
    """"Acme Insurance (Claims Dept)", or the name alone."""
    return f"{address.name} ({address.contact_name})" if address.contact_name else address.name


def group_of(session: Session, statement: Statement, contact: str) -> Statement:
    """The group of the statement `contact` names ("customer" or an additional address's id), as
    by_contact makes it. Raises NotFound when it is not one of the statement's groups (an address of
    no document of this customer, another reseller's, a malformed value)."""
    for group in by_contact(session, statement):
        if group.contact == str(contact):
            return group
    raise NotFound("This statement has no such contact: pick one of its groups.")


# --- as at a date --------------------------------------------------------------------------------

def _rebuild(session: Session, customer: Customer, as_at: date) -> _Rebuilt:
    """The customer's invoices and credits as they stood at the end of `as_at` (as_at.py's rule):
    four SELECTs whatever the number of documents."""
    currency = customer.currency
    paid_on_invoice: dict[int, Decimal] = {}
    paid_from_source: dict[int, Decimal] = {}
    for invoice_id, payment_id, amount in session.execute(
            select(Allocation.invoice_id, Allocation.payment_id, func.sum(Allocation.amount))
            .where(Allocation.customer_id == customer.id, *at.allocation_counts(as_at))
            .group_by(Allocation.invoice_id, Allocation.payment_id)):
        paid_on_invoice[invoice_id] = paid_on_invoice.get(invoice_id, ZERO) + amount
        paid_from_source[payment_id] = paid_from_source.get(payment_id, ZERO) + amount

    lines = []
    for invoice_id, number, issued, due, total in session.execute(
            select(Invoice.id, Invoice.number, Invoice.issue_date, Invoice.due_date, Invoice.total)
            .where(Invoice.customer_id == customer.id, *at.invoice_counts(as_at))):
        owed = money.quantize(total - paid_on_invoice.get(invoice_id, ZERO), currency)
        if owed != 0:
            lines.append(replace(_owed_line(as_at, "invoice", issued, number or "", f"Invoice {number}", due,
                                            money.quantize(total, currency), owed), document_id=invoice_id))
    adjustments = list(session.execute(
        select(Adjustment.id, Adjustment.effective_on, Adjustment.amount, Adjustment.reason)
        .where(Adjustment.customer_id == customer.id, Adjustment.effective_on <= as_at)
        .order_by(Adjustment.effective_on, Adjustment.id)))
    credits = []
    for _id, on, amount, reason in adjustments:
        amount = money.quantize(amount, currency)
        if amount > 0:
            lines.append(_owed_line(as_at, "adjustment", on, "", f"Balance adjustment: {reason}", None, amount, amount))
        else:
            credits.append(StatementLine(on=on, kind="adjustment", reference="", description=f"Balance adjustment: "
                                         f"{reason}", amount=amount, total=-amount, outstanding=-amount))
    lines.sort(key=lambda line: (line.due_on or line.on, line.on, line.reference))

    released = dict(session.execute(
        select(Release.payment_id, func.sum(Release.amount))
        .where(Release.customer_id == customer.id, Release.released_on <= as_at).group_by(Release.payment_id)).all())
    for payment_id, kind, received, reference, method, reason, amount in session.execute(
            select(Payment.id, Payment.kind, Payment.received_on, Payment.reference, PaymentMethod.name,
                   Payment.reason, Payment.amount)
            .outerjoin(PaymentMethod, PaymentMethod.id == Payment.method_id)
            .where(Payment.customer_id == customer.id,
                   or_(Payment.received_on <= as_at, Payment.id.in_(
                       select(Release.payment_id).where(Release.customer_id == customer.id,
                                                        Release.released_on <= as_at))))
            .order_by(Payment.received_on, Payment.id)):
        had = amount if received <= as_at else ZERO
        rest = money.quantize(had - paid_from_source.get(payment_id, ZERO) - released.get(payment_id, ZERO),
                              currency)
        if rest != 0:
            credits.append(StatementLine(on=received, kind=kind, reference=reference or "",
                                         description=_source_words(kind, reference, method, reason), amount=-rest,
                                         total=money.quantize(amount, currency), outstanding=rest,
                                         document_id=payment_id))
    credits.sort(key=lambda line: line.on)

    ageing = _ageing(as_at, lines, credits)
    return _Rebuilt(lines, credits, ageing, ageing.total)


def _ageing(as_at: date, lines: list[StatementLine], credits: list[StatementLine]) -> Ageing:
    """The lines' outstanding in their buckets by days overdue, and the credits' rest."""
    buckets = [ZERO] * len(BUCKETS)
    for line in lines:
        buckets[bucket_of(line.days_overdue or 0)] += line.outstanding
    return Ageing(as_at=as_at, buckets=tuple(buckets), credit=sum((line.outstanding for line in credits), ZERO))


def _owed_line(as_at: date, kind: str, on: date, reference: str, description: str, due: date | None,
               total: Decimal, owed: Decimal) -> StatementLine:
    """What is owed on an invoice (or a balance increase) at `as_at`, its days past its due date (the
    issue date when it has none; 0 when not yet due)."""
    days = (as_at - (due or on)).days
    return StatementLine(on=on, kind=kind, reference=reference, description=description, due_on=due, amount=owed,
                         total=total, outstanding=owed, days_overdue=max(0, days))


def _source_words(kind: str, reference: str | None, method: str | None, reason: str | None) -> str:
    """"Payment by Cash", "External payment by Card", "Credit: Goodwill", "Credit note CN-3"."""
    if kind == "credit_note":
        return f"Credit note {reference or ''}".strip()
    words = PAYMENT_WORDS.get(kind, "Payment")
    if kind in ("credit", "write_off") and reason:
        return f"{words}: {reason}"
    return f"{words} by {method}" if method else words


# --- a period's lines ----------------------------------------------------------------------------

def _postings(session: Session, customer: Customer, start: date, end: date) -> list[tuple]:
    """Each ledger entry of the period as a line ((sort key, line)): one SELECT for the entries and one
    per kind of record they come from."""
    currency = customer.currency
    entries = list(session.execute(
        select(LedgerEntry.id, LedgerEntry.effective_on, LedgerEntry.kind, LedgerEntry.source_table,
               LedgerEntry.source_id, LedgerEntry.amount, LedgerEntry.reason)
        .where(LedgerEntry.customer_id == customer.id, LedgerEntry.effective_on >= start,
               LedgerEntry.effective_on <= end)))
    ids: dict[str, set[int]] = {}
    for entry in entries:
        ids.setdefault(entry.source_table, set()).add(entry.source_id)

    def rows(table: str, *columns):
        wanted = ids.get(table)
        return {row[0]: row for row in session.execute(select(*columns).where(columns[0].in_(wanted)))} \
            if wanted else {}
    invoices = rows("invoice", Invoice.id, Invoice.number, Invoice.due_date)
    sources = rows("payment", Payment.id, Payment.kind, Payment.reference, Payment.reason, Payment.method_id)
    releases = rows("payment_release", Release.id, Release.kind, Release.reference, Release.payment_id)
    notes = rows("credit_note", CreditNote.id, CreditNote.number, CreditNote.description)
    methods = dict(session.execute(select(PaymentMethod.id, PaymentMethod.name)).all()) if sources else {}
    released_from = {r.payment_id for r in releases.values()}
    if released_from:  # the payment each refund or withdrawn credit comes out of, for its words
        released_from = {p.id: p for p in session.execute(
            select(Payment.id, Payment.kind, Payment.reference).where(Payment.id.in_(released_from)))}
    found = []
    for entry in entries:
        amount = money.quantize(entry.amount, currency)
        kind, reference, description, due = entry.kind, "", "", None
        if entry.source_table == "invoice":
            number, due = invoices[entry.source_id].number, invoices[entry.source_id].due_date
            reference = number or ""
            if kind == "invoice_void":
                kind, description = "void", f"Invoice {number} voided" + (f": {entry.reason}" if entry.reason else "")
            else:
                description = f"Invoice {number}"
        elif entry.source_table == "payment":
            source = sources[entry.source_id]
            kind, reference = source.kind, source.reference or ""
            description = _source_words(source.kind, source.reference, methods.get(source.method_id), source.reason)
        elif entry.source_table == "payment_release":
            release = releases[entry.source_id]
            of = released_from.get(release.payment_id)
            what = _source_words(of.kind, of.reference, None, None) if of is not None else "Payment"
            reference = release.reference or (of.reference if of is not None else "") or ""
            kind = "refund" if release.kind == "refund" else "void"
            description = f"Refund of {what.lower() if what != 'Credit note' else what}" if kind == "refund" \
                else f"{what} withdrawn" + (f": {entry.reason}" if entry.reason else "")
        elif entry.source_table == "credit_note":
            note = notes[entry.source_id]
            kind, reference = "credit_note", note.number or ""
            description = f"Credit note {note.number}: {note.description}"
        else:
            kind, description = "adjustment", f"Balance adjustment: {entry.reason}" if entry.reason else \
                "Balance adjustment"
        found.append(((entry.effective_on, 0, entry.id),
                      StatementLine(on=entry.effective_on, kind=kind, reference=reference, description=description,
                                    due_on=due, amount=amount, document_id=entry.source_id)))
    return found


def _allocation_lines(session: Session, customer: Customer, start: date, end: date) -> list[tuple]:
    """Each allocation (and un-allocation) that starts to count within the period (as_at.py's rule: the
    latest of its dates) as a line of amount 0: one SELECT."""
    reversed_ = aliased(Allocation)
    rows = session.execute(
        select(Allocation.id, Allocation.amount, Allocation.allocated_on, Payment.received_on, Invoice.issue_date,
               reversed_.allocated_on, Invoice.number, Payment.kind, Payment.reference)
        .join(Invoice, Invoice.id == Allocation.invoice_id).join(Payment, Payment.id == Allocation.payment_id)
        .outerjoin(reversed_, reversed_.id == Allocation.reverses_id)
        .where(Allocation.customer_id == customer.id, *at.allocation_counts(end),
               or_(Allocation.allocated_on >= start, Payment.received_on >= start, Invoice.issue_date >= start,
                   reversed_.allocated_on >= start)))
    found = []
    for allocation_id, amount, allocated_on, received_on, issued, reversed_on, number, kind, reference in rows:
        on = at.allocation_date(allocated_on, received_on, issued, reversed_on)
        if on < start:
            continue
        amount = money.quantize(amount, customer.currency)
        what = _source_words(kind, reference, None, None)
        what = what if kind == "credit_note" else what.lower()
        description = f"{money.format(amount, customer.currency)} of {what} allocated to invoice {number}" \
            if amount > 0 else \
            f"{money.format(-amount, customer.currency)} of {what} taken back from invoice {number}"
        found.append(((on, 1, allocation_id),
                      StatementLine(on=on, kind="allocation", reference=number or "", description=description,
                                    amount=ZERO, allocated=amount)))
    return found
