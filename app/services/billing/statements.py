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
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

KINDS = ("outstanding", "activity")
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
    contact_name: str | None = None  # "group statements by contact": the billing contact it is for
