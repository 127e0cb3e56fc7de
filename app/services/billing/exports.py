"""Money as CSV (services/csv_export.py streams it): every payment, the ledger and aged receivables
in the user's scope. Each function returns one Select, its columns in the order of its COLUMNS
(header, SQL expression): amounts as text in their currency's decimals, text that users typed
escaped against formulas, all in SQL, so the rows stream from the database (COPY on PostgreSQL).
The invoice and credit downloads are their lists' own statements (views/invoices.py, credits.py).
"""
from datetime import date, timedelta

from sqlalchemy import String, and_, case, cast, func, literal, select

from app.models import Allocation, Customer, Invoice, LedgerEntry, Payment, PaymentMethod
from app.services.billing import as_at
from app.services.csv_export import amount_text, labelled, safe
from app.services.scope import customer_scope

PAYMENT_KINDS = {"payment": "Payment", "external": "External payment", "credit": "Manual credit",
                 "credit_note": "Credit note", "write_off": "Write-off"}
LEDGER_KINDS = {"invoice": "Invoice", "invoice_void": "Invoice voided", "payment": "Payment",
                "external": "External payment", "credit": "Manual credit", "refund": "Refund",
                "credit_void": "Credit voided", "adjustment": "Balance adjustment", "credit_note": "Credit note",
                "write_off": "Write-off"}
SOURCE_WORDS = {"invoice": "Invoice", "payment": "Payment", "payment_release": "Refund or void",
                "balance_adjustment": "Adjustment", "credit_note": "Credit note"}


def _words(column, words: dict):
    return case(*((column == key, text) for key, text in words.items()), else_=column)


def _between(stmt, column, since: date | None, until: date | None):
    if since is not None:
        stmt = stmt.where(column >= since)
    if until is not None:
        stmt = stmt.where(column <= until)
    return stmt


# ---- payments: every source of money or credit, with the method's nominal code ------------------
PAYMENT_COLUMNS = [
    ("Payment ID", Payment.id),
    ("Customer ID", Payment.customer_id),
    ("Customer", safe(Customer.name)),
    ("Date", Payment.received_on),
    ("Kind", _words(Payment.kind, PAYMENT_KINDS)),
    ("Invoice", safe(Invoice.number)),
    ("Amount", amount_text(Payment.amount, Payment.currency)),
    ("Unallocated", amount_text(Payment.unallocated, Payment.currency)),
    ("Currency", Payment.currency),
    ("Method", safe(PaymentMethod.name)),
    ("Nominal code", safe(PaymentMethod.nominal_code)),
    ("Reference", safe(Payment.reference)),
]


def payments_statement(user, since: date | None = None, until: date | None = None):
    """Every payment, external payment and manual credit of the customers `user` may see,
    received on or between `since` and `until`, oldest first."""
    joined = (Payment.__table__.join(Customer.__table__, Customer.id == Payment.customer_id)
              .outerjoin(PaymentMethod.__table__, PaymentMethod.id == Payment.method_id)
              .outerjoin(Invoice.__table__, Invoice.id == Payment.invoice_id))
    stmt = select(*labelled(PAYMENT_COLUMNS)).select_from(joined).where(customer_scope(user))
    return _between(stmt, Payment.received_on, since, until).order_by(Payment.received_on, Payment.id)


# ---- the ledger ---------------------------------------------------------------------------------
_SOURCE = case((LedgerEntry.source_table == "invoice", func.coalesce(Invoice.number, literal("Draft invoice"))),
               else_=_words(LedgerEntry.source_table, SOURCE_WORDS) + literal(" #")
               + cast(LedgerEntry.source_id, String))
LEDGER_COLUMNS = [
    ("Entry ID", LedgerEntry.id),
    ("Date", LedgerEntry.effective_on),
    ("Customer ID", LedgerEntry.customer_id),
    ("Customer", safe(Customer.name)),
    ("Kind", _words(LedgerEntry.kind, LEDGER_KINDS)),
    ("Source", safe(_SOURCE)),
    ("Amount", amount_text(LedgerEntry.amount, LedgerEntry.currency)),
    ("Currency", LedgerEntry.currency),
    ("Reason", safe(LedgerEntry.reason)),
]


