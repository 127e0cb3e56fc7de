"""Money: tax rates, payment methods, invoices and their lines, payments and credits (the sources
of account credit), their allocations to invoices, refunds, balance adjustments, and the ledger.

The rules live in app/services/billing/; the models hold shape and the database constraints that
back those rules up against races: an invoice's outstanding and a source's unallocated rest are
never below zero, a ledger entry is never zero, an issued number is unique.

Every amount is MONEY: Numeric(16, 4), twelve digits before the point and the four decimals of the
currency with the most (ISO 4217); each amount is rounded to its own currency's minor units by
app/services/money.py before it is stored.
"""
from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.resellers import utcnow

MONEY = Numeric(16, 4)
PERCENT = Numeric(7, 4)
QUANTITY = Numeric(12, 4)

INVOICE_STATUSES = ("draft", "issued", "part_paid", "paid", "void")
OPEN_STATUSES = ("issued", "part_paid")  # issued and not yet paid in full
CATEGORIES = ("labour", "parts", "other")
# A source of account credit: a payment recorded against an invoice (what it did not pay is
# credit: an overpayment), an external payment (no invoice: all of it is credit), a manual credit
# (a goodwill credit, with a reason), a credit note (its total: app/models/credit_notes.py), a small
# write-off (the last few units of an invoice, with a reason: fully allocated to it, never credit).
SOURCE_KINDS = ("payment", "external", "credit", "credit_note", "write_off")
# What takes an unallocated rest away: money paid back (refund), or credit withdrawn (void).
RELEASE_KINDS = ("refund", "void")
# A ledger entry's kind. Positive amounts: the customer owes more.
LEDGER_KINDS = ("invoice", "invoice_void", "payment", "external", "credit", "refund", "credit_void", "adjustment",
                "credit_note", "write_off")


def _creator():
    return mapped_column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))


class Totals:
    """A priced document's totals (an invoice's, a quote's): the sums of its rounded lines."""

    net_total: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal(0), server_default="0")
    tax_total: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal(0), server_default="0")
    total: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal(0), server_default="0")


class PricedLine:
    """A priced document's line (an invoice's, a quote's): quantity × unit price (net, rounded once),
    and its tax at the rate charged."""

    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    category: Mapped[str] = mapped_column(String(10), nullable=False, default="other", server_default="other")
    quantity: Mapped[Decimal] = mapped_column(QUANTITY, nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # The rate chosen on the line; what was charged is tax_name and tax_percent ("Exempt", 0 for an
    # exempt customer; the customer's special rate where it has one).
    tax_rate_id: Mapped[int | None] = mapped_column(ForeignKey("tax_rate.id", ondelete="SET NULL"))
    tax_name: Mapped[str | None] = mapped_column(String(60))
    tax_percent: Mapped[Decimal] = mapped_column(PERCENT, nullable=False, default=Decimal(0), server_default="0")
    net: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    tax: Mapped[Decimal] = mapped_column(MONEY, nullable=False)


class TaxRate(Model):
    """A sales tax rate lines are charged at ("VAT 20%"); one of them is the default."""

    __tablename__ = "tax_rate"
    __table_args__ = (
        CheckConstraint("percent >= 0 AND percent <= 100", name="ck_tax_rate_percent"),
        Index("ux_tax_rate_one_default", "is_default", unique=True,
              postgresql_where=text("is_default"), sqlite_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    percent: Mapped[Decimal] = mapped_column(PERCENT, nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())

    def __repr__(self) -> str:
        return f"{self.name} ({self.percent.normalize():f}%)" if self.percent is not None else self.name


class PaymentMethod(Model):
    """How money arrives (cash, card, bank transfer...), with its nominal account code for the
    accounting package."""

    __tablename__ = "payment_method"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    nominal_code: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())

    def __repr__(self) -> str:
        return self.name


class DocumentSequence(Model):
    """The gap-free numbers of one kind of document ("invoice"): the prefix and the next number.
    A number is taken under a row lock in the transaction that issues the document, so a rolled
    back issue gives its number back."""

    __tablename__ = "document_sequence"
    __table_args__ = (CheckConstraint("next_number >= 1", name="ck_document_sequence_next"),)

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(20), nullable=False, default="", server_default="")
    next_number: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")


class Invoice(Totals, Model):
    __tablename__ = "invoice"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'issued', 'part_paid', 'paid', 'void')", name="ck_invoice_status"),
        CheckConstraint("outstanding >= 0 AND (status = 'draft' OR outstanding <= total)", name="ck_invoice_outstanding"),
        CheckConstraint("due_date IS NULL OR due_date >= issue_date", name="ck_invoice_due_date"),
        CheckConstraint("status = 'draft' OR number IS NOT NULL", name="ck_invoice_number"),
        Index("ix_invoice_customer_issue", "customer_id", "issue_date", "id"),
        Index("ix_invoice_status_due", "status", "due_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft", server_default="draft")
    issue_date: Mapped[date] = mapped_column(Date, nullable=False)
    due_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)  # customer-facing
    billing_address: Mapped[str | None] = mapped_column(Text)  # copied when issued
    # The additional invoice address this invoice is sent to (NULL: the customer's choice).
    invoice_address_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoice_address.id", ondelete="RESTRICT"), index=True)
    # total minus the invoice's allocations (0 for a draft or a void): written with each allocation.
    outstanding: Mapped[Decimal] = mapped_column(MONEY, nullable=False, default=Decimal(0), server_default="0")
    # Disputed: payment reminders pause for it (it never counts as overdue) until the flag is cleared.
    disputed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(255))
    # The rate to the base currency the invoice was issued with, and that rate's date (NULL: a
    # draft, or issued when no rate was known). Kept: editing or deleting a rate never changes it.
    fx_rate: Mapped[Decimal | None] = mapped_column(Numeric(20, 10))
    fx_rate_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    customer = relationship("Customer", lazy="raise_on_sql")
    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return self.number or f"Draft invoice {self.id}"


