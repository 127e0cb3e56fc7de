"""A customer's addresses: exactly one billing address once it has any, and any number of sites.

The first address added becomes the billing address. Making a site the billing
address turns the old billing address into a site. The billing address cannot
be deleted while site addresses remain: make another one billing first.
"""
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Address, Customer
from app.models.customers import ACCESS_RELATIONSHIPS, ADDRESS_KINDS
from app.services import fields, geo
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid
from app.services.scope import get_customer, load_in_scope
from app.services.settings import settings

log = logging.getLogger(__name__)

ADDRESS_FIELDS = ("kind", "line1", "line2", "line3", "town", "county", "postcode", "country",
                  "latitude", "longitude", "access_name", "access_phone", "access_relationship")


def get_address(session: Session, actor, address_id) -> Address:
    return load_in_scope(session, actor, Address, address_id, (Customer,), "No such address.")


def _clean(data: dict, address: Address | None) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in ADDRESS_FIELDS:
            errors.add(key, "Unknown field.")

    def current(key, default=None):
        return data[key] if key in data else (getattr(address, key) if address else default)

    out = dict(
        kind=fields.choice(errors, "kind", current("kind", "site"), ADDRESS_KINDS, required=True,
                           label="Address type"),
        line1=fields.text(errors, "line1", current("line1"), 120, required=True, label="Address line 1"),
        line2=fields.text(errors, "line2", current("line2"), 120, label="Address line 2"),
        line3=fields.text(errors, "line3", current("line3"), 120, label="Address line 3"),
        town=fields.text(errors, "town", current("town"), 80),
        county=fields.text(errors, "county", current("county"), 80),
        postcode=fields.text(errors, "postcode", current("postcode"), 12, required=True),
        country=(fields.text(errors, "country", current("country", "GB"), 2) or "GB").upper(),
        latitude=fields.coordinate(errors, "latitude", current("latitude"), 90),
        longitude=fields.coordinate(errors, "longitude", current("longitude"), 180),
        access_name=fields.text(errors, "access_name", current("access_name"), 120,
                                label="Access contact name"),
        access_phone=fields.phone(errors, "access_phone", current("access_phone"), settings.phone_region),
        access_relationship=fields.choice(errors, "access_relationship", current("access_relationship"),
                                          ACCESS_RELATIONSHIPS, label="Relationship"),
    )
    if out["postcode"]:
        out["postcode"] = out["postcode"].upper()
    if (out["access_phone"] or out["access_relationship"]) and not out["access_name"] and "access_name" not in errors:
        errors.add("access_name", "Give the access contact's name.")
    errors.raise_if_any()
    return out


def _demote_billing(session: Session, customer_id: int, keep_id: int | None) -> None:
    stmt = update(Address).where(Address.customer_id == customer_id, Address.kind == "billing")
    if keep_id is not None:
        stmt = stmt.where(Address.id != keep_id)
    session.execute(stmt.values(kind="site").execution_options(synchronize_session="fetch"))


def _geocoded(values: dict) -> dict:
    """Coordinates from the geocoder (settings.geocoder; off by default) when none were typed.
    A geocoder that fails leaves the address without them: it is saved all the same."""
    if settings.geocoder is None or values.get("latitude") is not None or values.get("longitude") is not None:
        return values
    query = geo.address_query(values.get("line1"), values.get("line2"), values.get("line3"), values.get("town"),
                              values.get("county"), values.get("postcode"), values.get("country"))
    try:
        found = settings.geocoder.geocode(query)
    except geo.GeocodingError as e:
        log.warning("could not geocode %r: %s", query, e)
        return values
    if found is not None:
        values["latitude"], values["longitude"] = (round(found.latitude, 6), round(found.longitude, 6))
    return values


def create_address(session: Session, actor, customer_id, data: dict) -> Address:
    customer = get_customer(session, actor, customer_id)
    values = _geocoded(_clean(data, None))
    has_billing = session.scalar(
        select(Address.id).where(Address.customer_id == customer.id, Address.kind == "billing").limit(1))
    if has_billing is None:
        values["kind"] = "billing"
    elif values["kind"] == "billing":
        _demote_billing(session, customer.id, None)
        session.flush()
    address = Address(customer=customer, **values)
    session.add(address)
    commit(session)
    return address


def update_address(session: Session, actor, address_id, data: dict) -> Address:
    address = get_address(session, actor, address_id)
    values = _clean(data, address)
    values = _geocoded(values)  # still without coordinates: try the geocoder
    if address.kind == "billing" and values["kind"] == "site":
        raise Invalid({"kind": "A customer needs a billing address: make another address the billing address instead."})
    if address.kind == "site" and values["kind"] == "billing":
        _demote_billing(session, address.customer_id, address.id)
        session.flush()
    for key, value in values.items():
        if getattr(address, key) != value:
            setattr(address, key, value)
    commit(session)
    return address


def delete_address(session: Session, actor, address_id) -> None:
    address = get_address(session, actor, address_id)
    if address.kind == "billing":
        others = session.scalar(
            select(Address.id).where(Address.customer_id == address.customer_id, Address.id != address.id).limit(1))
        if others is not None:
            raise Invalid({"kind": "This is the billing address: make another address the billing address before deleting it."})
    session.delete(address)
    commit(session)
