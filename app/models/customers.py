"""Customers and what hangs off them: contacts, phones, addresses, tags.

Rules about these live in app/services/customers/; the models hold shape and
the database constraints that back those rules up against races.
"""
from datetime import date, datetime
from decimal import Decimal

from flask_appbuilder import Model
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.resellers import Reseller, utcnow

CUSTOMER_TYPES = ("private", "company")
STATUSES = ("active", "disabled", "dormant", "blocked", "archived")
IN_SERVICE = ("active", "disabled")  # one value in status_index
STATUS_INDEX = "CASE WHEN status IN ('active', 'disabled') THEN 'in_service' ELSE status END"
TITLES = ("Mr", "Mrs", "Miss", "Ms", "Mx", "Dr", "Prof", "Rev")
BUILDING_TYPES = ("House", "Flat", "Bungalow", "Office", "Shop", "Warehouse", "Industrial", "Other")
CREDITOR_DAYS = (0, 7, 14, 21, 30, 45, 60, 90)
# Whether account credit pays an invoice when it is issued (services/billing/allocation.py).
USE_CREDIT = ("off", "automatic", "ask")
PHONE_KINDS = ("mobile", "office", "home", "fax", "other")
ADDRESS_KINDS = ("billing", "site")
PAYMENT_REMINDERS = ("automatic", "manual", "off")
ACCESS_RELATIONSHIPS = ("tenant", "letting agent", "landlord", "key holder", "neighbour", "other")
BILLING_CYCLES = ("monthly", "quarterly", "annually", "one-off")
SERVICE_STATUSES = ("active", "suspended", "cancelled")
# Communication preferences: a channel, for service messages or for marketing.
CHANNELS = ("email", "sms", "letter", "phone")
PURPOSES = ("service", "marketing")

customer_tag = Table(
    "customer_tag",
    Model.metadata,
    Column("customer_id", Integer, ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves lookups by customer; this one serves "customers with tag X".
    Index("ix_customer_tag_tag_id_customer_id", "tag_id", "customer_id"),
)


class Preferences:
    """Opt-ins per channel, for service messages and separately for marketing.

    Service messages (reminders, notices) are on until someone opts out; marketing
    is off until the customer opts in. Rules: app/services/messages/preferences.py.
    """

    service_email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    service_sms: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    service_letter: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    service_phone: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    marketing_email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    marketing_sms: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    marketing_letter: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    marketing_phone: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    # When the unsubscribe link of a marketing e-mail was last used.
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def allows(self, channel: str, purpose: str) -> bool:
        return bool(getattr(self, f"{purpose}_{channel}"))


class Tag(Model):
    """A label that groups customers ("residential", "Groupon")."""

    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True, nullable=False)
    colour: Mapped[str | None] = mapped_column(String(7))

    def __repr__(self) -> str:
        return self.name


