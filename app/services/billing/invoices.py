"""Invoices: drafts edited freely, issued with a gap-free number, voided (never deleted once issued).

A line's net is quantity × unit price rounded once to the currency's minor units (half-up); its tax
is net × the rate charged, rounded; the invoice's totals are the sums of its rounded lines. Those
stored figures are the only ones anything shows.

Issuing takes the next number of the "invoice" sequence under a row lock (a rolled-back issue gives it
back: no gaps), copies the billing address onto the invoice, records whom it is made out to
(invoice_address_id: the additional invoice address it went to, the invoice's own or the customer's
choice; None: the customer itself; invoices issued before this was recorded name only their own) and
posts the total to the ledger, then (customer setting "automatic") pays it from account credit
(allocation.py). Voiding first releases the invoice's allocations back to their sources (they become
account credit; a write-off's is withdrawn), then posts the reversal; the number stays.
"""
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Allocation, CreditNote, Customer, DocumentSequence, Invoice, InvoiceAddress, \
    InvoiceLine, Payment, Quote
from app.models.money import CATEGORIES, OPEN_STATUSES
from app.services import company, fields, money, permissions
from app.services.billing import ALREADY_RECORDED, POST_MONEY, address_format, fx, ledger, tax
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Invalid, NotFound
from app.services.forms import claim_form_key
from app.services.scope import customer_scope, get_customer
from app.services.transaction_cache import remembered

MAX_LINES = 500
MAX_QUANTITY = Decimal(10) ** 8
HUNDRED = Decimal(100)
SEQUENCE = "invoice"


@dataclass(frozen=True)
class LineValues:
    description: str
    category: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate_id: int | None


def priced(currency: str, quantity: Decimal, unit_price: Decimal, percent: Decimal) -> tuple[Decimal, Decimal]:
    """A line's net and tax, each rounded once to the currency's minor units."""
    net = money.quantize(quantity * unit_price, currency)
    return net, money.quantize(net * percent / HUNDRED, currency)


def tax_by_rate(invoice: Invoice) -> list[tuple[str | None, Decimal, Decimal, Decimal]]:
    """(name, percent, net, tax) per rate charged, from the rounded lines, for the document's foot."""
    found: dict[tuple, list[Decimal]] = {}
    for line in invoice.lines:
        sums = found.setdefault((line.tax_name, line.tax_percent), [Decimal(0), Decimal(0)])
        sums[0] += line.net
        sums[1] += line.tax
    return [(name, percent, net, tax_) for (name, percent), (net, tax_) in found.items()]


def get_invoice(session: Session, actor, invoice_id, lock: bool = False) -> Invoice:
    """One invoice whose customer `actor` may see (NotFound otherwise, as for a missing one)."""
    number = fields.record_id(invoice_id)
    invoice = None
    if number is not None:
        invoice = session.scalars(select(Invoice).join(Customer, Customer.id == Invoice.customer_id)
                                  .where(Invoice.id == number, customer_scope(actor))).first()
    if invoice is None:
        raise NotFound("No such invoice.")
    if lock:
        ledger.lock(session, invoice.customer_id)
        session.refresh(invoice)
    return invoice


def _claim(session: Session, key) -> None:
    if not claim_form_key(session, key):
        raise AlreadyDone(ALREADY_RECORDED)


def check_currency(errors: FieldErrors, customer: Customer, data: dict) -> None:
    """A currency sent with a money record must be the customer's own."""
    given = data.get("currency")
    if given not in (None, "") and str(given).strip().upper() != customer.currency:
        errors.add("currency", f"This customer is billed in {customer.currency}: a record in "
                               f"{str(given).strip().upper()[:3]} cannot be added.")


def default_creditor_days(session: Session) -> int | None:
    """The company's creditor days, for the documents of customers without their own: read once a
    transaction (a billing run's chunk asks for each of its hundreds of invoices)."""
    return remembered(session, "default_creditor_days", lambda: company.stored(session).default_creditor_days)


def due_date_default(session: Session, customer: Customer, issue_date: date) -> date | None:
    """The issue date plus the customer's creditor days (else the company's); None past the calendar."""
    days = customer.creditor_days
    if days is None:
        days = default_creditor_days(session)
    try:
        return issue_date + timedelta(days=days or 0)
    except OverflowError:
        return None


