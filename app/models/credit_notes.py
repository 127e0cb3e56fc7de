"""Credit notes: money given back to a customer on a document of its own (Commusoft's credit notes).

A credit note is issued when it is saved (no drafts), with a gap-free number of its own
(DocumentSequence "credit_note", "CN-"), against an invoice or against the customer alone. It is a
source of account credit: saving it writes a Payment of kind "credit_note" (`payment_id`, one a
credit note) for its total, which pays the invoice's outstanding first through an allocation; the
rest is account credit. A void credit note keeps its number. The rules live in
app/services/billing/credit_notes.py.
"""
from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.money import Invoice, Payment, PricedLine, Totals, _creator
from app.models.resellers import utcnow

CREDIT_NOTE_STATUSES = ("issued", "void")
# Commusoft's four breakdown styles: how the PDF shows the lines.
BREAKDOWN_STYLES = ("none", "category", "full", "full_category")


class CreditNote(Totals, Model):
    __tablename__ = "credit_note"
    __table_args__ = (
        CheckConstraint("status IN ('issued', 'void')", name="ck_credit_note_status"),
        CheckConstraint("breakdown_style IN ('none', 'category', 'full', 'full_category')",
                        name="ck_credit_note_breakdown"),
        CheckConstraint("total > 0", name="ck_credit_note_total"),
        Index("ix_credit_note_customer", "customer_id", "credit_date", "id"),
        Index("ix_credit_note_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    number: Mapped[str] = mapped_column(String(40), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="issued", server_default="issued")
    credit_date: Mapped[date] = mapped_column(Date, nullable=False)
    description: Mapped[str] = mapped_column(String(255), nullable=False)  # "Labour reduction"
    notes: Mapped[str | None] = mapped_column(Text)  # customer-facing
    breakdown_style: Mapped[str] = mapped_column(String(20), nullable=False, default="full", server_default="full")
    # The invoice it credits (NULL: against the customer alone, all of it account credit).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    # The source of account credit it wrote (kind "credit_note"): what it paid and what is left.
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), unique=True, nullable=False)
    billing_address: Mapped[str | None] = mapped_column(Text)  # copied when issued
    fx_rate: Mapped[Decimal | None] = mapped_column(Numeric(20, 10))
    fx_rate_on: Mapped[date | None] = mapped_column(Date)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    void_reason: Mapped[str | None] = mapped_column(String(255))
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    customer = relationship("Customer", lazy="raise_on_sql")
    invoice: Mapped[Invoice | None] = relationship(lazy="raise_on_sql")
    payment: Mapped[Payment] = relationship(lazy="raise_on_sql")
    lines: Mapped[list["CreditNoteLine"]] = relationship(
        back_populates="credit_note", order_by="CreditNoteLine.position", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return self.number or f"Credit note {self.id}"


class CreditNoteLine(PricedLine, Model):
    """As an invoice line; `invoice_line_id`: the invoice's line it credits, if any."""

    __tablename__ = "credit_note_line"
    __table_args__ = (
        CheckConstraint("category IN ('labour', 'parts', 'other')", name="ck_credit_note_line_category"),
        Index("ix_credit_note_line_note", "credit_note_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_note.id", ondelete="CASCADE"), nullable=False)
    invoice_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_line.id", ondelete="SET NULL"))

    credit_note: Mapped[CreditNote] = relationship(back_populates="lines")

    @property
    def currency(self) -> str:
        """Its credit note's (what the API formats its amounts in)."""
        return self.credit_note.currency
