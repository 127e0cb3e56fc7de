"""What the customer's page shows: the side panel's summary, and each tab's records.

Every function loads the customer through the user's scope first, so another reseller's
customer is NotFound on every tab alike. Tabs are read one at a time (the page shows one),
so a customer with thousands of notes or changes opens as fast as any other.
"""
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.models import Address, AuditEntry, Contact, Customer, CustomerFile, CustomerService, Message, Note
from app.services import company, geo
from app.services.billing import finances
from app.services.customers.services import ServiceRow, with_last_invoices
from app.services.customers.notes import history_visible, pinned_and_never_again, visible
from app.services.scope import get_customer

ZERO = Decimal("0.00")
CHANGES_PAGE = 50


@dataclass
class Summary:
    """The side panel and header of a customer's page."""

    customer: Customer
    contacts: list[Contact]  # the primary contact first
    billing: Address | None
    distance_km: float | None
    business_known: bool  # where the business is has been set (company settings), for a mapped address
    pinned: list  # the important notes the actor may read, newest first
    never_again: bool
    balance: Decimal
    credit: Decimal
    annual_value: Decimal
    debt_days: int | None  # days past the due date of the oldest overdue invoice
    debt: Decimal = ZERO  # outstanding on issued invoices
    counts: dict[str, int] = field(default_factory=dict)


def summary(session: Session, actor, customer_id, config: dict) -> Summary:
    customer = get_customer(session, actor, customer_id)
    contacts = list(session.scalars(
        select(Contact).where(Contact.customer_id == customer.id)
        .order_by(Contact.is_primary.desc(), Contact.id)))
    billing = session.scalar(select(Address).where(Address.customer_id == customer.id, Address.kind == "billing"))
    distance, business_known = None, True  # where the business is matters only beside a mapped address
    if billing is not None and billing.latitude is not None and billing.longitude is not None:
        business = company.read(session, config).business
        distance, business_known = geo.distance_from(business, billing.latitude, billing.longitude), business is not None
    pinned, never_again = pinned_and_never_again(session, actor, customer.id)
    counts = {
        "contacts": len(contacts),
        "addresses": _count(session, select(Address.id).where(Address.customer_id == customer.id)),
        "notes": _count(session, select(Note.id).where(Note.customer_id == customer.id, visible(actor, session))),
        "messages": _count(session, select(Message.id).where(Message.customer_id == customer.id)),
        "files": _count(session, select(CustomerFile.id).where(CustomerFile.customer_id == customer.id)),
    }
    money = finances.figures(session, customer)
    return Summary(customer=customer, contacts=contacts, billing=billing, distance_km=distance,
                   business_known=business_known, pinned=pinned, never_again=never_again, balance=money.balance,
                   credit=money.credit, annual_value=money.annual_value, debt_days=money.debt_days, debt=money.debt,
                   counts=counts)


def _count(session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.subquery()))


def contacts(session: Session, actor, customer_id) -> list[Contact]:
    customer = get_customer(session, actor, customer_id)
    return list(session.scalars(select(Contact).where(Contact.customer_id == customer.id)
                                .options(selectinload(Contact.phones))
                                .order_by(Contact.is_primary.desc(), Contact.surname, Contact.id)))


def addresses(session: Session, actor, customer_id) -> list[Address]:
    """The billing address first, then the site addresses."""
    customer = get_customer(session, actor, customer_id)
    return list(session.scalars(select(Address).where(Address.customer_id == customer.id)
                                .order_by((Address.kind != "billing"), Address.id)))


def services(session: Session, actor, customer_id) -> list[ServiceRow]:
    """The customer's services: active ones first, then suspended, then cancelled; newest first within each;
    each with its last invoice (one query for them all: services.with_last_invoices)."""
    customer = get_customer(session, actor, customer_id)
    order = {"active": 0, "suspended": 1, "cancelled": 2}
    rows = session.scalars(select(CustomerService).where(CustomerService.customer_id == customer.id)
                           .options(selectinload(CustomerService.tax_rate))
                           .order_by(CustomerService.started_on.desc(), CustomerService.id.desc()))
    return with_last_invoices(session, sorted(rows, key=lambda s: order.get(s.status, 3)))


def messages(session: Session, actor, customer_id, notifications: bool, limit: int = 100) -> list[Message]:
    """Messages exchanged with the customer, newest first; with `notifications`, the automatic
    ones too (getSoapy's "Show notification logs")."""
    customer = get_customer(session, actor, customer_id)
    stmt = select(Message).where(Message.customer_id == customer.id)
    if not notifications:
        stmt = stmt.where(Message.kind == "message")
    return list(session.scalars(stmt.order_by(Message.id.desc()).limit(limit)))


def changes(session: Session, actor, customer_id, before: int | None = None) -> tuple[list[AuditEntry], int | None]:
    """The audit trail of the customer and everything on it, newest first, a page at a time
    (`before`: the id the previous page ended at). Returns the page and the next `before`.

    Only who may see private notes sees the history of notes (a private note's words are in it)."""
    customer = get_customer(session, actor, customer_id)
    stmt = select(AuditEntry).where(AuditEntry.customer_id == customer.id, history_visible(session, actor))
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    rows = list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(CHANGES_PAGE + 1)))
    more = len(rows) > CHANGES_PAGE
    rows = rows[:CHANGES_PAGE]
    return rows, (rows[-1].id if more else None)