def _lines(errors: FieldErrors, session: Session, rows, currency: str) -> list[LineValues]:
    if rows is None:
        rows = []
    if not isinstance(rows, (list, tuple)):
        errors.add("lines", "Lines must be a list.")
        return []
    if len(rows) > MAX_LINES:
        errors.add("lines", f"An invoice can have at most {MAX_LINES} lines.")
        return []
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.add(f"lines.{i}", "Each line needs a description, a quantity and a unit price.")
            continue
        name = f"lines.{i}."
        description = fields.text(errors, name + "description", row.get("description"), 500, required=True,
                                  label="Description")
        category = fields.choice(errors, name + "category", row.get("category") or "other", CATEGORIES)
        quantity = fields.decimal_number(row.get("quantity", 1) if row.get("quantity") not in ("", None) else 1)
        if quantity is None or quantity <= 0 or quantity >= MAX_QUANTITY:
            errors.add(name + "quantity", "Quantity must be a number above 0.")
        elif quantity != quantity.quantize(Decimal("0.0001")):
            errors.add(name + "quantity", "Quantity can have at most 4 decimals.")
        unit_price = money.amount(errors, name + "unit_price", row.get("unit_price"), currency, required=True,
                                  label="Unit price")
        rate = tax.rate_id(errors, name + "tax_rate_id", row.get("tax_rate_id"), session)
        if description is not None and category is not None and unit_price is not None and not (
                name + "quantity" in errors):
            out.append(LineValues(description, category, quantity, unit_price, rate))
    return out


def _clean(session: Session, customer: Customer, data: dict, invoice: Invoice | None) -> dict:
    errors = FieldErrors()
    check_currency(errors, customer, data)

    def current(key):
        return data[key] if key in data else getattr(invoice, key, None)

    issue_date = fields.a_date(errors, "issue_date", current("issue_date")) or date.today()
    due = current("due_date")
    due_date = fields.a_date(errors, "due_date", due) if due not in (None, "") else None
    if due_date is None and "due_date" not in errors:
        due_date = due_date_default(session, customer, issue_date)
        if due_date is None:
            errors.add("issue_date", "The due date would fall past the year 9999: pick an earlier issue date.")
    if due_date is not None and due_date < issue_date:
        errors.add("due_date", "The due date cannot be before the issue date.")
    notes = fields.long_text(errors, "notes", current("notes"), 5000, label="Notes")
    lines = _lines(errors, session, data.get("lines"), customer.currency) if "lines" in data or invoice is None \
        else None
    errors.raise_if_any()
    return {"issue_date": issue_date, "due_date": due_date, "notes": notes, "lines": lines}


def _write_lines(session: Session, customer: Customer, invoice: Invoice, lines: list[LineValues]) -> None:
    # The rates are read first: a query amid the changes would flush half of them (two audit entries).
    rates = [tax.charged(session, customer, values.tax_rate_id) for values in lines]
    priced_lines = [priced(customer.currency, values.quantity, values.unit_price, charged.percent)
                    for values, charged in zip(lines, rates)]
    _check_size(priced_lines)
    invoice.lines = []
    for position, (values, charged, (net, tax_)) in enumerate(zip(lines, rates, priced_lines)):
        invoice.lines.append(InvoiceLine(
            position=position, description=values.description, category=values.category,
            quantity=values.quantity, unit_price=values.unit_price, tax_rate_id=values.tax_rate_id,
            tax_name=charged.name, tax_percent=charged.percent, net=net, tax=tax_))
    _total(invoice)


def _check_size(priced_lines: list[tuple[Decimal, Decimal]]) -> None:
    """Every amount fits the money columns (twelve digits before the point): a line's net and tax,
    and the invoice's totals. Raises Invalid naming the line (or the lines) otherwise."""
    limit = Decimal(10) ** money.INTEGER_DIGITS
    errors = FieldErrors()
    for i, (net, tax_) in enumerate(priced_lines):
        if abs(net) >= limit or abs(tax_) >= limit:
            errors.add(f"lines.{i}.quantity", "This line comes to more than an invoice can hold: lower the "
                                              "quantity or the unit price.")
    net_total = sum((net for net, _ in priced_lines), Decimal(0))
    total = net_total + sum((tax_ for _, tax_ in priced_lines), Decimal(0))
    if not errors.errors and (abs(net_total) >= limit or abs(total) >= limit):
        errors.add("lines", "The lines come to more than an invoice can hold: split it into several invoices.")
    errors.raise_if_any()


def _total(invoice: Invoice) -> None:
    invoice.net_total = sum((line.net for line in invoice.lines), Decimal(0))
    invoice.tax_total = sum((line.tax for line in invoice.lines), Decimal(0))
    invoice.total = invoice.net_total + invoice.tax_total