class Customer(Preferences, Model):
    """The entity that is invoiced: a private person or a company."""

    __tablename__ = "customer"
    __table_args__ = (
        CheckConstraint("customer_type IN ('private', 'company')", name="ck_customer_type"),
        CheckConstraint(
            "status IN ('active', 'disabled', 'dormant', 'blocked', 'archived')",
            name="ck_customer_status",
        ),
        CheckConstraint("payment_reminders IN ('automatic', 'manual', 'off')", name="ck_customer_payment_reminders"),
        # Indexes carry status_index, not status (see the column): enabling or disabling a
        # customer then writes no index entry (a HOT update on PostgreSQL, migration 0008).
        # E-mail is unique among live (not archived) customers.
        Index(
            "ux_customer_email_live",
            "email",
            unique=True,
            postgresql_where=text("email IS NOT NULL AND status_index <> 'archived'"),
            sqlite_where=text("email IS NOT NULL AND status_index <> 'archived'"),
        ),
        # The list's default order, carrying status and reseller so that a page deep
        # in the list is found from the index alone (PostgreSQL and SQLite alike).
        Index("ix_customer_sort_name_id", "sort_name", "id", "status_index", "reseller_id"),
        Index("ix_customer_joined_on_id", "joined_on", "id"),
        Index("ix_customer_status_id", "status_index", "id"),
        # A reseller's own list, in the default order.
        Index("ix_customer_reseller_sort", "reseller_id", "sort_name", "id", "status_index"),
        Index("ix_customer_email_id", "email", "id"),
        Index("ix_customer_phone_id", "phone", "id"),
        # A surname's customers in name order, from the index alone (see CustomerSurname).
        Index("ix_customer_surname_sort", "surname", "sort_name", "id", "status_index", "reseller_id"),
        # Live and in scope? For customers found by id (a tag's), from the index alone.
        Index("ix_customer_id_status_reseller", "id", "status_index", "reseller_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_type: Mapped[str] = mapped_column(String(10), nullable=False, default="private")
    title: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str | None] = mapped_column(String(80))
    surname: Mapped[str | None] = mapped_column(String(80))
    company_name: Mapped[str | None] = mapped_column(String(160))
    # name and sort_name are derived from the fields above by the customer
    # service; they exist so the list can show and sort a million rows by index.
    name: Mapped[str] = mapped_column(String(250), nullable=False)
    sort_name: Mapped[str] = mapped_column(String(250), nullable=False)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    mobile: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")
    # The status as the indexes see it: active and disabled are both "in_service", so that
    # enabling or disabling changes no indexed value; written by the database (0008).
    status_index: Mapped[str] = mapped_column(String(10), Computed(STATUS_INDEX, persisted=True))
    joined_on: Mapped[date] = mapped_column(Date, nullable=False, default=date.today)
    # What the customer owes (negative: in credit): the sum of its ledger entries, written only by
    # the ledger service (app/services/billing/ledger.py), in the transaction that posts them. Not
    # indexed: the sort by balance walks CustomerBalance's copy (an index here would make every
    # balance update write all of customer's indexes, never a HOT update on PostgreSQL).
    balance: Mapped[Decimal] = mapped_column(
        Numeric(16, 4), nullable=False, default=Decimal("0.00"), server_default="0"
    )
    reseller_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("reseller.id", ondelete="RESTRICT")
    )
    # Commusoft "other details"
    advertising_source: Mapped[str | None] = mapped_column(String(80))
    creditor_days: Mapped[int | None] = mapped_column(Integer)
    # Launch27's special sales tax: exempt from tax, or a rate of its own instead of each line's.
    tax_exempt: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    tax_rate_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("tax_rate.id", ondelete="SET NULL"))
    # Commusoft's price book: the book its lines are picked from (NULL: the default book).
    price_book_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("price_book.id", ondelete="SET NULL"))
    # Invoice settings (services/billing/address_format.py, invoice_addresses.py, billing_settings.py):
    # the invoice address template (NULL: the company's), an additional invoice address its invoices go
    # to, whether late payment never suspends it, its payment reminders (NULL: the company's default),
    # and how its statements are sent.
    invoice_address_format: Mapped[str | None] = mapped_column(String(1000))
    invoice_address_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("invoice_address.id", ondelete="RESTRICT"), index=True)
    do_not_suspend: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    payment_reminders: Mapped[str | None] = mapped_column(String(10))
    group_statements_by_contact: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false())
    attach_invoices_to_statements: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false())
    # Use account credit when an invoice is issued: off, automatic or ask (NULL: the company's default).
    use_credit: Mapped[str | None] = mapped_column(String(10))
    building_type: Mapped[str | None] = mapped_column(String(20))
    third_party_reference: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, nullable=False
    )

    reseller: Mapped[Reseller | None] = relationship(Reseller, lazy="joined", innerjoin=False)
    tax_rate = relationship("TaxRate", lazy="select")
    price_book = relationship("PriceBook", lazy="select")
    tags: Mapped[list[Tag]] = relationship(
        Tag, secondary=customer_tag, order_by=Tag.name, lazy="selectin"
    )
    contacts: Mapped[list["Contact"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(Contact.is_primary.desc(), Contact.id)",
    )
    addresses: Mapped[list["Address"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(Address.kind, Address.id)",
    )
    services: Mapped[list["CustomerService"]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", passive_deletes=True,
        order_by="CustomerService.id",
    )

    @property
    def services_summary(self) -> str | None:
        """"Broadband 40, Hosting (suspended)": set by the customer list's query, which reads
        it in the same statement as the customer (see CustomerInterface.load)."""
        return self.__dict__.get("_services_summary")

    def __repr__(self) -> str:
        return f"{self.name} (#{self.id})"


class CustomerSurname(Model):
    """Every surname a customer has, once: a contains-search on surname looks up the
    few matching surnames here, then their customers through ix_customer_surname_sort.

    Kept complete by triggers on customer (migration 0005), never by the app; a
    surname nobody has any more stays, and matches no customer."""

    __tablename__ = "customer_surname"

    surname: Mapped[str] = mapped_column(String(80), primary_key=True)


class CustomerBalance(Model):
    """Each customer's balance again, for the lists' sort by balance alone: the one index on a
    balance is ix_customer_balance_sort here, so moving customer.balance (the billing run moves
    hundreds of thousands) updates a narrow row and one index, and the customer row in place.

    One row per customer, created by triggers on customer (migration 0037) whatever inserts the
    customer (the service's ORM flush, demo data's COPY, SQL), with the customer's balance then;
    deleted with it (ON DELETE CASCADE). Moved only by the ledger service, in the statements that
    move customer.balance, by the same amounts; `flask ledger check` reports a customer whose copy
    differs. Everything else reads customer.balance."""

    __tablename__ = "customer_balance"
    __table_args__ = (Index("ix_customer_balance_sort", "balance", "customer_id"),)

    customer_id: Mapped[int] = mapped_column(Integer, ForeignKey("customer.id", ondelete="CASCADE"),
                                             primary_key=True)
    balance: Mapped[Decimal] = mapped_column(Numeric(16, 4), nullable=False, default=Decimal(0), server_default="0")


class Contact(Preferences, Model):
    """A person at a customer; one of them may be the primary contact."""

    __tablename__ = "contact"
    __table_args__ = (
        Index(
            "ux_contact_primary",
            "customer_id",
            unique=True,
            postgresql_where=text("is_primary"),
            sqlite_where=text("is_primary"),
        ),
        Index("ix_contact_email", "email"),  # who sent a received e-mail
        # The contacts list's default order; customer_id for a reseller's scope (migration 0015).
        Index("ix_contact_is_primary_id", "is_primary", "id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str | None] = mapped_column(String(80))
    surname: Mapped[str] = mapped_column(String(80), nullable=False)
    position: Mapped[str | None] = mapped_column(String(80))
    email: Mapped[str | None] = mapped_column(String(254))
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    website_url: Mapped[str | None] = mapped_column(String(500))
    twitter_url: Mapped[str | None] = mapped_column(String(500))
    facebook_url: Mapped[str | None] = mapped_column(String(500))
    linkedin_url: Mapped[str | None] = mapped_column(String(500))

    customer: Mapped[Customer] = relationship(back_populates="contacts")
    phones: Mapped[list["ContactPhone"]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", passive_deletes=True,
        order_by="ContactPhone.id", lazy="selectin",
    )

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.title, self.first_name, self.surname) if p)

    def __repr__(self) -> str:
        return self.name


class ContactPhone(Model):
    """One typed phone number of a contact, stored in E.164."""

    __tablename__ = "contact_phone"
    __table_args__ = (Index("ix_contact_phone_number", "number"),)  # who sent a received text

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="mobile")
    number: Mapped[str] = mapped_column(String(20), nullable=False)

    contact: Mapped[Contact] = relationship(back_populates="phones")

    def __repr__(self) -> str:
        return f"{self.kind}: {self.number}"


class Address(Model):
    """A customer's billing address (exactly one) or one of its site addresses."""

    __tablename__ = "address"
    __table_args__ = (
        CheckConstraint("kind IN ('billing', 'site')", name="ck_address_kind"),
        Index(
            "ux_address_billing",
            "customer_id",
            unique=True,
            postgresql_where=text("kind = 'billing'"),
            sqlite_where=text("kind = 'billing'"),
        ),
        # The addresses list's default order, and that order within a town (migration 0015).
        Index("ix_address_kind_id", "kind", "id", "customer_id"),
        Index("ix_address_town_kind_id", "town", "kind", "id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(10), nullable=False, default="site")
    line1: Mapped[str] = mapped_column(String(120), nullable=False)
    line2: Mapped[str | None] = mapped_column(String(120))
    line3: Mapped[str | None] = mapped_column(String(120))
    town: Mapped[str | None] = mapped_column(String(80))
    county: Mapped[str | None] = mapped_column(String(80))
    postcode: Mapped[str] = mapped_column(String(12), nullable=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False, default="GB")
    # Dormant: no automatic messages for it (Commusoft); a site address goes dormant with its
    # customer (dormant_by_customer) and comes back when the customer is made active again.
    dormant: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    dormant_by_customer: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    latitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[Decimal | None] = mapped_column(Numeric(9, 6))
    # The person who gives access to the property (a tenant, a letting agent...).
    access_name: Mapped[str | None] = mapped_column(String(120))
    access_phone: Mapped[str | None] = mapped_column(String(20))
    access_relationship: Mapped[str | None] = mapped_column(String(20))

    customer: Mapped[Customer] = relationship(back_populates="addresses")

    @property
    def access(self) -> "Address":
        """The address itself, for list columns that show its access contact."""
        return self

    @property
    def one_line(self) -> str:
        parts = (self.line1, self.line2, self.line3, self.town, self.county, self.postcode)
        return ", ".join(p for p in parts if p)

    def __repr__(self) -> str:
        return self.one_line


class CustomerService(Model):
    """Something a customer is billed for (iBill): broadband, hosting, a cleaning round.

    Disabling a customer suspends its active services and marks them, so that
    enabling restores those and leaves alone what was suspended for another reason.
    """

    __tablename__ = "service"
    __table_args__ = (
        CheckConstraint("billing_cycle IN ('monthly', 'quarterly', 'annually', 'one-off')",
                        name="ck_service_billing_cycle"),
        CheckConstraint("status IN ('active', 'suspended', 'cancelled')", name="ck_service_status"),
        CheckConstraint("price >= 0", name="ck_service_price"),
        CheckConstraint("billing_day BETWEEN 1 AND 31", name="ck_service_billing_day"),
        # The billing run's question: which services are due (the few with a date on or before today).
        Index("ix_service_next_billing", "next_billing_on", postgresql_where=text("next_billing_on IS NOT NULL"),
              sqlite_where=text("next_billing_on IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("customer.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    price: Mapped[Decimal] = mapped_column(Numeric(16, 4), nullable=False, default=Decimal("0.00"))
    billing_cycle: Mapped[str] = mapped_column(String(10), nullable=False, default="monthly")
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="active")
    suspended_by_disable: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false())
    started_on: Mapped[date] = mapped_column(Date, nullable=False, default=date.today)
    # Recurring billing (services/billing/recurring.py): the first day of the next period to bill
    # (NULL: nothing more to bill: a one-off billed, a cancelled service billed up to its end), the day of
    # the month its periods start on (31: the last day of shorter months), the day it ends (cancelled:
    # active until the day before), and its tax rate (NULL: the default rate).
    next_billing_on: Mapped[date | None] = mapped_column(Date)
    billing_day: Mapped[int | None] = mapped_column(Integer)
    ends_on: Mapped[date | None] = mapped_column(Date)
    tax_rate_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("tax_rate.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)

    customer: Mapped[Customer] = relationship(back_populates="services")
    tax_rate = relationship("TaxRate", lazy="select")

    def __repr__(self) -> str:
        return self.name
