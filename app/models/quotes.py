"""Quotes (estimates): what a customer would be charged, priced as an invoice is, posting nothing.

A quote gets its gap-free number (DocumentSequence "quote", "QUO-") when it is first sent; once
accepted it becomes a draft invoice with the same lines, named by `invoice_id` (unique: one invoice
a quote). The rules live in app/services/billing/quotes.py.
"""
from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.money import PricedLine, Totals, _creator
from app.models.resellers import utcnow

QUOTE_STATUSES = ("draft", "sent", "accepted", "declined", "expired")


class Quote(Totals, Model):
    __tablename__ = "quote"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'sent', 'accepted', 'declined', 'expired')", name="ck_quote_status"),
        CheckConstraint("status = 'draft' OR number IS NOT NULL", name="ck_quote_number"),
        CheckConstraint("expires_on >= issue_date", name="ck_quote_expires_on"),
        CheckConstraint("(status = 'accepted') = (invoice_id IS NOT NULL)", name="ck_quote_invoice"),
        Index("ix_quote_customer_issue", "customer_id", "issue_date", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    number: Mapped[str | None] = mapped_column(String(40), unique=True)  # taken when first sent
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="draft", server_default="draft")
    issue_date: Mapped[date] = mapped_column(Date, nullable=False)
    expires_on: Mapped[date] = mapped_column(Date, nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)  # customer-facing
    # The draft invoice it became when accepted (one invoice a quote, one quote an invoice).
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id", ondelete="RESTRICT"), unique=True)
    created_by_id: Mapped[int | None] = _creator()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    customer = relationship("Customer", lazy="raise_on_sql")
    lines: Mapped[list["QuoteLine"]] = relationship(
        back_populates="quote", order_by="QuoteLine.position", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return self.number or f"Draft quote {self.id}"


class QuoteLine(PricedLine, Model):
    """As an invoice line: quantity × unit price (net, rounded once), and its tax at the rate charged."""

    __tablename__ = "quote_line"
    __table_args__ = (
        CheckConstraint("category IN ('labour', 'parts', 'other')", name="ck_quote_line_category"),
        Index("ix_quote_line_quote", "quote_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quote.id", ondelete="CASCADE"), nullable=False)

    quote: Mapped[Quote] = relationship(back_populates="lines")
