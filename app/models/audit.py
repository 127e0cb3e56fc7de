from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class AuditEntry(Model):
    """One create, change or delete of an audited record: who, when, and each field's old and new value.

    Written only by app.services.audit's session hook.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_customer_id_at", "customer_id", "at"),
        Index("ix_audit_entry_entity", "entity", "entity_id"),
        # The audit list's default order, newest first, ties broken by id (migration 0015).
        Index("ix_audit_entry_at_id", "at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(10), nullable=False)
    entity: Mapped[str] = mapped_column(String(40), nullable=False)
    entity_id: Mapped[int | None] = mapped_column(Integer)
    # The customer the record belongs to, so a profile can list its own history.
    customer_id: Mapped[int | None] = mapped_column(Integer)
    changes: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)


class SubmittedForm(Model):
    """The one-time key of each add form that was saved: a double-clicked submit saves once.

    The key is inserted in the same transaction as the record the form creates;
    a second submit of the same form fails on the primary key and saves nothing.
    """

    __tablename__ = "submitted_form"

    key: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