def create_draft(session: Session, actor, customer_id, data: dict, key, issue_now: bool = False,
                 use_credit=None) -> Invoice:
    """A draft invoice for the customer (no number yet), committed; with `issue_now`, issued in the
    same transaction (nothing is saved when it cannot be issued; `use_credit`: as for `issue`)."""
    permissions.require(session, actor, POST_MONEY, message="You may not write invoices.")
    customer = get_customer(session, actor, customer_id)
    values = _clean(session, customer, data, None)
    _claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    invoice = _draft(session, actor, customer, values)
    if issue_now:
        _issue(session, actor, customer, invoice, use_credit)
    commit(session)
    return invoice


def _draft(session: Session, actor, customer: Customer, values: dict) -> Invoice:
    invoice = Invoice(customer_id=customer.id, currency=customer.currency, status="draft",
                      issue_date=values["issue_date"], due_date=values["due_date"], notes=values["notes"],
                      created_by_id=getattr(actor, "id", None))
    _write_lines(session, customer, invoice, values["lines"] or [])  # before it is added: one audit entry
    session.add(invoice)
    session.flush()
    return invoice


def update_draft(session: Session, actor, invoice_id, data: dict, key, issue_now: bool = False,
                 use_credit=None) -> Invoice:
    """Change a draft: its dates, notes and (when given) all its lines; with `issue_now`, issue it in
    the same transaction (nothing is saved when it cannot be issued)."""
    permissions.require(session, actor, POST_MONEY, message="You may not write invoices.")
    invoice = get_invoice(session, actor, invoice_id)
    _claim(session, key)
    customer = ledger.lock(session, invoice.customer_id)
    session.refresh(invoice)
    if invoice.status != "draft":
        raise Invalid({"status": f"Invoice {invoice.number} is issued: only a draft can be edited."})
    values = _clean(session, customer, data, invoice)
    invoice.issue_date, invoice.due_date, invoice.notes = values["issue_date"], values["due_date"], values["notes"]
    if values["lines"] is not None:
        _write_lines(session, customer, invoice, values["lines"])
    if issue_now:
        session.flush()
        _issue(session, actor, customer, invoice, use_credit)
    commit(session)
    return invoice


def delete_draft(session: Session, actor, invoice_id) -> None:
    """Delete a draft; an issued invoice is never deleted (void it)."""
    permissions.require(session, actor, POST_MONEY, message="You may not delete invoices.")
    invoice = get_invoice(session, actor, invoice_id, lock=True)
    if invoice.status != "draft":
        raise Invalid({"status": f"Invoice {invoice.number} is issued: it is never deleted. Void it instead."})
    quote = session.scalar(select(Quote).where(Quote.invoice_id == invoice.id))
    if quote is not None:  # the quote it came from is open again (sent), to accept later or decline
        quote.invoice_id, quote.status = None, "sent"
        session.flush()
    session.delete(invoice)
    commit(session)


def _next_number(session: Session, kind: str = SEQUENCE, prefix: str = "INV-") -> str:
    """The next number of the `kind` sequence (taken under a row lock: gap-free; quotes use it too)."""
    return next_numbers(session, 1, kind, prefix)[0]


def next_numbers(session: Session, count: int, kind: str = SEQUENCE, prefix: str = "INV-") -> list[str]:
    """The next `count` numbers of the `kind` sequence, in order, taken under its row lock (held to the
    end of the transaction: a rollback gives them all back, so there are no gaps)."""
    stmt = select(DocumentSequence).where(DocumentSequence.kind == kind)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    sequence = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if sequence is None:
        sequence = DocumentSequence(kind=kind, prefix=prefix, next_number=1)
        session.add(sequence)
    first = sequence.next_number
    sequence.next_number += count
    return [f"{sequence.prefix}{n}" for n in range(first, first + count)]


def addressee(session: Session, customer: Customer, document=None) -> InvoiceAddress | None:
    """The additional invoice address a document of `customer` is made out to: the one `document` names
    (an invoice's own; an invoice a credit note credits), else the one the customer chose; None when it is
    made out to the customer itself. An address of another reseller than the customer's (a customer moved
    since it was chosen) is never used. An issued invoice records it (invoice_address_id): whom it was
    made out to, which its credit notes and the statements grouped by contact follow."""
    for address_id in (getattr(document, "invoice_address_id", None), customer.invoice_address_id):
        chosen = session.get(InvoiceAddress, address_id) if address_id is not None else None
        if chosen is not None and chosen.reseller_id == customer.reseller_id:
            return chosen
    return None


def billing_address(session: Session, customer: Customer, document=None) -> str:
    """The address a document of `customer` is made out to, as an issued one keeps it: its addressee's
    (see addressee), else the customer's own address through its invoice address format."""
    chosen = addressee(session, customer, document)
    return chosen.text if chosen is not None else address_format.address_of(session, customer)


