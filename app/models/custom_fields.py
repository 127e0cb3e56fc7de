"""Custom fields: fields the admins define on customers (text, number, date, choice), and
each customer's values for them (the Details tab of the customer's page)."""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.customers import Customer
from app.models.resellers import utcnow

CUSTOM_FIELD_KINDS = ("text", "number", "date", "choice")


class CustomField(Model):
    """A field defined by an admin.

    choices: for kind "choice", one choice per line.
    position: fields are shown by position, then name.
    active: an inactive field is hidden everywhere, but its values are kept.
    """

    __tablename__ = "custom_field"
    __table_args__ = (
        CheckConstraint("kind IN ('text', 'number', 'date', 'choice')", name="ck_custom_field_kind"),
        UniqueConstraint("name", name="uq_custom_field_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    choices: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    @property
    def choice_list(self) -> list[str]:
        """The choices of a choice field, in order (none for the other kinds)."""
        return [line.strip() for line in (self.choices or "").splitlines() if line.strip()]

    def __repr__(self) -> str:
        return self.name


class CustomValue(Model):
    """A customer's value for one field, always as text: numbers as their plain decimal
    string ("1200.5"), dates in ISO form ("2026-02-28"), choices as the choice."""

    __tablename__ = "custom_value"
    __table_args__ = (
        # The values of one field (deleting or changing the kind of a field); a customer's
        # values are found by the primary key's first column.
        Index("ix_custom_value_field_id", "field_id"),
    )

    customer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    field_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("custom_field.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)

    customer: Mapped[Customer] = relationship(Customer)
    field: Mapped[CustomField] = relationship(CustomField)

    def __repr__(self) -> str:
        return self.value[:40]
