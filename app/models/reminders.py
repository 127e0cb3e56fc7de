"""Payment reminders (dunning, issue 16): the steps (company-wide settings), each customer's overdue
episode, and every reminder sent, keyed (customer, episode, step) so that none is written twice.
The rules: app/services/billing/reminders.py."""
from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, \
    false, text, true
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class ReminderStep(Model):
    """One step of the reminders: sent `days` after the oldest counted invoice's due date (a negative
    number: that many days before it), with its e-mail (subject and body templates, the placeholders of
    messaging and the reminders' own) and optionally a text. The last step attaches the statement by
    default. Steps are ordered by position; an inactive step is never sent."""

    __tablename__ = "reminder_step"
    __table_args__ = (
        CheckConstraint("position >= 1", name="ck_reminder_step_position"),
        Index("ux_reminder_step_position", "position", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    days: Mapped[int] = mapped_column(Integer, nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    sms_body: Mapped[str | None] = mapped_column(Text)  # NULL: no text at this step
    attach_statement: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())

    def __repr__(self) -> str:
        return f"Step {self.position} ({self.days} days)"


class ReminderState(Model):
    """A customer's payment reminders now: its overdue episode (a run of days with its net overdue above
    the company's minimum; `episode` counts them, `episode_started_on` is NULL between them), the last
    step sent in it and when, and the next reminder's date (as the steps schedule it, or as an admin
    moved it: `next_moved`). Suspension for late payment (services/billing/suspension.py): the day the
    run suspended the customer (`suspended_on`, NULL: not suspended by the run), whether an admin took
    this episode over by changing its status by hand (`suspension_held`: not suspended again until a new
    episode), and the date an admin postponed suspension until (kept across episodes: a date ends it)."""

    __tablename__ = "reminder_state"
    __table_args__ = (
        # The run's question: which customers have an episode open (few: the overdue ones).
        Index("ix_reminder_state_open", "customer_id", postgresql_where=text("episode_started_on IS NOT NULL"),
              sqlite_where=text("episode_started_on IS NOT NULL")),
    )

    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    episode_started_on: Mapped[date | None] = mapped_column(Date)
    last_step: Mapped[int | None] = mapped_column(Integer)  # the position of the last step sent in the episode
    last_sent_on: Mapped[date | None] = mapped_column(Date)
    next_reminder_on: Mapped[date | None] = mapped_column(Date)
    next_moved: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    suspended_on: Mapped[date | None] = mapped_column(Date)
    suspension_held: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    suspension_postponed_until: Mapped[date | None] = mapped_column(Date)


class PaymentReminder(Model):
    """One reminder sent: to a customer, in an episode, at a step (unique together: a race or a re-run
    writes it once), with what was overdue then and the messages it wrote (the notification log)."""

    __tablename__ = "payment_reminder"
    __table_args__ = (
        Index("ux_payment_reminder_key", "customer_id", "episode", "step", unique=True),
        Index("ix_payment_reminder_email_message", "email_message_id"),
        Index("ix_payment_reminder_sms_message", "sms_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    episode: Mapped[int] = mapped_column(Integer, nullable=False)
    step: Mapped[int] = mapped_column(Integer, nullable=False)  # the step's position
    sent_on: Mapped[date] = mapped_column(Date, nullable=False)
    net_overdue: Mapped[Decimal] = mapped_column(Numeric(16, 4), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    by_hand: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    email_message_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("message.id", ondelete="SET NULL"))
    sms_message_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("message.id", ondelete="SET NULL"))
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)
