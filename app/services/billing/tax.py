"""Tax rates, and which rate a line is charged at.

Precedence (Launch27's special sales tax): an exempt customer pays none ("Exempt"); a customer with
a special rate pays that rate on every line; otherwise each line's own rate (the default rate when
a line names none; no tax when there is no default either).
"""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Customer, TaxRate
from app.services import audit, fields, permissions
from app.services.db import commit
from app.services.errors import FieldErrors, NotFound

VIEW = "TaxRateView"
EXEMPT = "Exempt"
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Charged:
    rate_id: int | None  # the rate chosen on the line
    name: str | None  # what the document shows: the rate's name, "Exempt", or nothing
    percent: Decimal


def default_rate(session: Session) -> TaxRate | None:
    return session.scalar(select(TaxRate).where(TaxRate.is_default.is_(True)))


def charged(session: Session, customer: Customer, rate_id: int | None) -> Charged:
    """The tax a line of `customer` with the chosen rate `rate_id` (None: the default) is charged."""
    if customer.tax_exempt:
        return Charged(rate_id, EXEMPT, Decimal(0))
    special = session.get(TaxRate, customer.tax_rate_id) if customer.tax_rate_id is not None else None
    own = session.get(TaxRate, rate_id) if special is None and rate_id is not None else None
    default = default_rate(session) if special is None and rate_id is None else None
    return _chosen(rate_id, special or own or default)


def _chosen(rate_id: int | None, rate: TaxRate | None) -> Charged:
    if rate is None:
        return Charged(rate_id, None, Decimal(0))
    return Charged(rate_id, rate.name, rate.percent)


class RateTable:
    """`charged` for many lines at once (a billing run's): the rates read once, the same precedence."""

    def __init__(self, session: Session):
        self.rates = {rate.id: rate for rate in rates(session)}
        self.default = next((rate for rate in self.rates.values() if rate.is_default), None)

    def charged(self, tax_exempt: bool, special_id: int | None, rate_id: int | None) -> Charged:
        if tax_exempt:
            return Charged(rate_id, EXEMPT, Decimal(0))
        special = self.rates.get(special_id) if special_id is not None else None
        return _chosen(rate_id, special or (self.rates.get(rate_id) if rate_id is not None else self.default))


def rates(session: Session) -> list[TaxRate]:
    return list(session.scalars(select(TaxRate).order_by(TaxRate.percent.desc(), TaxRate.name)))


def rate_id(errors: FieldErrors, field: str, value, session: Session) -> int | None:
    """A tax rate's id from a form (empty: None, the default); an unknown one is an error."""
    if value in (None, ""):
        return None
    number = fields.record_id(value)
    if number is None or session.get(TaxRate, number) is None:
        errors.add(field, "Pick a tax rate from the list.")
        return None
    return number


def _clean(data: dict, rate: TaxRate | None) -> dict:
    errors = FieldErrors()

    def current(key):
        return data[key] if key in data else getattr(rate, key, None)

    name = fields.text(errors, "name", current("name"), 60, required=True, label="Name")
    percent = fields.decimal_number(current("percent"))
    if percent is None:
        errors.add("percent", "Percent must be a number, e.g. 20 or 17.5.")
    elif percent < 0 or percent > HUNDRED:
        errors.add("percent", "Percent must be between 0 and 100.")
    elif percent != percent.quantize(Decimal("0.0001")):
        errors.add("percent", "Percent can have at most 4 decimals.")
    errors.raise_if_any()
    return {"name": name, "percent": percent, "is_default": fields.boolean(current("is_default"))}


def _save(session: Session, rate: TaxRate, values: dict) -> TaxRate:
    if values["is_default"]:  # one default: this one takes over
        was = list(session.scalars(update(TaxRate).where(TaxRate.is_default.is_(True), TaxRate.id != rate.id)
                                   .values(is_default=False).returning(TaxRate.id)
                                   .execution_options(synchronize_session=False)))
        audit.record(session, "tax_rate", "update", [(i, None, {"is_default": [True, False]}) for i in was])
    for key, value in values.items():
        setattr(rate, key, value)
    commit(session)
    return rate


def create_rate(session: Session, actor, data: dict) -> TaxRate:
    permissions.require(session, actor, ("can_add", VIEW), message="You may not add tax rates.")
    values = _clean(data, None)
    rate = TaxRate(name=values["name"], percent=values["percent"], is_default=False)
    session.add(rate)
    session.flush()
    return _save(session, rate, values)


def update_rate(session: Session, actor, rate_id, data: dict) -> TaxRate:
    permissions.require(session, actor, ("can_edit", VIEW), message="You may not change tax rates.")
    rate = _get(session, rate_id)
    return _save(session, rate, _clean(data, rate))


def delete_rate(session: Session, actor, rate_id) -> None:
    """Delete a rate: lines keep the name and percent they were charged at; a customer whose special
    rate it was goes back to each line's rate."""
    permissions.require(session, actor, ("can_delete", VIEW), message="You may not delete tax rates.")
    rate = _get(session, rate_id)
    # Its customers first (SQLite has no foreign key here, and would give a new rate the same id).
    special = list(session.scalars(update(Customer).where(Customer.tax_rate_id == rate.id).values(tax_rate_id=None)
                                   .returning(Customer.id).execution_options(synchronize_session=False)))
    audit.record(session, "customer", "update", [(i, i, {"tax_rate_id": [rate.id, None]}) for i in special])
    session.delete(rate)
    commit(session)


def _get(session: Session, rate_id) -> TaxRate:
    number = fields.record_id(rate_id)
    rate = session.get(TaxRate, number) if number is not None else None
    if rate is None:
        raise NotFound("No such tax rate.")
    return rate


def check_customer_tax(errors: FieldErrors, session: Session, data: dict) -> dict:
    """A customer's tax fields from a form: exempt (yes/no) and a special rate (an id or empty)."""
    out = {}
    if "tax_exempt" in data:
        out["tax_exempt"] = fields.boolean(data["tax_exempt"])
    if "tax_rate_id" in data:
        out["tax_rate_id"] = rate_id(errors, "tax_rate_id", data["tax_rate_id"], session)
    return out