class InvoiceLine(PricedLine, Model):
    """One line: quantity × unit price (net, rounded once), and its tax at the rate in force."""

    __tablename__ = "invoice_line"
    __table_args__ = (
        CheckConstraint("category IN ('labour', 'parts', 'other')", name="ck_invoice_line_category"),
        Index("ix_invoice_line_invoice", "invoice_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id", ondelete="CASCADE"), nullable=False)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Payment(Model):
    """Money received or credit given: a source of account credit (SOURCE_KINDS). What it has not
    paid on invoices (its allocations) nor given back (its releases) is `unallocated`."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("kind IN ('payment', 'external', 'credit', 'credit_note', 'write_off')",
                        name="ck_payment_kind"),
        CheckConstraint("amount > 0", name="ck_payment_amount"),
        CheckConstraint("unallocated >= 0 AND unallocated <= amount", name="ck_payment_unallocated"),
        Index("ix_payment_customer", "customer_id", "received_on", "id"),
        Index("ix_payment_credit", "is_credit", "id"),
        Index("ix_payment_credit_customer", "customer_id", postgresql_where=text("is_credit"),
              sqlite_where=text("is_credit")),
        Index("ix_payment_kind", "kind", "id"),
        Index("ix_payment_received", "received_on", "id"),
        Index("ix_payment_open_credit", "currency", "received_on", postgresql_where=text("unallocated > 0"),
              sqlite_where=text("unallocated > 0")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # amount minus allocations minus releases: written with each of them (the account credit).
    unallocated: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # Any of it became account credit when it was recorded (an overpayment, external, manual).
    is_credit: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    received_on: Mapped[date] = mapped_column(Date, nullable=False)
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_method.id", ondelete="SET NULL"))
    reference: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(255))  # why a manual credit was given
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))  # recorded against
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    customer = relationship("Customer", lazy="raise_on_sql")
    method: Mapped[PaymentMethod | None] = relationship(lazy="joined")
    invoice: Mapped[Invoice | None] = relationship(lazy="raise_on_sql")

    @property
    def allocated(self) -> Decimal:
        """What is no longer account credit: paid on invoices, refunded or voided."""
        return self.amount - self.unallocated


class Allocation(Model):
    """A source paying an invoice. Never changed: releasing one (a void of the invoice, an
    un-allocation) is a new row with the negative amount, dated, that names it (`reverses_id`)."""

    __tablename__ = "allocation"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="ck_allocation_amount"),
        Index("ix_allocation_invoice", "invoice_id"),
        Index("ix_allocation_payment", "payment_id"),
        Index("ix_allocation_customer", "customer_id", "allocated_on"),
        Index("ix_allocation_reverses", "reverses_id", postgresql_where=text("reverses_id IS NOT NULL"),
              sqlite_where=text("reverses_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), nullable=False)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    allocated_on: Mapped[date] = mapped_column(Date, nullable=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("allocation.id"))
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class Release(Model):
    """Part of a source's unallocated rest taken away: paid back (refund) or withdrawn (void)."""

    __tablename__ = "payment_release"
    __table_args__ = (
        CheckConstraint("kind IN ('refund', 'void')", name="ck_release_kind"),
        CheckConstraint("amount > 0", name="ck_release_amount"),
        Index("ix_release_payment", "payment_id"),
        Index("ix_release_customer", "customer_id", "released_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), nullable=False)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    released_on: Mapped[date] = mapped_column(Date, nullable=False)
    method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_method.id", ondelete="SET NULL"))
    reference: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    method: Mapped[PaymentMethod | None] = relationship(lazy="joined")


class Adjustment(Model):
    """"Edit balance" (getSoapy): an amount added to what the customer owes (negative: less), with
    a reason; never an overwrite of the balance."""

    __tablename__ = "balance_adjustment"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="ck_adjustment_amount"),
        Index("ix_adjustment_customer", "customer_id", "effective_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    reason: Mapped[str] = mapped_column(String(255), nullable=False)
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)


class LedgerEntry(Model):
    """One posting: written once, by app/services/billing/ledger.py only, never changed or deleted.
    The customer's balance is the sum of its entries."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="ck_ledger_entry_amount"),
        Index("ix_ledger_entry_customer", "customer_id", "id"),
        Index("ix_ledger_entry_source", "source_table", "source_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)  # positive: the customer owes more
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    source_table: Mapped[str] = mapped_column(String(30), nullable=False)  # the record it comes from
    source_id: Mapped[int] = mapped_column(Integer, nullable=False)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)  # the date it counts from
    reason: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
