"""Resellers: admin-only. A reseller with customers or users cannot be deleted."""
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Customer, Reseller, User
from app.services import fields
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.settings import settings


def _clean(session: Session, data: dict, reseller: Reseller | None) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in ("name", "email", "phone"):
            errors.add(key, "Unknown field.")

    def current(key):
        return data[key] if key in data else (getattr(reseller, key) if reseller else None)

    out = dict(
        name=fields.text(errors, "name", current("name"), 120, required=True),
        email=fields.email(errors, "email", current("email")),
        phone=fields.phone(errors, "phone", current("phone"), settings.phone_region),
    )
    if out["name"] and "name" not in errors:
        clash = select(Reseller.id).where(func.lower(Reseller.name) == out["name"].lower())
        if reseller is not None:
            clash = clash.where(Reseller.id != reseller.id)
        if session.scalar(clash) is not None:
            errors.add("name", "A reseller with this name already exists.")
    errors.raise_if_any()
    return out


def get_reseller(session: Session, reseller_id) -> Reseller:
    reseller = session.get(Reseller, fields.integer(FieldErrors(), "id", reseller_id) or 0)
    if reseller is None:
        raise NotFound("No such reseller.")
    return reseller


def create_reseller(session: Session, data: dict) -> Reseller:
    reseller = Reseller(**_clean(session, data, None))
    session.add(reseller)
    commit(session)
    return reseller


def update_reseller(session: Session, reseller_id, data: dict) -> Reseller:
    reseller = get_reseller(session, reseller_id)
    for key, value in _clean(session, data, reseller).items():
        if getattr(reseller, key) != value:
            setattr(reseller, key, value)
    commit(session)
    return reseller


def delete_reseller(session: Session, reseller_id) -> None:
    reseller = get_reseller(session, reseller_id)
    in_use = session.scalar(select(Customer.id).where(Customer.reseller_id == reseller.id).limit(1)) or \
        session.scalar(select(User.id).where(User.reseller_id == reseller.id).limit(1))
    if in_use:
        raise Invalid({"name": "This reseller still has customers or users: move them first."})
    session.delete(reseller)
    commit(session)
