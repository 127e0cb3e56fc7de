"""The ledger: the one place money is posted, and the check that proves the books agree.

Every posting (an issued invoice, a payment, a manual credit, a refund, a void, a balance
adjustment) is one `post` in the transaction of the command that causes it, after `lock`:
the entry is added and the customer's cached balance moves by the same amount, and so does its
copy in customer_balance (the lists' sort by balance walks that table's index: customer.balance has
none, so moving it is a HOT update on PostgreSQL). Nothing else writes `customer.balance` or its
copy, and nothing ever changes or deletes an entry: a correction is a new entry.

`lock` is the first thing every money command does for a customer: on PostgreSQL a row lock
(SELECT ... FOR UPDATE), on SQLite a write to the row, which takes the database's write lock for
the rest of the transaction. Two commands on one customer's money therefore run one after the
other, and each reads the figures it checks (an invoice's outstanding, a credit's rest) after
the other has committed.

`check` recomputes, set-based, each customer's balance from the documents (invoices, payments,
releases, adjustments), each invoice's outstanding and each source's rest from the allocations,
and compares them with the ledger and the cached figures, the balance's copy in customer_balance
included (`flask ledger check`); a write-off (a source
of kind "write_off") counts as any payment, and never keeps a rest.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Integer, case, event, func, literal, select, union_all, update
from sqlalchemy.orm import Session

from app.models import Adjustment, Allocation, Customer, Invoice, InvoiceLine, LedgerEntry, Payment, Release
from app.models import CreditNote, CreditNoteLine, CustomerBalance
from app.models.money import LEDGER_KINDS
from app.models.resellers import utcnow
from app.services.db import in_ids, insert_rows, update_from_rows
from app.services.errors import Invalid, NotFound

ZERO = Decimal(0)
LOCKED = "money_locked"  # session.info: the customers whose money this transaction has locked


def lock(session: Session, customer_id: int) -> Customer:
    """Lock the customer's money against every other money command until the transaction ends,
    and return the customer as it is now (balance and currency read after the lock)."""
    if session.get_bind().dialect.name == "postgresql":
        found = session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update()).first()
    else:
        found = session.execute(update(Customer).where(Customer.id == customer_id)
                                .values(balance=Customer.balance)).rowcount
    if not found:
        raise NotFound("No such customer.")
    customer = session.get(Customer, customer_id, populate_existing=True)
    session.info.setdefault(LOCKED, set()).add(customer_id)
    return customer


def lock_many(session: Session, customer_ids: list[int]) -> set[int]:
    """lock() many customers in one statement, in id order (two runs locking overlapping sets wait
    rather than deadlock); the ids found. Their ORM objects are not loaded: a set-based writer (the
    billing run) reads what it needs itself."""
    ids = sorted(set(customer_ids))
    if not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        found = set(session.scalars(select(Customer.id).where(in_ids(session, Customer.id, ids)).order_by(Customer.id)
                                    .with_for_update()))
    else:
        found = set(session.scalars(update(Customer).where(Customer.id.in_(ids)).values(balance=Customer.balance)
                                    .returning(Customer.id).execution_options(synchronize_session=False)))
    session.info.setdefault(LOCKED, set()).update(found)
    return found


@event.listens_for(Session, "after_transaction_end")
def _locks_released(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: its row locks are gone
        session.info.pop(LOCKED, None)


def lock_as_read(session: Session, customer: Customer) -> Customer:
    """lock() a customer whose currency a command checked its amounts against before the lock: when
    the currency changed meanwhile (a customer's first money record racing a change of currency),
    nothing is written and the user is told."""
    currency = customer.currency
    locked = lock(session, customer.id)
    if locked.currency != currency:
        raise Invalid({"currency": f"This customer's currency changed meanwhile from {currency} to {locked.currency}: "
                                   "nothing was recorded. Check the amounts and send them again."})
    return locked


def post(session: Session, customer: Customer, amount: Decimal, kind: str, source, effective_on: date,
         actor=None, reason: str | None = None) -> LedgerEntry:
    """Post `amount` (positive: the customer owes more) for `source` (the record it comes from)
    and move the customer's balance by it. The customer must have been locked in this transaction."""
    if kind not in LEDGER_KINDS:
        raise ValueError(f"not a ledger entry's kind: {kind}")
    if customer.id not in session.info.get(LOCKED, ()):
        raise RuntimeError("lock the customer's money (ledger.lock) in this transaction before posting")
    if amount == 0:
        raise ValueError("a ledger entry is never zero")
    entry = LedgerEntry(customer_id=customer.id, currency=customer.currency, amount=amount, kind=kind,
                        source_table=source.__tablename__, source_id=source.id, effective_on=effective_on,
                        reason=reason, created_by_id=getattr(actor, "id", None))
    session.add(entry)
    _move(session, customer.id, amount)
    session.expire(customer, ["balance"])
    return entry


def _move(session: Session, customer_id: int, amount: Decimal) -> None:
    """Move a customer's balance and its copy in customer_balance by `amount`."""
    session.execute(update(Customer).where(Customer.id == customer_id)
                    .values(balance=Customer.balance + amount).execution_options(synchronize_session=False))
    session.execute(update(CustomerBalance).where(CustomerBalance.customer_id == customer_id)
                    .values(balance=CustomerBalance.balance + amount).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class Posting:
    customer_id: int
    currency: str
    amount: Decimal
    kind: str
    source_table: str
    source_id: int
    effective_on: date
    created_by_id: int | None = None
    reason: str | None = None


def post_many(session: Session, postings: list[Posting]) -> None:
    """`post` for many sources at once (a billing run's invoices): the same entries, one multi-row
    insert, and each customer's balance moved by the sum of its postings. Every customer must have been
    locked in this transaction; nothing is posted otherwise."""
    if not postings:
        return
    locked = session.info.get(LOCKED, set())
    for posting in postings:
        if posting.kind not in LEDGER_KINDS:
            raise ValueError(f"not a ledger entry's kind: {posting.kind}")
        if posting.customer_id not in locked:
            raise RuntimeError("lock the customer's money (ledger.lock) in this transaction before posting")
        if posting.amount == 0:
            raise ValueError("a ledger entry is never zero")
    now = utcnow()
    insert_rows(session, LedgerEntry.__table__, [
        {"customer_id": p.customer_id, "currency": p.currency, "amount": p.amount, "kind": p.kind,
         "source_table": p.source_table, "source_id": p.source_id, "effective_on": p.effective_on,
         "reason": p.reason, "created_by_id": p.created_by_id, "created_at": now} for p in postings])
    moves: dict[int, Decimal] = {}
    for posting in postings:
        moves[posting.customer_id] = moves.get(posting.customer_id, ZERO) + posting.amount
    for table, key in ((Customer.__table__, Customer.id), (CustomerBalance.__table__, CustomerBalance.customer_id)):
        update_from_rows(session, table, {"cid": Integer(), "move": table.c.balance.type}, sorted(moves.items()),
                         lambda v, t=table: {"balance": t.c.balance + v.c.move}, lambda v, k=key: k == v.c.cid)
    for customer in [o for o in session.identity_map.values() if isinstance(o, Customer) and o.id in moves]:
        session.expire(customer, ["balance"])


def merged(session: Session, survivor: Customer, duplicate: Customer) -> None:
    """A merge moved the duplicate's money records and ledger entries to the survivor (both locked):
    the survivor's balance takes the duplicate's, which is left with none (it is deleted next)."""
    moved = session.scalar(select(Customer.balance).where(Customer.id == duplicate.id))
    _move(session, survivor.id, moved)
    _move(session, duplicate.id, -moved)
    session.expire(survivor, ["balance"])


# --- the check -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    what: str  # "customer", "invoice", "payment"
    id: int
    problem: str

    def __str__(self) -> str:
        return f"{self.what} {self.id}: {self.problem}"


def _sum(column):
    return func.coalesce(func.sum(column), 0)


def _differs(a, b):
    """a and b differ by more than the smallest unit any currency has. (SQLite keeps NUMERIC as a
    float: its sums carry float noise that ROUND takes away; PostgreSQL's are exact anyway.)"""
    return func.round(a - b, 4) != 0


def expected_balances():
    """Each customer's balance recomputed from its documents: issued invoices (a void one counts
    once when issued and once, negative, when voided), minus everything paid or credited, plus
    what was refunded or withdrawn, plus adjustments. A subquery (customer_id, amount)."""
    parts = union_all(
        select(Invoice.customer_id, Invoice.total.label("amount")).where(Invoice.status != "draft"),
        select(Invoice.customer_id, (-Invoice.total).label("amount")).where(Invoice.status == "void"),
        select(Payment.customer_id, (-Payment.amount).label("amount")),
        select(Release.customer_id, Release.amount.label("amount")),
        select(Adjustment.customer_id, Adjustment.amount.label("amount")),
    ).subquery()
    return (select(parts.c.customer_id, _sum(parts.c.amount).label("amount"))
            .group_by(parts.c.customer_id).subquery())


def check(session: Session) -> list[Difference]:
    """Every difference between the documents, the ledger and the cached figures (none: the books
    agree). Set-based: a handful of grouped queries whatever the number of customers."""
    found: list[Difference] = []
    expected = expected_balances()
    ledger = (select(LedgerEntry.customer_id, _sum(LedgerEntry.amount).label("amount"))
              .group_by(LedgerEntry.customer_id).subquery())
    exp, led = func.coalesce(expected.c.amount, 0), func.coalesce(ledger.c.amount, 0)
    rows = session.execute(
        select(Customer.id, Customer.balance, exp, led, CustomerBalance.balance)
        .outerjoin(expected, expected.c.customer_id == Customer.id)
        .outerjoin(ledger, ledger.c.customer_id == Customer.id)
        .outerjoin(CustomerBalance, CustomerBalance.customer_id == Customer.id)
        .where(_differs(exp, led) | _differs(led, Customer.balance) | _differs(exp, Customer.balance)
               | CustomerBalance.balance.is_(None) | _differs(CustomerBalance.balance, Customer.balance))
        .order_by(Customer.id))
    for customer_id, balance, from_documents, from_ledger, copy in rows:
        problem = f"balance {balance}, ledger {from_ledger}, documents {from_documents}"
        if copy is None or round(copy - balance, 4) != 0:
            problem += f", customer_balance {copy if copy is not None else 'missing'}"
        found.append(Difference("customer", customer_id, problem))

    wrong_currency = union_all(
        *[select(literal(t.__tablename__).label("what"), t.id.label("id"))
          .join(Customer, Customer.id == t.customer_id).where(t.currency != Customer.currency)
          for t in (Invoice, Payment, Allocation, Release, Adjustment, LedgerEntry, CreditNote)])
    for what, record_id in session.execute(select(wrong_currency.subquery())):
        found.append(Difference(what, record_id, "not in its customer's currency"))

    allocated = (select(Allocation.invoice_id, _sum(Allocation.amount).label("amount"))
                 .group_by(Allocation.invoice_id).subquery())
    paid = func.coalesce(allocated.c.amount, 0)
    should_owe = case((Invoice.status.in_(("draft", "void")), 0), else_=Invoice.total - paid)
    status = case((Invoice.status.in_(("draft", "void")), Invoice.status),
                  (func.round(paid, 4) == 0, "issued"), (func.round(paid - Invoice.total, 4) >= 0, "paid"),
                  else_="part_paid")
    rows = session.execute(
        select(Invoice.id, Invoice.outstanding, should_owe, Invoice.status, status, paid)
        .outerjoin(allocated, allocated.c.invoice_id == Invoice.id)
        .where(_differs(Invoice.outstanding, should_owe) | (Invoice.status != status) | (func.round(should_owe, 4) < 0)
               | ((Invoice.status == "void") & _differs(paid, 0)))
        .order_by(Invoice.id))
    for invoice_id, outstanding, owed, current, right, paid_amount in rows:
        found.append(Difference("invoice", invoice_id, f"outstanding {outstanding} (should be {owed}), "
                                f"status {current} (should be {right}), allocated {paid_amount}"))
    sums = _line_sums()
    rows = session.execute(
        select(Invoice.id, Invoice.net_total, Invoice.tax_total, Invoice.total,
               func.coalesce(sums.c.net, 0), func.coalesce(sums.c.tax, 0))
        .outerjoin(sums, sums.c.invoice_id == Invoice.id)
        .where(_differs(Invoice.net_total, func.coalesce(sums.c.net, 0))
               | _differs(Invoice.tax_total, func.coalesce(sums.c.tax, 0))
               | _differs(Invoice.total, Invoice.net_total + Invoice.tax_total)))
    for invoice_id, net, tax, total, line_net, line_tax in rows:
        found.append(Difference("invoice", invoice_id, f"totals {net} + {tax} = {total}, lines {line_net} + {line_tax}"))

    by_source = (select(Allocation.payment_id, _sum(Allocation.amount).label("amount"))
                 .group_by(Allocation.payment_id).subquery())
    released = (select(Release.payment_id, _sum(Release.amount).label("amount"))
                .group_by(Release.payment_id).subquery())
    rest = Payment.amount - func.coalesce(by_source.c.amount, 0) - func.coalesce(released.c.amount, 0)
    rows = session.execute(
        select(Payment.id, Payment.unallocated, rest)
        .outerjoin(by_source, by_source.c.payment_id == Payment.id)
        .outerjoin(released, released.c.payment_id == Payment.id)
        .where(_differs(Payment.unallocated, rest) | (func.round(rest, 4) < 0))
        .order_by(Payment.id))
    for payment_id, unallocated, should in rows:
        found.append(Difference("payment", payment_id, f"unallocated {unallocated} (should be {should})"))
    # A write-off is never account credit: it clears its invoice, or is withdrawn with it.
    rows = session.execute(select(Payment.id, Payment.unallocated)
                           .where(Payment.kind == "write_off", func.round(Payment.unallocated, 4) != 0)
                           .order_by(Payment.id))
    for payment_id, unallocated in rows:
        found.append(Difference("payment", payment_id, f"a write-off with {unallocated} not allocated"))
    return found + _credit_note_differences(session)


def _credit_note_differences(session: Session) -> list[Difference]:
    """A credit note's totals are its lines' sums and its source's amount (a "credit_note" payment);
    a void one's source has no rest left; an invoice's credit notes that are not void never come
    to more than its total."""
    found = []
    sums = (select(CreditNoteLine.credit_note_id, _sum(CreditNoteLine.net).label("net"),
                   _sum(CreditNoteLine.tax).label("tax")).group_by(CreditNoteLine.credit_note_id).subquery())
    net, tax = func.coalesce(sums.c.net, 0), func.coalesce(sums.c.tax, 0)
    rows = session.execute(
        select(CreditNote.id, CreditNote.net_total, CreditNote.tax_total, CreditNote.total, net, tax,
               Payment.amount, Payment.kind, Payment.unallocated, CreditNote.status)
        .join(Payment, Payment.id == CreditNote.payment_id)
        .outerjoin(sums, sums.c.credit_note_id == CreditNote.id)
        .where(_differs(CreditNote.net_total, net) | _differs(CreditNote.tax_total, tax)
               | _differs(CreditNote.total, CreditNote.net_total + CreditNote.tax_total)
               | _differs(CreditNote.total, Payment.amount) | (Payment.kind != "credit_note")
               | ((CreditNote.status == "void") & _differs(Payment.unallocated, 0)))
        .order_by(CreditNote.id))
    for note_id, net_total, tax_total, total, line_net, line_tax, amount, kind, rest, status in rows:
        found.append(Difference("credit_note", note_id, f"totals {net_total} + {tax_total} = {total}, lines {line_net} "
                                f"+ {line_tax}, its {kind} source {amount} with {rest} left ({status})"))
    credited = (select(CreditNote.invoice_id, _sum(CreditNote.total).label("amount"))
                .where(CreditNote.status != "void", CreditNote.invoice_id.is_not(None))
                .group_by(CreditNote.invoice_id).subquery())
    rows = session.execute(select(Invoice.id, Invoice.total, credited.c.amount)
                           .join(credited, credited.c.invoice_id == Invoice.id)
                           .where(func.round(credited.c.amount - Invoice.total, 4) > 0).order_by(Invoice.id))
    for invoice_id, total, amount in rows:
        found.append(Difference("invoice", invoice_id, f"credited {amount}, more than its total {total}"))
    # A void invoice owes nothing: a credit note still standing against it would credit it twice.
    rows = session.execute(select(CreditNote.id, Invoice.id).join(Invoice, Invoice.id == CreditNote.invoice_id)
                           .where(CreditNote.status != "void", Invoice.status == "void").order_by(CreditNote.id))
    for note_id, invoice_id in rows:
        found.append(Difference("credit_note", note_id, f"not void, against void invoice {invoice_id}"))
    return found


def _line_sums():
    return (select(InvoiceLine.invoice_id, _sum(InvoiceLine.net).label("net"), _sum(InvoiceLine.tax).label("tax"))
            .group_by(InvoiceLine.invoice_id).subquery())
