"""A customer's services (iBill): what it is billed for, at what price and how often, from which
date (next_billing_on, the first day of the next period to bill; billing_day, the day of the month
its periods start on), at which tax rate, and until when once cancelled (ends_on).

A price is in the customer's currency with at most that currency's decimals (money.amount: JPY
none, BHD three); a customer's currency may change only to one its prices fit (prices_misfit).
The next billing date is never on or before the end of a period already billed (service_period),
so that moving it cannot bill a day twice. A service's status is set here by hand (active,
suspended, cancelled); disabling or enabling the customer suspends or restores services through
the status machine (app/services/customers/status.py). The billing run itself is
app/services/billing/recurring.py's.
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Customer, CustomerService, Invoice, ServicePeriod
from app.models.customers import BILLING_CYCLES, SERVICE_STATUSES
from app.services import company, fields, money
from app.services.billing import periods, tax
from app.services.db import commit, in_ids
from app.services.errors import FieldErrors
from app.services.scope import get_customer, load_in_scope

SERVICE_FIELDS = ("name", "price", "billing_cycle", "status", "started_on", "next_billing_on", "tax_rate_id",
                  "ends_on")
RECURRING_CYCLES = tuple(c for c in BILLING_CYCLES if c != "one-off")


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


def day_words(day: date) -> str:
    """A date as messages write it: "31 Jan 2027"."""
    return f"{day.day} {day:%b %Y}"


def _price(errors: FieldErrors, value, currency: str) -> Decimal | None:
    """An amount in the customer's currency, with at most its decimals (money.amount names the
    currency when there are more), not negative."""
    price = money.amount(errors, "price", value, currency, required=True)
    if price is not None and price < 0:
        errors.add("price", "The price cannot be negative.")
        return None
    return price


def fits(price: Decimal, currency: str) -> bool:
    """Whether `price` has no more decimals than `currency` has."""
    return price == money.quantize(price, currency)


def prices_misfit(session: Session, customer_ids: list[int], currency: str) -> dict[int, CustomerService]:
    """For each customer among `customer_ids` with a service whose price has more decimals than
    `currency` has, the first such service: its currency cannot change to `currency` until that
    price does (prices are never rounded behind anyone's back)."""
    found: dict[int, CustomerService] = {}
    rows = session.scalars(select(CustomerService).where(in_ids(session, CustomerService.customer_id, customer_ids))
                           .order_by(CustomerService.customer_id, CustomerService.id))
    for service in rows:
        if service.customer_id not in found and not fits(service.price, currency):
            found[service.customer_id] = service
    return found


def misfit_message(service: CustomerService, currency: str) -> str:
    places = money.minor_units(currency)
    held = "no decimals" if places == 0 else f"at most {places} decimals"
    return (f"The service {service.name} costs {service.price.normalize():f}, which {currency} cannot hold "
            f"({held}): change its price first.")


def billed_through(session: Session, service_id: int | None) -> date | None:
    """The last day of the last period of the service billed (None: none yet)."""
    if service_id is None:
        return None
    return session.scalar(select(func.max(ServicePeriod.ends_on)).where(ServicePeriod.service_id == service_id))


def _clean(session: Session, data: dict, service: CustomerService | None, currency: str,
           today: date | None = None, customer_id: int | None = None) -> dict:
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
        tax_rate_id=tax.rate_id(errors, "tax_rate_id", current("tax_rate_id"), session),
    )
    started = out["started_on"] or (service.started_on if service else None) or today or date.today()
    out.update(_billing_dates(session, errors, data, service, started, out["billing_cycle"], out["status"],
                              today or date.today(), customer_id))
    errors.raise_if_any()
    if out["started_on"] is None:
        out["started_on"] = started
    return out


def _billing_dates(session: Session, errors: FieldErrors, data: dict, service: CustomerService | None,
                   started: date, cycle: str | None, status: str | None, today: date,
                   customer_id: int | None) -> dict:
    """The next billing date, the billing day it brings, and the end date (_end_date).

    A new service's next billing date, unless given, is its start; with pro rata on (the company's
    setting), a recurring one joins the billing day of the customer's other services of its cycle (the
    period that includes its start: its first part period is billed pro rata), so that the customer gets
    one invoice a period. A date before the start is taken only for a recurring service whose period from
    it includes the start. Never on or before the end of a period already billed."""
    out = {}
    if service is None or "next_billing_on" in data:
        given = data.get("next_billing_on")
        next_on = fields.a_date(errors, "next_billing_on", given)
        anchor = next_on.day if next_on is not None else None
        if service is None and given in (None, ""):
            next_on, anchor = _joined(session, customer_id, cycle, started) or (started, started.day)
        if service is not None and next_on == service.next_billing_on:
            return out | _end_date(errors, data, service, started, status, today)  # unchanged: not checked again
        if next_on is not None and next_on < started:
            if cycle not in periods.MONTHS:
                errors.add("next_billing_on", f"The next billing date cannot be before the start date "
                                              f"({day_words(started)}).")
            elif periods.next_start(next_on, cycle, anchor) <= started:
                errors.add("next_billing_on", f"A next billing date before the start date ({day_words(started)}) "
                                              f"must begin the period that includes the start.")
        billed = billed_through(session, service.id if service else None)
        if next_on is not None and billed is not None and next_on <= billed and "next_billing_on" not in errors:
            errors.add("next_billing_on", f"Billed up to {day_words(billed)}: the next billing date must be after it.")
        if service is None or next_on != service.next_billing_on:
            out["next_billing_on"] = next_on
            if next_on is not None:
                out["billing_day"] = anchor
    return out | _end_date(errors, data, service, started, status, today)


