"""FX rates: global rates by currency pair and effective date, and a customer's own rates (which win
over the global ones for that customer).

A rate says how many units of `to_currency` one unit of `from_currency` buys, from `effective_on`
until the next rate of the pair. The rules (look-up, inverse, through the base currency, stale) live
in app/services/billing/fx.py; the database keeps a rate above zero, the two currencies apart and one
rate per pair and date (per customer, for a customer's own) as the backstop against races.
"""
from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.resellers import utcnow

RATE = Numeric(20, 10)


class FxRate(Model):
    """A global rate: one `from_currency` buys `rate` of `to_currency` from `effective_on`."""

    __tablename__ = "fx_rate"
    __table_args__ = (
        CheckConstraint("rate > 0", name="ck_fx_rate_positive"),
        CheckConstraint("from_currency <> to_currency", name="ck_fx_rate_pair"),
        UniqueConstraint("from_currency", "to_currency", "effective_on", name="uq_fx_rate_pair_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    to_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    rate: Mapped[Decimal] = mapped_column(RATE, nullable=False)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    def __repr__(self) -> str:
        return f"{self.from_currency}/{self.to_currency} on {self.effective_on}"


class CustomerFxRate(Model):
    """A customer's own rate for a pair: used for that customer instead of the global one."""

    __tablename__ = "customer_fx_rate"
    __table_args__ = (
        CheckConstraint("rate > 0", name="ck_customer_fx_rate_positive"),
        CheckConstraint("from_currency <> to_currency", name="ck_customer_fx_rate_pair"),
        UniqueConstraint("customer_id", "from_currency", "to_currency", "effective_on",
                         name="uq_customer_fx_rate_pair_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A customer's rates go with the customer (they are not documents: nothing refers to them).
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"), nullable=False)
    from_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    to_currency: Mapped[str] = mapped_column(String(3), nullable=False)
    rate: Mapped[Decimal] = mapped_column(RATE, nullable=False)
    effective_on: Mapped[date] = mapped_column(Date, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, default=utcnow)

    customer = relationship("Customer", lazy="raise_on_sql")

    def __repr__(self) -> str:
        return f"{self.from_currency}/{self.to_currency} on {self.effective_on}"


# The look-up: the latest rate of a pair on or before a date.
Index("ix_fx_rate_lookup", FxRate.from_currency, FxRate.to_currency, FxRate.effective_on.desc())
Index("ix_customer_fx_rate_lookup", CustomerFxRate.customer_id, CustomerFxRate.from_currency,
      CustomerFxRate.to_currency, CustomerFxRate.effective_on.desc())
