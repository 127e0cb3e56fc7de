"""What the customer's page reads about money: the side panel's figures and the Finances tab.

Every function loads the customer through the user's scope first (another reseller's customer is
NotFound). Lists are paged by id (newest first), so a customer with thousands of documents opens
as fast as any other.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Allocation, CreditNote, Customer, Invoice, LedgerEntry, Payment, Release
from app.services import money
from app.services.scope import get_customer

PAGE = 50
ZERO = Decimal(0)


@dataclass(frozen=True)
class Figures:
    balance: Decimal
    debt: Decimal  # outstanding on issued invoices
    debt_days: int | None  # days past the due date of the oldest overdue invoice
    credit: Decimal  # account credit: the unallocated rest of its payments and credits
    annual_value: Decimal  # invoiced minus voided over the last 365 days


def figures(session: Session, customer: Customer, today: date | None = None) -> Figures:
    """The money figures of a customer already loaded through the user's scope."""
    today = today or date.today()
    debt, oldest_due = session.execute(
        select(func.coalesce(func.sum(Invoice.outstanding), 0),
               func.min(func.coalesce(Invoice.due_date, Invoice.issue_date)))
        .where(Invoice.customer_id == customer.id, Invoice.status.in_(("issued", "part_paid")))).one()
    credit = session.scalar(select(func.coalesce(func.sum(Payment.unallocated), 0))
                            .where(Payment.customer_id == customer.id, Payment.unallocated > 0))
    since = today - timedelta(days=365)
    annual = session.scalar(select(func.coalesce(func.sum(Invoice.total), 0)).where(
        Invoice.customer_id == customer.id, Invoice.status.not_in(("draft", "void")), Invoice.issue_date > since))
    if isinstance(oldest_due, str):  # SQLite's MIN of dates
        oldest_due = date.fromisoformat(oldest_due)
    days = (today - oldest_due).days if oldest_due is not None and oldest_due < today else None
    currency = customer.currency
    return Figures(balance=money.quantize(customer.balance or ZERO, currency), debt=money.quantize(debt, currency),
                   debt_days=days, credit=money.quantize(credit, currency),
                   annual_value=money.quantize(annual, currency))


def _page(session: Session, stmt, model, before):
    if before is not None:
        stmt = stmt.where(model.id < before)
    rows = list(session.scalars(stmt.order_by(model.id.desc()).limit(PAGE + 1)))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return rows, (rows[-1].id if more else None)


def invoices(session: Session, actor, customer_id, before: int | None = None):
    """A page of the customer's invoices, newest first, and the id the next page starts before."""
    customer = get_customer(session, actor, customer_id)
    return _page(session, select(Invoice).where(Invoice.customer_id == customer.id), Invoice, before)


def payments(session: Session, actor, customer_id, before: int | None = None, credits_only: bool = False):
    """A page of the customer's payments (or only its credits), newest first."""
    customer = get_customer(session, actor, customer_id)
    stmt = select(Payment).where(Payment.customer_id == customer.id)
    if credits_only:
        stmt = stmt.where(Payment.is_credit.is_(True))
    return _page(session, stmt, Payment, before)


def refunds(session: Session, payment_ids: list[int]) -> dict[int, list[Release]]:
    found: dict[int, list[Release]] = {}
    if payment_ids:
        for release in session.scalars(select(Release).where(Release.payment_id.in_(payment_ids))):
            found.setdefault(release.payment_id, []).append(release)
    return found


def ledger_page(session: Session, actor, customer_id, before: int | None = None):
    """A page of the customer's ledger, newest first, each entry with the balance after it
    ("Show payments & adjustments"). Returns [(entry, balance_after)], the next `before`."""
    customer = get_customer(session, actor, customer_id)
    rows, next_before = _page(session, select(LedgerEntry).where(LedgerEntry.customer_id == customer.id),
                              LedgerEntry, before)
    if not rows:
        return [], None
    # The balance after the newest entry of the page: the sum of every entry up to it.
    running = Decimal(session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.customer_id == customer.id, LedgerEntry.id <= rows[0].id)))
    out = []
    for entry in rows:
        out.append((entry, running))
        running -= entry.amount
    return out, next_before


@dataclass(frozen=True)
class Source:
    """What a ledger entry comes from: "invoice" (its number), "payment" (its kind), "release" (a
    refund or voided credit, of `payment_id`), "credit_note" (its number) or "adjustment"; and the
    record's id."""

    kind: str
    record_id: int | None
    number: str | None = None
    payment_kind: str | None = None


def ledger_sources(session: Session, entries) -> dict[int, Source]:
    """{entry id: Source} for a page of ledger_page's rows: one query per kind of record on it."""
    by_table: dict[str, set[int]] = {}
    for entry, _balance in entries:
        by_table.setdefault(entry.source_table, set()).add(entry.source_id)

    def lookup(*columns, table):
        ids = by_table.get(table)
        return dict(session.execute(select(*columns).where(columns[0].in_(ids))).all()) if ids else {}
    numbers = lookup(Invoice.id, Invoice.number, table="invoice")
    kinds = lookup(Payment.id, Payment.kind, table="payment")
    releases = lookup(Release.id, Release.payment_id, table="payment_release")
    credit_notes = lookup(CreditNote.id, CreditNote.number, table="credit_note")
    found = {}
    for entry, _balance in entries:
        table, pk = entry.source_table, entry.source_id
        if table == "invoice":
            found[entry.id] = Source("invoice", pk, number=numbers.get(pk))
        elif table == "payment":
            found[entry.id] = Source("payment", pk, payment_kind=kinds.get(pk))
        elif table == "payment_release":
            found[entry.id] = Source("release", releases.get(pk))
        elif table == "credit_note":
            found[entry.id] = Source("credit_note", pk, number=credit_notes.get(pk))
        else:
            found[entry.id] = Source("adjustment", None)
    return found


def allocations_of(session: Session, invoice: Invoice) -> list[tuple[Allocation, Payment]]:
    """What paid an invoice (and what a void released back), oldest first, with each source."""
    return list(session.execute(
        select(Allocation, Payment).join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.invoice_id == invoice.id).order_by(Allocation.id)).tuples())