def _joined(session: Session, customer_id: int | None, cycle: str | None, started: date) -> tuple[date, int] | None:
    """With pro rata on, the start of the period that includes `started` on the billing day of the
    customer's first other service of this recurring cycle still to bill, and that billing day (None:
    pro rata off, a one-off, no such service)."""
    if customer_id is None or cycle not in periods.MONTHS or not company.billing(session).pro_rata:
        return None
    other = session.execute(select(CustomerService.next_billing_on, CustomerService.billing_day).where(
        CustomerService.customer_id == customer_id, CustomerService.billing_cycle == cycle,
        CustomerService.status != "cancelled", CustomerService.next_billing_on.is_not(None),
        CustomerService.billing_day.is_not(None)).order_by(CustomerService.id).limit(1)).first()
    if other is None:
        return None
    return periods.start_containing(started, other.next_billing_on, cycle, other.billing_day), other.billing_day


def _end_date(errors: FieldErrors, data: dict, service: CustomerService | None, started: date, status: str | None,
              today: date) -> dict:
    out = {}
    if status == "cancelled":
        ends = fields.a_date(errors, "ends_on", data["ends_on"] if "ends_on" in data else
                             (service.ends_on if service else None))
        if ends is None and "ends_on" not in errors:
            ends = max(today, started)  # a service cancelled before it started ends on its first day
        if ends is not None and ends < started:
            errors.add("ends_on", f"A service cannot end before it started ({day_words(started)}).")
        out["ends_on"] = ends
    else:
        out["ends_on"] = None
    return out


def create_service(session: Session, actor, customer_id, data: dict) -> CustomerService:
    customer = get_customer(session, actor, customer_id)
    service = CustomerService(customer=customer, **_clean(session, data, None, customer.currency,
                                                          customer_id=customer.id))
    session.add(service)
    commit(session)
    return service


def update_service(session: Session, actor, service_id, data: dict) -> CustomerService:
    """Change the given fields of a service in `actor`'s scope. Cancelling it sets its end date
    (given, else today); making it active or suspended again clears it. Raises NotFound or Invalid
    with every field error."""
    service = get_service(session, actor, service_id)
    values = _clean(session, data, service, service.customer.currency)
    if values["status"] != service.status:
        # Set by hand: no longer the disable's to restore.
        values["suspended_by_disable"] = False
    for key, value in values.items():
        if getattr(service, key) != value:
            setattr(service, key, value)
    commit(session)
    return service


def delete_service(session: Session, actor, service_id) -> None:
    session.delete(get_service(session, actor, service_id))
    commit(session)


@dataclass(frozen=True)
class ServiceRow:
    """A service as the customer's page lists it, with the number of the last invoice that billed it."""

    service: CustomerService
    last_invoice_id: int | None
    last_invoice_number: str | None


def with_last_invoices(session: Session, rows: list[CustomerService]) -> list[ServiceRow]:
    """Each service with its last invoice (the invoice of its latest billed period that has one):
    one query for all of them."""
    ids = [s.id for s in rows]
    last = {}
    if ids:
        latest = (select(ServicePeriod.service_id, func.max(ServicePeriod.starts_on).label("starts_on"))
                  .where(in_ids(session, ServicePeriod.service_id, ids), ServicePeriod.invoice_id.is_not(None))
                  .group_by(ServicePeriod.service_id).subquery())
        stmt = (select(ServicePeriod.service_id, Invoice.id, Invoice.number)
                .join(latest, (latest.c.service_id == ServicePeriod.service_id)
                      & (latest.c.starts_on == ServicePeriod.starts_on))
                .join(Invoice, Invoice.id == ServicePeriod.invoice_id))
        last = {r.service_id: (r.id, r.number) for r in session.execute(stmt)}
    return [ServiceRow(s, *last.get(s.id, (None, None))) for s in rows]
