"""Payment methods: an admin-kept list (cash, card, bank transfer...), each with the nominal account
code the accounting package posts its money to. A method money was recorded with is never deleted:
it is taken out of use instead."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Payment, PaymentMethod, Release
from app.services import fields, permissions
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound

VIEW = "PaymentMethodView"


def _clean(data: dict, method: PaymentMethod | None) -> dict:
    errors = FieldErrors()

    def current(key):
        return data[key] if key in data else getattr(method, key, None)

    values = {"name": fields.text(errors, "name", current("name"), 60, required=True, label="Name"),
              "nominal_code": fields.text(errors, "nominal_code", current("nominal_code"), 20,
                                          label="Nominal account code"),
              "active": fields.boolean(current("active")) if current("active") is not None else True}
    errors.raise_if_any()
    return values


def create_method(session: Session, actor, data: dict) -> PaymentMethod:
    permissions.require(session, actor, ("can_add", VIEW), message="You may not add payment methods.")
    method = PaymentMethod(**_clean(data, None))
    session.add(method)
    commit(session)
    return method


def update_method(session: Session, actor, method_id, data: dict) -> PaymentMethod:
    permissions.require(session, actor, ("can_edit", VIEW), message="You may not change payment methods.")
    method = _get(session, method_id)
    for key, value in _clean(data, method).items():
        setattr(method, key, value)
    commit(session)
    return method


def delete_method(session: Session, actor, method_id) -> None:
    permissions.require(session, actor, ("can_delete", VIEW), message="You may not delete payment methods.")
    method = _get(session, method_id)
    used = any(session.scalar(select(model.id).where(model.method_id == method.id).limit(1)) is not None
               for model in (Payment, Release))
    if used:
        raise Invalid({"name": f"{method.name} was used to record money: take it out of use instead."})
    session.delete(method)
    commit(session)


def _get(session: Session, method_id) -> PaymentMethod:
    number = fields.record_id(method_id)
    method = session.get(PaymentMethod, number) if number is not None else None
    if method is None:
        raise NotFound("No such payment method.")
    return method
