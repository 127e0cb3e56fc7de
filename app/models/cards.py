"""Stored cards (Launch27's "Payment method": the cards saved on a customer, one the default).

Only what the card processor gives back is kept: its token, the brand, the last four digits, the
expiry and the name on the card. A full card number or CVC is never stored (DESIGN.md, Cards).
A removed card stays for the payments that used it, but is no longer offered.

CardCharge: a charge of a stored card, written (and committed) before the processor is asked, so a
process that dies between the processor's approval and the payment's commit leaves a "pending" row
that is settled later from the processor's own answer for the same key, never charged twice.
"""
from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, SmallInteger, String, false, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.money import MONEY
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


# pending: asked (or about to ask) the processor, the answer not yet recorded; declined: the processor
# refused, nothing taken; recorded: approved and its payment recorded (in the payment's transaction);
# abandoned: the processor never received it (nothing was taken).
CHARGE_STATUSES = ("pending", "declined", "recorded", "abandoned")


class CardCharge(Model):
    """One charge of a stored card, keyed by the form's key (the processor's idempotency key)."""

    __tablename__ = "card_charge"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'declined', 'recorded', 'abandoned')", name="ck_card_charge_status"),
        CheckConstraint("amount > 0", name="ck_card_charge_amount"),
        CheckConstraint("payment_id IS NULL OR status = 'recorded'", name="ck_card_charge_payment"),
        Index("ix_card_charge_customer", "customer_id", "status"),
        Index("ix_card_charge_pending", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    card_id: Mapped[int] = mapped_column(Integer, ForeignKey("stored_card.id", ondelete="CASCADE"), nullable=False)
    invoice_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("invoice.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending", server_default="pending")
    processor_reference: Mapped[str | None] = mapped_column(String(100))
    decline_reason: Mapped[str | None] = mapped_column(String(255))
    payment_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("payment.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
