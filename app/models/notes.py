"""Notes on a customer (Commusoft's communications notes, Launch27's customer notes)."""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.customers import Customer
from app.models.resellers import utcnow


class Note(Model):
    """A note written on a customer.

    important: pinned to the top of the notes, in red.
    private: for admins and staff only; never shown to a reseller, never on a document.
    do_not_work: Commusoft's "do not work with again": the customer was made dormant with it,
    and its page says so for as long as the note exists.
    """

    __tablename__ = "note"
    __table_args__ = (
        # A customer's notes, pinned first, newest first.
        Index("ix_note_customer_pinned", "customer_id", "important", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    important: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    private: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    do_not_work: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    customer: Mapped[Customer] = relationship(Customer)

    def __repr__(self) -> str:
        return self.body[:40]