def billing_addresses(session: Session, customers: list,
                      chosen: dict[int, InvoiceAddress] | None = None) -> dict[int, str]:
    """billing_address of a new document (no address of its own) for many customers (Customer objects or
    rows with their fields, as a billing run reads them): {customer id:
    address}, a query for the chosen invoice addresses (none when given: `chosen`, addressees') and one
    for the rest (address_format.addresses_of)."""
    chosen = addressees(session, customers) if chosen is None else chosen
    rest = [customer for customer in customers if customer.id not in chosen]
    return {**{i: address.text for i, address in chosen.items()}, **address_format.addresses_of(session, rest)}


def addressees(session: Session, customers: list) -> dict[int, InvoiceAddress]:
    """addressee of a new document (no address of its own) for many customers, in one query: {customer
    id: the additional invoice address it is made out to}, only for customers that have one in use."""
    chosen_ids = {c.invoice_address_id for c in customers if c.invoice_address_id is not None}
    chosen = {a.id: a for a in session.scalars(select(InvoiceAddress).where(InvoiceAddress.id.in_(chosen_ids)))} \
        if chosen_ids else {}
    return {customer.id: chosen[customer.invoice_address_id] for customer in customers
            if customer.invoice_address_id in chosen
            and chosen[customer.invoice_address_id].reseller_id == customer.reseller_id}


def _issue(session: Session, actor, customer: Customer, invoice: Invoice, use_credit=None) -> None:
    """Issue the draft: lines charged again, number, billing address and the additional address it is made
    out to (invoice_address_id: the addressee, None for the customer itself), the rate to the base currency
    (fx.issued_rate: the customer's own, else the global one; with no rate known it is issued anyway,
    fx_rate NULL: a missing FX rate never blocks invoicing), posted."""
    if not invoice.lines:
        raise Invalid({"lines": "An invoice needs at least one line to be issued."})
    # Rates may have changed since the draft was written: the lines are charged as they are now,
    # and it is that total which must be more than zero.
    _write_lines(session, customer, invoice, [LineValues(line.description, line.category, line.quantity,
                                                         line.unit_price, line.tax_rate_id) for line in invoice.lines])
    if invoice.total <= 0:
        raise Invalid({"lines": "An invoice's total must be more than zero to issue it."})
    number, made_out_to = _next_number(session), addressee(session, customer, invoice)  # (read before any change)
    address = made_out_to.text if made_out_to is not None else address_format.address_of(session, customer)
    invoice.number, invoice.status, invoice.outstanding = number, "issued", invoice.total
    invoice.billing_address, invoice.issued_at = address, datetime.now(timezone.utc)
    invoice.invoice_address_id = made_out_to.id if made_out_to is not None else None  # whom it was made out to
    invoice.fx_rate, invoice.fx_rate_on = fx.issued_rate(session, invoice.currency, invoice.issue_date, customer.id)
    session.flush()
    ledger.post(session, customer, invoice.total, "invoice", invoice, invoice.issue_date, actor)
    # Here, not at the top: allocation builds on payments, which imports this module.
    from app.services.billing import allocation
    allocation.use_credit_on_issue(session, actor, customer, invoice, use_credit)


def issue(session: Session, actor, invoice_id, key, use_credit=None) -> Invoice:
    """Issue a draft: its number, its billing address, the ledger (committed). `use_credit` is the
    issuer's answer when the customer's setting is "ask" (allocation.credit_offer): yes pays the
    invoice from the customer's account credit."""
    permissions.require(session, actor, POST_MONEY, message="You may not issue invoices.")
    invoice = get_invoice(session, actor, invoice_id)
    _claim(session, key)
    customer = ledger.lock(session, invoice.customer_id)
    session.refresh(invoice)
    if invoice.status != "draft":
        raise AlreadyDone(f"Invoice {invoice.number} was already issued.")
    _issue(session, actor, customer, invoice, use_credit)
    commit(session)
    return invoice


