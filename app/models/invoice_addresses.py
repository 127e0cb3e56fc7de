"""Additional invoice addresses (Commusoft's): an insurer, a landlord, a letting agent that a
customer's invoices are sent to instead of the customer's own address; one may serve many customers.

Who sees one is decided by its reseller (services/billing/invoice_addresses.py): a reseller's users see
and use their reseller's addresses only, and a customer may only use an address of its own reseller
(NULL: company-wide, for customers of no reseller, seen by unscoped users only), so that one reseller's
edit never changes another reseller's invoices.
"""
from datetime import datetime

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.resellers import utcnow


class InvoiceAddress(Model):
    __tablename__ = "invoice_address"
    __table_args__ = (
        # A reseller's addresses in name order (the search's order; its contains-match reads them).
        Index("ix_invoice_address_reseller_name", "reseller_id", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    reseller_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("reseller.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(160), nullable=False)  # the organisation or person
    contact_name: Mapped[str | None] = mapped_column(String(120))
    line1: Mapped[str] = mapped_column(String(120), nullable=False)
    line2: Mapped[str | None] = mapped_column(String(120))
    line3: Mapped[str | None] = mapped_column(String(120))
    town: Mapped[str | None] = mapped_column(String(80))
    county: Mapped[str | None] = mapped_column(String(80))
    postcode: Mapped[str | None] = mapped_column(String(12))
    country: Mapped[str | None] = mapped_column(String(2))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    @property
    def text(self) -> str:
        """The address as an invoice prints it: one part a line, blank parts left out."""
        parts = (self.name, self.contact_name, self.line1, self.line2, self.line3, self.town, self.county,
                 self.postcode, self.country)
        return "\n".join(p for p in parts if p)

    def __repr__(self) -> str:
        return ", ".join(p for p in (self.name, self.line1, self.town, self.postcode) if p)
