"""Quotes (estimates): what a customer would be charged; they post nothing to the ledger.

A quote is priced exactly as an invoice (invoices' line checks, `priced` and totals: the same
rounding). A draft is edited freely and deleted; sending it takes the next number of the "quote"
sequence ("QUO-", gap-free: taken under the row lock in the sending transaction); a sent quote's
only change is its expiry date (`extend`). A sent quote is declined, or accepted: it becomes a DRAFT
invoice with the same lines (invoices' own `_draft`), named by `quote.invoice_id`. Accepting an
accepted quote returns the invoice it already became (never a second one). A sent quote past its
`expires_on` is shown as expired and cannot be accepted until its date is moved.

Deleting the draft invoice a quote became opens the quote again (sent): invoices.delete_draft.
Every write: POST_MONEY, the customer through the actor's scope (NotFound outside it), a claimed
form key (AlreadyDone the second time), the customer's money lock, committed.
"""
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer, Invoice, Quote, QuoteLine
from app.services import fields, permissions
from app.services.billing import POST_MONEY, finances, invoices, ledger, tax
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Invalid, NotFound
from app.services.scope import customer_scope, get_customer

SEQUENCE, PREFIX = "quote", "QUO-"
EDITABLE = ("draft",)


def get_quote(session: Session, actor, quote_id) -> Quote:
    """One quote whose customer `actor` may see (NotFound otherwise, as for a missing one)."""
    number = fields.record_id(quote_id)
    quote = None
    if number is not None:
        quote = session.scalars(select(Quote).join(Customer, Customer.id == Quote.customer_id)
                                .where(Quote.id == number, customer_scope(actor))).first()
    if quote is None:
        raise NotFound("No such quote.")
    return quote


def quote_of(session: Session, invoice: Invoice) -> Quote | None:
    """The quote an invoice was made from, if any."""
    return session.scalar(select(Quote).where(Quote.invoice_id == invoice.id))


def is_expired(quote: Quote, today: date | None = None) -> bool:
    """A sent quote past its expiry date (not yet accepted nor declined)."""
    return quote.status == "sent" and quote.expires_on < (today or date.today())


def shown_status(quote: Quote, today: date | None = None) -> str:
    """The status to show: "expired" for a sent quote past its date, else the stored one."""
    return "expired" if is_expired(quote, today) else quote.status


def name(quote: Quote) -> str:
    return quote.number or "This draft quote"


def _clean(session: Session, customer: Customer, data: dict, quote: Quote | None) -> dict:
    errors = FieldErrors()
    invoices.check_currency(errors, customer, data)

    def current(key):
        return data[key] if key in data else getattr(quote, key, None)

    issue_date = fields.a_date(errors, "issue_date", current("issue_date")) or date.today()
    expires_on = fields.a_date(errors, "expires_on", current("expires_on"))
    if expires_on is None and "expires_on" not in errors:
        errors.add("expires_on", "Enter the date the quote expires on.")
    elif expires_on is not None and expires_on < issue_date:
        errors.add("expires_on", "The quote cannot expire before its date.")
    notes = fields.long_text(errors, "notes", current("notes"), 5000, label="Notes")
    lines = invoices._lines(errors, session, data.get("lines"), customer.currency) \
        if "lines" in data or quote is None else None
    errors.raise_if_any()
    return {"issue_date": issue_date, "expires_on": expires_on, "notes": notes, "lines": lines}


def _write_lines(session: Session, customer: Customer, quote: Quote, lines: list[invoices.LineValues]) -> None:
    """Priced as invoices price theirs (invoices.priced, the same size check and totals)."""
    rates = [tax.charged(session, customer, values.tax_rate_id) for values in lines]
    priced_lines = [invoices.priced(customer.currency, values.quantity, values.unit_price, charged.percent)
                    for values, charged in zip(lines, rates)]
    invoices._check_size(priced_lines)
    quote.lines = []
    for position, (values, charged, (net, tax_)) in enumerate(zip(lines, rates, priced_lines)):
        quote.lines.append(QuoteLine(
            position=position, description=values.description, category=values.category,
            quantity=values.quantity, unit_price=values.unit_price, tax_rate_id=values.tax_rate_id,
            tax_name=charged.name, tax_percent=charged.percent, net=net, tax=tax_))
    invoices._total(quote)


def _values(quote: Quote) -> list[invoices.LineValues]:
    return [invoices.LineValues(line.description, line.category, line.quantity, line.unit_price, line.tax_rate_id)
            for line in quote.lines]


def _begin(session: Session, actor, quote_id, key, message: str) -> tuple[Quote, Customer]:
    """Permission, scope, the key, the customer's money lock; the quote as it is now."""
    permissions.require(session, actor, POST_MONEY, message=message)
    quote = get_quote(session, actor, quote_id)
    invoices._claim(session, key)
    customer = ledger.lock(session, quote.customer_id)
    session.refresh(quote)
    return quote, customer


def create_draft(session: Session, actor, customer_id, data: dict, key, send_now: bool = False) -> Quote:
    """A draft quote for the customer (no number yet), committed; with `send_now`, sent at once."""
    permissions.require(session, actor, POST_MONEY, message="You may not write quotes.")
    customer = get_customer(session, actor, customer_id)
    values = _clean(session, customer, data, None)
    invoices._claim(session, key)
    customer = ledger.lock_as_read(session, customer)
    quote = Quote(customer_id=customer.id, currency=customer.currency, status="draft",
                  issue_date=values["issue_date"], expires_on=values["expires_on"], notes=values["notes"],
                  created_by_id=getattr(actor, "id", None))
    _write_lines(session, customer, quote, values["lines"] or [])
    session.add(quote)
    session.flush()
    if send_now:
        _send(session, customer, quote)
    commit(session)
    return quote


