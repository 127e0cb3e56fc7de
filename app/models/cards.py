"""Stored cards (Launch27's "Payment method": the cards saved on a customer, one the default).

Only what the card processor gives back is kept: its token, the brand, the last four digits, the
expiry and the name on the card. A full card number or CVC is never stored (DESIGN.md, Cards).
A removed card stays for the payments that used it, but is no longer offered.
"""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, SmallInteger, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class StoredCard(Model):
    """A customer's card, as its processor token; `is_default` on at most one card a customer."""

    __tablename__ = "stored_card"
    __table_args__ = (
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="ck_stored_card_exp_month"),
        CheckConstraint("exp_year BETWEEN 2000 AND 2199", name="ck_stored_card_exp_year"),
        CheckConstraint("removed_at IS NULL OR NOT is_default", name="ck_stored_card_removed_not_default"),
        # Exactly four digits (each dialect its own way: a collation must not let other characters in).
        CheckConstraint("last4 ~ '^[0-9]{4}$'", name="ck_stored_card_last4").ddl_if(dialect="postgresql"),
        CheckConstraint("length(last4) = 4 AND last4 NOT GLOB '*[^0-9]*'",
                        name="ck_stored_card_last4").ddl_if(dialect="sqlite"),
        Index("ix_stored_card_customer", "customer_id", "id"),
        Index("ux_stored_card_one_default", "customer_id", unique=True,
              postgresql_where=text("is_default"), sqlite_where=text("is_default")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    token: Mapped[str] = mapped_column(String(255), nullable=False)
    brand: Mapped[str] = mapped_column(String(20), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    exp_month: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    exp_year: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    name_on_card: Mapped[str | None] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_by_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def label(self) -> str:
        """How the card is named on screens and in a payment's reference: "Visa •••• 4242"."""
        return f"{self.brand} \u2022\u2022\u2022\u2022 {self.last4}"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}"

    def __repr__(self) -> str:
        return self.label
