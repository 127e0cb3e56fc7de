from datetime import datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import Boolean, CheckConstraint, DateTime, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class CompanySettings(Model):
    """The business's own settings that admins change in the browser: one row (id 1).

    An empty field falls back to the app's configuration (TIME_ZONE, BUSINESS_LATITUDE...),
    so a new installation works before anyone opens the screen."""

    __tablename__ = "company_settings"
    __table_args__ = (CheckConstraint("id = 1", name="ck_company_settings_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    time_zone: Mapped[str | None] = mapped_column(String(64))  # an IANA name: "Europe/London"
    business_address: Mapped[str | None] = mapped_column(String(255))
    business_latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    business_longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    # What invoices show about the business (empty: the configuration's COMPANY_NAME...).
    company_name: Mapped[str | None] = mapped_column(String(160))
    company_address: Mapped[str | None] = mapped_column(Text)
    tax_number: Mapped[str | None] = mapped_column(String(40))
    bank_details: Mapped[str | None] = mapped_column(Text)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)  # a PNG or JPEG, at most LOGO_BYTES
    logo_type: Mapped[str | None] = mapped_column(String(20))
    default_creditor_days: Mapped[int | None] = mapped_column(Integer)  # a customer's own wins
    # How a new credit note's PDF breaks its lines down (empty: "full"; credit_notes.BREAKDOWN_STYLES).
    credit_note_breakdown: Mapped[str | None] = mapped_column(String(20))
    # The invoice address template customers without their own use (NULL: address_format.DEFAULT_FORMAT),
    # and the payment reminders of customers that have no setting of their own (NULL: "automatic").
    invoice_address_format: Mapped[str | None] = mapped_column(String(1000))
    default_payment_reminders: Mapped[str | None] = mapped_column(String(10))
    # The most a small write-off may be, in the base currency (empty: WRITE_OFF_LIMIT_DEFAULT).
    write_off_limit: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    # Whether a new invoice is paid from account credit when issued: off, automatic or ask (empty:
    # off); a customer's own choice (customer.use_credit) wins.
    use_credit_default: Mapped[str | None] = mapped_column(String(10))
    # Payment reminders go only to customers whose net overdue is above this, in the base currency
    # (empty: 0; services/billing/reminders.py says how other currencies compare).
    reminder_minimum: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))
    # Days after the final reminder step before a customer still overdue is suspended for late payment
    # (empty: never automatically; services/billing/suspension.py).
    suspend_grace_days: Mapped[int | None] = mapped_column(Integer)
    # Recurring billing (services/billing/recurring.py), each empty meaning its default: bill the part of
    # a period a service started or cancelled in was active (pro rata by days; empty: off), leave the
    # run's invoices as drafts for review (empty: issue them), e-mail issued invoices with their PDF
    # (empty: yes), bill the services of customers suspended for late payment (empty: yes).
    billing_pro_rata: Mapped[bool | None] = mapped_column(Boolean)
    billing_drafts: Mapped[bool | None] = mapped_column(Boolean)
    billing_email: Mapped[bool | None] = mapped_column(Boolean)
    bill_suspended: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
