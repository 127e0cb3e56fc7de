"""Money as it stood at the end of a past (or future) day: the one rule the aged receivables
(exports.aged_totals, the Receivables page) and the customers' statements (statements.py) rebuild
invoices and credits by, never from today's stored `outstanding` and `unallocated`.

- An invoice counts at the end of day D when it was issued on or before D and not voided on or
  before D (its void's ledger entry, dated the day it was voided, says when).
- An allocation row counts at D when it, its source and its invoice all existed by then: it is dated
  on or before D, its source was received on or before D, its invoice was issued on or before D and,
  for a reversal (an un-allocation, a void's release: a negative row), the allocation it reverses
  counts by then too. So an allocation dated before its source or its invoice (credit used by an
  invoice back-dated before the credit arrived, a credit note dated before the invoice it pays) counts
  from the later of those dates, and an un-allocation never takes effect before what it undoes. Both
  sides of an allocation, the invoice it pays and the source it comes from, therefore see it from the
  same day, which is what keeps a statement's closing balance equal to the ledger's at every date.
- A source's rest at D: its amount (when received on or before D) less its allocations counting at D
  less its releases (refunds, voided credit) dated on or before D, as the ledger dates them.
"""
from datetime import date

from sqlalchemy import exists, or_
from sqlalchemy.orm import aliased

from app.models import Allocation, Invoice, LedgerEntry, Payment


def invoice_counts(as_at: date) -> list:
    """Conditions on Invoice: issued on or before `as_at` and not voided on or before it."""
    voided = exists().where(LedgerEntry.source_table == "invoice", LedgerEntry.source_id == Invoice.id,
                            LedgerEntry.kind == "invoice_void", LedgerEntry.effective_on <= as_at)
    return [Invoice.status != "draft", Invoice.issue_date <= as_at, ~voided]


def allocation_counts(as_at: date) -> list:
    """Conditions on Allocation: the row counts at the end of `as_at` (see the module's docstring).
    Correlated to Allocation in the enclosing query (each a primary-key look-up)."""
    source, invoice, reversed_ = aliased(Payment), aliased(Invoice), aliased(Allocation)
    return [Allocation.allocated_on <= as_at,
            exists().where(source.id == Allocation.payment_id, source.received_on <= as_at),
            exists().where(invoice.id == Allocation.invoice_id, invoice.issue_date <= as_at),
            or_(Allocation.reverses_id.is_(None),
                exists().where(reversed_.id == Allocation.reverses_id, reversed_.allocated_on <= as_at))]


def allocation_date(allocated_on: date, received_on: date, issue_date: date, reversed_on: date | None) -> date:
    """The day an allocation row starts to count (the latest of its dates: allocation_counts' rule)."""
    return max(d for d in (allocated_on, received_on, issue_date, reversed_on) if d is not None)
