"""A customer's services (iBill): what it is billed for, at what price and how often.

A service's status is set here by hand (active, suspended, cancelled); disabling
or enabling the customer suspends or restores services through the status
machine (app/services/customers/status.py).
"""
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Customer, CustomerService
from app.models.customers import BILLING_CYCLES, SERVICE_STATUSES
from app.services import fields, money
from app.services.db import commit
from app.services.errors import FieldErrors
from app.services.scope import get_customer, load_in_scope

SERVICE_FIELDS = ("name", "price", "billing_cycle", "status", "started_on")
MAX_PRICE = Decimal("9999999999.99")


def _label():
    return CustomerService.name + case((CustomerService.status == "suspended", " (suspended)"), else_="")


def summary_of_one():
    """A customer's services that are not cancelled, as one line ("Fibre 900, Hosting (suspended)"):
    a subquery per customer row, for a page of the list or a small export."""
    return (select(func.aggregate_strings(_label(), ", "))
            .where(CustomerService.customer_id == Customer.id, CustomerService.status != "cancelled")
            .scalar_subquery())


def summaries():
    """The same line for every customer with a service, aggregated once (columns customer_id,
    summary): for a large export, joined instead of a subquery per row."""
    return (select(CustomerService.customer_id, func.aggregate_strings(_label(), ", ").label("summary"))
            .where(CustomerService.status != "cancelled")
            .group_by(CustomerService.customer_id)
            .subquery("customer_services"))


def get_service(session: Session, actor, service_id) -> CustomerService:
    return load_in_scope(session, actor, CustomerService, service_id, (Customer,), "No such service.")


def _price(errors: FieldErrors, value, currency: str) -> Decimal | None:
    """An amount in the customer's currency (money.amount), not negative, that the price column
    holds (two decimals, ten digits before the point)."""
    price = money.amount(errors, "price", value, currency, required=True)
    if price is None:
        return None
    if price < 0:
        errors.add("price", "The price cannot be negative.")
        return None
    if price > MAX_PRICE or price != price.quantize(Decimal("0.01")):
        errors.add("price", "Enter an amount with at most two decimals, up to 9,999,999,999.99.")
        return None
    return price


def _clean(data: dict, service: CustomerService | None, currency: str) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in SERVICE_FIELDS:
            errors.add(key, "Unknown field.")

    def current(key, default=None):
        return data[key] if key in data else (getattr(service, key) if service else default)

    out = dict(
        name=fields.text(errors, "name", current("name"), 120, required=True),
        price=_price(errors, current("price"), currency),
        billing_cycle=fields.choice(errors, "billing_cycle", current("billing_cycle", "monthly"), BILLING_CYCLES,
                                    required=True, label="Billing cycle"),
        status=fields.choice(errors, "status", current("status", "active"), SERVICE_STATUSES, required=True),
        started_on=fields.a_date(errors, "started_on", current("started_on")),
    )
    errors.raise_if_any()
    if out["started_on"] is None:
        out.pop("started_on")
    return out


def create_service(session: Session, actor, customer_id, data: dict) -> CustomerService:
    customer = get_customer(session, actor, customer_id)
    service = CustomerService(customer=customer, **_clean(data, None, customer.currency))
    if service.status != "cancelled":
        # Billed in advance from its first day (services/billing/recurring.py), its periods starting on
        # the day of the month it started.
        started = service.started_on or date.today()
        service.next_billing_on, service.billing_day = started, started.day
    session.add(service)
    commit(session)
    return service


def update_service(session: Session, actor, service_id, data: dict) -> CustomerService:
    service = get_service(session, actor, service_id)
    values = _clean(data, service, service.customer.currency)
    if values["status"] != service.status:
        # Set by hand: no longer the disable's to restore.
        values["suspended_by_disable"] = False
    for key, value in values.items():
        setattr(service, key, value)
    commit(session)
    return service


def delete_service(session: Session, actor, service_id) -> None:
    session.delete(get_service(session, actor, service_id))
    commit(session)
