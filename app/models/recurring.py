"""Recurring billing of customer services (issue 17): each period of a service billed, keyed
(service, period start) so that no period is ever billed twice, and each billing run with its report.
The rules: app/services/billing/recurring.py (periods: app/services/billing/periods.py)."""
from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class BillingRun(Model):
    """One billing run (the periodic job's or Finance's "Bill due services now"): the day it billed for,
    who started it, whether it issued its invoices or left them as drafts, and its report: invoices and
    lines made, the total per currency ({"GBP": "1234.50"}) and the customers skipped, counted by reason
    ({"dormant": 3}). `job_id`: the Job that shows its progress when it ran from the screen."""

    __tablename__ = "billing_run"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'failed')", name="ck_billing_run_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_on: Mapped[date] = mapped_column(Date, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="running", server_default="running")
    started_by: Mapped[str | None] = mapped_column(String(128))
    issued: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)  # False: left as drafts
    invoices: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    lines: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    totals: Mapped[dict | None] = mapped_column(JSON)
    skipped: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    job_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("job.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ServicePeriod(Model):
    """One period of a service billed: from `starts_on` to `ends_on` (both included; a part period when
    pro rata), its net amount, and the invoice line that billed it. Unique (service, starts_on): a run
    twice, two runs at once, or a catch-up never bill a period twice. The row stays when its draft
    invoice is deleted (invoice_id NULL): the period was dealt with."""

    __tablename__ = "service_period"
    __table_args__ = (
        Index("ux_service_period_key", "service_id", "starts_on", unique=True),
        Index("ix_service_period_invoice", "invoice_id"),
        CheckConstraint("ends_on >= starts_on", name="ck_service_period_dates"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(Integer, ForeignKey("service.id", ondelete="CASCADE"), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 4), nullable=False)
    invoice_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("invoice.id", ondelete="SET NULL"))
    invoice_line_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("invoice_line.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("billing_run.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
