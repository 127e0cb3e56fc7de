"""Messages to and from customers: the outbox, and every delivery attempt.

A message is written here in the same transaction as the request that causes it;
a job delivers it by id (app/services/messages/delivery.py).
"""
from datetime import date, datetime

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.customers import Contact, Customer
from app.models.resellers import utcnow

class Message(Model):
    """One e-mail or text to one recipient (or received from one).

    kind: "message" is written by a person (compose, reply); "notification" is sent by the
    system (reminders, notices): getSoapy's notification logs.
    status: queued (until due_at) -> sending -> sent | failed | uncertain; or skipped
    (preferences, status), with the reason; a message from the customer (direction "in") is
    received. "sending" is one message a worker is handing to the server now: claimed_by is
    that worker, which renews lease_until while it sends. "uncertain": the attempt broke off
    after the server had the message (a late reply, a worker that died while sending), so it
    may have gone out; it is never sent again by itself.
    """

    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed', 'uncertain', 'skipped', 'received')",
                        name="ck_message_status"),
        CheckConstraint("channel IN ('email', 'sms')", name="ck_message_channel"),
        CheckConstraint("purpose IN ('service', 'marketing')", name="ck_message_purpose"),
        CheckConstraint("kind IN ('message', 'notification')", name="ck_message_kind"),
        CheckConstraint("direction IN ('out', 'in')", name="ck_message_direction"),
        Index("ix_message_customer_id_id", "customer_id", "id"),
        Index("ix_message_status_id", "status", "id"),
        Index("ix_message_batch_id", "batch_id"),
        # For the foreign keys that point here: deleting a contact or a message checks them.
        Index("ix_message_contact_id", "contact_id"),
        Index("ix_message_resend_of_id", "resend_of_id"),
        Index("ix_message_recipient_id", "recipient", "id"),  # a reply: the last message to its sender
        # A batch's message is written once under its key (a second write is a no-op): migration 0031.
        Index("ux_message_send_key", "send_key", unique=True),
        # What is due to be sent: queued messages by due time (few rows: the index stays small).
        Index("ix_message_due", "due_at", "id", postgresql_where=text("status = 'queued'"),
              sqlite_where=text("status = 'queued'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    contact_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("contact.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(5), nullable=False)  # email, sms
    purpose: Mapped[str] = mapped_column(String(10), nullable=False, default="service")
    kind: Mapped[str] = mapped_column(String(12), nullable=False, default="message")  # or notification
    direction: Mapped[str] = mapped_column(String(3), nullable=False, default="out")
    recipient: Mapped[str | None] = mapped_column(String(254))
    recipient_name: Mapped[str | None] = mapped_column(String(250))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # queued, sending, sent, failed, uncertain, skipped (out); received (in)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="queued")
    skip_reason: Mapped[str | None] = mapped_column(String(60))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    transport: Mapped[str | None] = mapped_column(String(20))
    batch_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("job.id", ondelete="SET NULL"))
    resend_of_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("message.id", ondelete="SET NULL"))
    # "statement:<job>:<customer>": written once under it whatever runs the batch again (NULL: no key).
    send_key: Mapped[str | None] = mapped_column(String(80))
    # A payment reminder's: the outstanding statement as at this date is rendered and attached by its
    # delivery, once, before it is sent (delivery.py; NULL: none).
    attach_statement_on: Mapped[date | None] = mapped_column(Date)
    # The invoice whose PDF delivery renders and attaches before sending (a billing run's e-mails; NULL:
    # none; once attached, a retry reuses the file).
    attach_invoice_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("invoice.id", ondelete="SET NULL"))
    # A payment reminder an admin sent by hand to a dormant, blocked or archived customer, confirming it
    # goes despite the status (reminders.send_by_hand, 0035): delivery lets it through the customer's
    # status only; the recipient's opt-out and a missing address still skip it.
    sent_despite_status: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False,
                                                      server_default=false())
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    # When it may be tried (first send or retry): whatever runs due work sends it from then on.
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, server_default=func.now(),
                                             nullable=False)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # taken by a worker to send
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # that worker (app/jobs/runner.py)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # renewed while it sends
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    customer: Mapped[Customer] = relationship(Customer)
    contact: Mapped[Contact | None] = relationship(Contact)
    attempt_log: Mapped[list["MessageAttempt"]] = relationship(
        back_populates="message", order_by="MessageAttempt.id", cascade="all, delete-orphan", passive_deletes=True)
    attachments: Mapped[list["MessageAttachment"]] = relationship(
        back_populates="message", order_by="MessageAttachment.id", cascade="all, delete-orphan", passive_deletes=True,
        lazy="raise_on_sql")

    @property
    def summary(self) -> str:
        """The subject, or for a text the start of it: what a list of messages shows."""
        if self.subject:
            return self.subject
        body = " ".join(self.body.split())
        return body if len(body) <= 80 else body[:79] + "…"

    @property
    def reason(self) -> str | None:
        """Why it was not sent: the skip reason, or the last error."""
        return self.skip_reason or self.error

    def __repr__(self) -> str:
        return f"{self.channel} to {self.recipient or '-'}"


class MessageAttempt(Model):
    """One try at delivering a message, and what came of it."""

    __tablename__ = "message_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("message.id", ondelete="CASCADE"), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    # sent, retry (a transient failure; tried again later), failed (given up), uncertain (broke off
    # after the server had it), interrupted (its worker died while sending), skipped (opted out or
    # status changed before it was sent), late (an outcome that came after the message was given up)
    outcome: Mapped[str] = mapped_column(String(12), nullable=False)
    transport: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)

    message: Mapped[Message] = relationship(back_populates="attempt_log")

    def __repr__(self) -> str:
        return f"{self.outcome}"


class MessageAttachment(Model):
    """A file an e-mail carries (an invoice's PDF), written in the transaction that writes its
    message; delivery attaches it (app/services/messages/outbox.attach, delivery). A text
    carries none. The bytes are kept with the message: what was sent can be shown as it was."""

    __tablename__ = "message_attachment"
    __table_args__ = (CheckConstraint("size >= 0", name="ck_message_attachment_size"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("message.id", ondelete="CASCADE"), nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

    message: Mapped[Message] = relationship(back_populates="attachments")

    def __repr__(self) -> str:
        return self.filename