def charge(session: Session, actor, customer_id, data: dict, key) -> Invoice:
    """Charge customer (getSoapy): a one-line invoice, issued at once. `data`: description, amount,
    tax_rate_id, category, issue_date, due_date, notes, use_credit (as for `issue`)."""
    permissions.require(session, actor, POST_MONEY, message="You may not charge customers.")
    customer = get_customer(session, actor, customer_id)
    line = {"description": data.get("description"), "quantity": 1, "unit_price": data.get("amount"),
            "tax_rate_id": data.get("tax_rate_id"), "category": data.get("category") or "other"}
    try:
        values = _clean(session, customer, {**data, "lines": [line]}, None)
    except Invalid as error:  # the one line's errors belong to the form's own fields
        names = {"lines.0.unit_price": "amount", "lines.0.description": "description",
                 "lines.0.tax_rate_id": "tax_rate_id", "lines.0.category": "category"}
        raise Invalid({names.get(k, k): v for k, v in error.errors.items()}) from None
    if values["lines"][0].unit_price <= 0:
        raise Invalid({"amount": "The amount must be more than zero."})
    _claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    invoice = _draft(session, actor, customer, values)
    _issue(session, actor, customer, invoice, data.get("use_credit"))
    commit(session)
    return invoice


def void(session: Session, actor, invoice_id, reason, key) -> Invoice:
    """Void an issued invoice (committed): its allocations go back to their sources as account
    credit, the reversal is posted, the number stays."""
    permissions.require(session, actor, POST_MONEY, message="You may not void invoices.")
    invoice = get_invoice(session, actor, invoice_id)
    errors = FieldErrors()
    reason = fields.text(errors, "reason", reason, 255, required=True, label="Reason")
    errors.raise_if_any()
    _claim(session, key)
    customer = ledger.lock(session, invoice.customer_id)
    session.refresh(invoice)
    if invoice.status == "void":
        raise AlreadyDone(f"Invoice {invoice.number} was already void.")
    if invoice.status == "draft":
        raise Invalid({"status": "A draft has nothing to void: delete it instead."})
    standing = list(session.scalars(select(CreditNote.number).where(CreditNote.invoice_id == invoice.id,
                                                                    CreditNote.status != "void")
                                    .order_by(CreditNote.id)))
    if standing:
        # Its credit would come back as account credit while the invoice owes nothing: credited twice.
        raise Invalid({"status": f"Invoice {invoice.number} has credit note{'s' if len(standing) > 1 else ''} "
                                 f"{', '.join(standing)}: void {'them' if len(standing) > 1 else 'it'} first, "
                                 "then the invoice."})
    # Dated today, or the invoice's own date when that is still ahead: before it the invoice never
    # counted, so neither may its void (the ledger and the statements agree on every day).
    on = max(date.today(), invoice.issue_date)
    _release_allocations(session, actor, invoice, on)
    invoice.status, invoice.outstanding = "void", Decimal(0)
    invoice.voided_at, invoice.void_reason = datetime.now(timezone.utc), reason
    session.flush()
    ledger.post(session, customer, -invoice.total, "invoice_void", invoice, on, actor, reason)
    commit(session)
    return invoice


def _release_allocations(session: Session, actor, invoice: Invoice, on: date) -> None:
    """Every allocation to the invoice not yet reversed gets its reversal; its source gets it back
    as account credit (through the ORM: the Changes tab shows the credit coming back)."""
    reversed_ids = select(Allocation.reverses_id).where(Allocation.invoice_id == invoice.id,
                                                        Allocation.reverses_id.is_not(None))
    live = list(session.scalars(select(Allocation).where(
        Allocation.invoice_id == invoice.id, Allocation.amount > 0, Allocation.id.not_in(reversed_ids))))
    sources = {p.id: p for p in session.scalars(
        select(Payment).where(Payment.id.in_({a.payment_id for a in live})).execution_options(populate_existing=True))}
    for allocation in live:
        session.add(Allocation(payment_id=allocation.payment_id, invoice_id=invoice.id,
                               customer_id=allocation.customer_id, currency=allocation.currency,
                               amount=-allocation.amount, allocated_on=on, reverses_id=allocation.id,
                               created_by_id=getattr(actor, "id", None)))
        source = sources[allocation.payment_id]
        source.unallocated += allocation.amount
        source.is_credit = source.kind != "write_off"  # one of the customer's credits now
    # A write-off was never money: what it cleared is withdrawn, not given back as credit.
    written_off = [s for s in sources.values() if s.kind == "write_off" and s.unallocated > 0]
    if written_off:
        from app.services.billing import payments  # here: payments imports this module
        session.flush()
        for source in written_off:
            payments._release(session, actor, source, "void", source.unallocated,
                              {"released_on": on, "reason": f"Invoice {invoice.number} voided: write-off withdrawn"})


def status_for(invoice: Invoice) -> str:
    """An issued invoice's status from what is left to pay."""
    if invoice.outstanding <= 0:
        return "paid"
    return "issued" if invoice.outstanding >= invoice.total else "part_paid"


def is_open(invoice: Invoice) -> bool:
    return invoice.status in OPEN_STATUSES
