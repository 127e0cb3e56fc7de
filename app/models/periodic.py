"""Periodic jobs (app/jobs/schedule.py declares them): one row each, the record that makes a run
happen once. A run claims its row (next_due_at moves past now in the same UPDATE that finds it
due), so two schedulers, or cron and a worker, never run one job twice for one slot."""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, CheckConstraint, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

PERIODIC_STATUSES = ("running", "done", "failed")


class PeriodicJob(Model):
    """A periodic job's schedule state and its last run: when it started and finished, how it went
    (its error, or the counts it returned), and when it is next due."""

    __tablename__ = "periodic_job"
    __table_args__ = (
        CheckConstraint("last_status IN ('running', 'done', 'failed')", name="ck_periodic_job_last_status"),
        # The schedulers' question: which jobs are due (migration 0030).
        Index("ix_periodic_job_next_due_at", "next_due_at"),
    )

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    next_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[str | None] = mapped_column(String(8))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_result: Mapped[dict | None] = mapped_column(JSON)
    # Who ran it last ("host:pid:start/token", app/jobs/runner.py): only that run writes its outcome.
    runner: Mapped[str | None] = mapped_column(String(200))