def update(session: Session, actor, quote_id, data: dict, key, send_now: bool = False) -> Quote:
    """Change a draft: its dates, notes and (when given) all its lines. A sent quote's expiry date
    is moved with `extend`; nothing else of it changes."""
    quote, customer = _begin(session, actor, quote_id, key, "You may not write quotes.")
    if quote.status not in EDITABLE:
        raise Invalid({"status": f"Quote {quote.number} is {quote.status}: only a draft can be edited "
                                 f"(a sent quote's expiry date can be moved)."})
    values = _clean(session, customer, data, quote)
    quote.issue_date, quote.expires_on, quote.notes = values["issue_date"], values["expires_on"], values["notes"]
    if values["lines"] is not None:
        _write_lines(session, customer, quote, values["lines"])
    if send_now:
        session.flush()
        _send(session, customer, quote)
    commit(session)
    return quote


def extend(session: Session, actor, quote_id, expires_on, key) -> Quote:
    """Move the expiry date of a draft or sent quote (an expired one can then be accepted)."""
    quote, _ = _begin(session, actor, quote_id, key, "You may not write quotes.")
    if quote.status not in ("draft", "sent"):
        raise Invalid({"status": f"Quote {quote.number} is {quote.status}: its expiry date no longer matters."})
    errors = FieldErrors()
    day = fields.a_date(errors, "expires_on", expires_on, required=True)
    if day is not None and day < max(quote.issue_date, date.today()):
        errors.add("expires_on", "Move the expiry date to today or later (and not before the quote's date).")
    errors.raise_if_any()
    quote.expires_on = day
    commit(session)
    return quote


def delete_draft(session: Session, actor, quote_id) -> None:
    """Delete a draft; a sent quote keeps its number (decline it instead)."""
    permissions.require(session, actor, POST_MONEY, message="You may not delete quotes.")
    quote = get_quote(session, actor, quote_id)
    ledger.lock(session, quote.customer_id)
    session.refresh(quote)
    if quote.status != "draft":
        raise Invalid({"status": f"Quote {quote.number} was sent: it is never deleted. Decline it instead."})
    session.delete(quote)
    commit(session)


def _send(session: Session, customer: Customer, quote: Quote) -> None:
    if not quote.lines:
        raise Invalid({"lines": "A quote needs at least one line to be sent."})
    if quote.expires_on < date.today():
        raise Invalid({"expires_on": f"This quote expired on {quote.expires_on.isoformat()}: move its expiry "
                                     f"date before sending it."})
    _write_lines(session, customer, quote, _values(quote))  # charged at the rates in force now
    if quote.total <= 0:
        raise Invalid({"lines": "A quote's total must be more than zero to send it."})
    quote.number, quote.status = invoices._next_number(session, SEQUENCE, PREFIX), "sent"
    session.flush()


def send_in(session: Session, customer: Customer, quote: Quote) -> None:
    """Send a draft within the caller's transaction (its number, status sent; Invalid when it
    cannot be sent), the customer already locked: e-mailing a draft quote sends it
    (documents.email_quote). Commits nothing."""
    _send(session, customer, quote)


def send(session: Session, actor, quote_id, key) -> Quote:
    """Send a draft: its number (the first time), status sent. Posts nothing."""
    quote, customer = _begin(session, actor, quote_id, key, "You may not send quotes.")
    if quote.status != "draft":
        raise AlreadyDone(f"Quote {quote.number} was already sent.")
    _send(session, customer, quote)
    commit(session)
    return quote


def decline(session: Session, actor, quote_id, key) -> Quote:
    """The customer declined a sent quote (an expired one too)."""
    quote, _ = _begin(session, actor, quote_id, key, "You may not decline quotes.")
    if quote.status == "declined":
        raise AlreadyDone(f"Quote {quote.number} was already declined.")
    if quote.status != "sent":
        raise Invalid({"status": f"{name(quote)} is {quote.status}: only a sent quote can be declined."})
    quote.status = "declined"
    commit(session)
    return quote


def accept(session: Session, actor, quote_id, key) -> Invoice:
    """The customer accepted a sent quote: a DRAFT invoice with the same lines (dated today, due
    after the customer's creditor days), linked both ways, committed. Accepting an accepted quote
    returns the invoice it already became: one invoice a quote, however often it is accepted."""
    quote, customer = _begin(session, actor, quote_id, key, "You may not accept quotes.")
    if quote.status == "accepted":
        commit(session)  # the key is spent; nothing else is written
        return session.get(Invoice, quote.invoice_id)
    if quote.status != "sent":
        raise Invalid({"status": f"{name(quote)} is {quote.status}: only a sent quote can be accepted."})
    if is_expired(quote):
        raise Invalid({"expires_on": f"Quote {quote.number} expired on {quote.expires_on.isoformat()}: move its "
                                     f"expiry date to accept it."})
    today = date.today()
    due = invoices.due_date_default(session, customer, today)
    invoice = invoices._draft(session, actor, customer, {"issue_date": today, "due_date": due,
                                                         "notes": quote.notes, "lines": _values(quote)})
    quote.invoice_id, quote.status = invoice.id, "accepted"
    commit(session)
    return invoice


def page(session: Session, actor, customer_id, before: int | None = None):
    """A page of the customer's quotes, newest first, and the id the next page starts before (the
    Finances tab's Quotes; another reseller's customer: NotFound)."""
    customer = get_customer(session, actor, customer_id)
    return finances._page(session, select(Quote).where(Quote.customer_id == customer.id), Quote, before)