def ledger_statement(user, since: date | None = None, until: date | None = None):
    """Every ledger entry of the customers `user` may see, effective on or between `since` and
    `until`, in date order (positive amounts: the customer owes more)."""
    joined = (LedgerEntry.__table__.join(Customer.__table__, Customer.id == LedgerEntry.customer_id)
              .outerjoin(Invoice.__table__, and_(LedgerEntry.source_table == "invoice",
                                                 Invoice.id == LedgerEntry.source_id)))
    stmt = select(*labelled(LEDGER_COLUMNS)).select_from(joined).where(customer_scope(user))
    return _between(stmt, LedgerEntry.effective_on, since, until).order_by(LedgerEntry.effective_on, LedgerEntry.id)


# ---- aged receivables ---------------------------------------------------------------------------
AGED_HEADER = ["Customer ID", "Customer", "Currency", "Not yet due", "1-30 days", "31-60 days", "61-90 days",
               "Over 90 days", "Total"]


AGED_BUCKETS = 6  # not yet due, 1-30, 31-60, 61-90, over 90 days, total: aged_totals' b0..b5


def aged_totals(user, as_of: date):
    """The aged figures as a subquery: one row per customer `user` may see and currency that owed
    anything at the end of `as_of` (customer_id, currency, b0..b5 as numbers: AGED_BUCKETS). The CSV
    (aged_statement) and the Receivables page's totals per currency (receivables.py) read it.

    Rebuilt as at that date, not read from today's figures, by as_at.py's rule (the statements'
    too): the invoices issued on or before it and not voided on or before it, each its total less
    the allocations that count by then (a later payment, or a void's release, is not yet there)."""
    paid = (select(func.coalesce(func.sum(Allocation.amount), 0))
            .where(Allocation.invoice_id == Invoice.id, *as_at.allocation_counts(as_of)).scalar_subquery())
    owed = (select(Invoice.customer_id, Invoice.currency, (Invoice.total - paid).label("owed"),
                   func.coalesce(Invoice.due_date, Invoice.issue_date).label("due"))
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(*as_at.invoice_counts(as_of), customer_scope(user))
            .subquery("owed"))

    def overdue(newest: int | None, oldest: int | None):
        """owed.due lies between as_of - oldest and as_of - newest days (None: no bound)."""
        conditions = []
        if newest is not None:
            conditions.append(owed.c.due <= as_of - timedelta(days=newest))
        if oldest is not None:
            conditions.append(owed.c.due >= as_of - timedelta(days=oldest))
        return func.sum(case((and_(*conditions), owed.c.owed), else_=0))

    buckets = [func.sum(case((owed.c.due >= as_of, owed.c.owed), else_=0)),  # due today or later
               overdue(1, 30), overdue(31, 60), overdue(61, 90), overdue(91, None), func.sum(owed.c.owed)]
    return (select(owed.c.customer_id, owed.c.currency, *(b.label(f"b{i}") for i, b in enumerate(buckets)))
            .group_by(owed.c.customer_id, owed.c.currency).having(func.sum(owed.c.owed) > 0).subquery("aged"))


def aged_statement(user, as_of: date):
    """What each customer `user` may see owed at the end of `as_of`, by days past the due date (the
    issue date when none): one row per customer (and currency) that owed anything, by name
    (aged_totals' figures as text in their currency's decimals)."""
    totals = aged_totals(user, as_of)
    columns = [totals.c.customer_id, safe(Customer.name), totals.c.currency,
               *(amount_text(totals.c[f"b{i}"], totals.c.currency) for i in range(AGED_BUCKETS))]
    return (select(*(c.label(f"c{i}") for i, c in enumerate(columns)))
            .select_from(totals.join(Customer, Customer.id == totals.c.customer_id))
            .order_by(Customer.name, Customer.id, totals.c.currency))
