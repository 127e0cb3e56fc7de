"""A customer's contacts and their phone numbers.

At most one contact per customer is primary; the first contact added becomes
primary, and making another primary demotes the old one in the same commit.
"""
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Contact, ContactPhone, Customer
from app.models.customers import CHANNELS, PHONE_KINDS, PURPOSES, TITLES
from app.services import fields
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid
from app.services.scope import get_customer, load_in_scope
from app.services.settings import settings

PREFERENCE_FIELDS = tuple(f"{purpose}_{channel}" for purpose in PURPOSES for channel in CHANNELS)
CONTACT_FIELDS = ("title", "first_name", "surname", "position", "email", "is_primary",
                  "website_url", "twitter_url", "facebook_url", "linkedin_url", *PREFERENCE_FIELDS)


def get_contact(session: Session, actor, contact_id) -> Contact:
    """A contact whose customer is in `actor`'s scope, else NotFound."""
    return load_in_scope(session, actor, Contact, contact_id, (Customer,), "No such contact.")


def _clean(data: dict, contact: Contact | None) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in CONTACT_FIELDS:
            errors.add(key, "Unknown field.")

    def current(key, default=None):
        return data[key] if key in data else (getattr(contact, key) if contact else default)

    out = dict(
        title=fields.choice(errors, "title", current("title"), TITLES),
        first_name=fields.text(errors, "first_name", current("first_name"), 80, label="First name"),
        surname=fields.text(errors, "surname", current("surname"), 80, required=True, label="Surname"),
        position=fields.text(errors, "position", current("position"), 80),
        email=fields.email(errors, "email", current("email")),
        is_primary=fields.boolean(current("is_primary")),
    )
    for key in ("website_url", "twitter_url", "facebook_url", "linkedin_url"):
        out[key] = fields.url(errors, key, current(key))
    # Communication preferences: service messages on, marketing off, until the contact says otherwise.
    for key in PREFERENCE_FIELDS:
        out[key] = fields.boolean(current(key, key.startswith("service_")))
    errors.raise_if_any()
    return out


def _demote_primary(session: Session, customer_id: int) -> None:
    """Clear the customer's primary contact, before another becomes primary (the unique index is checked per row)."""
    session.execute(
        update(Contact)
        .where(Contact.customer_id == customer_id, Contact.is_primary.is_(True))
        .values(is_primary=False)
        .execution_options(synchronize_session="fetch")
    )


def create_contact(session: Session, actor, customer_id, data: dict) -> Contact:
    customer = get_customer(session, actor, customer_id)
    values = _clean(data, None)
    has_primary = session.scalar(
        select(Contact.id).where(Contact.customer_id == customer.id, Contact.is_primary.is_(True)).limit(1))
    if has_primary is None:
        values["is_primary"] = True
    elif values["is_primary"]:
        _demote_primary(session, customer.id)
    contact = Contact(customer=customer, **values)
    session.add(contact)
    commit(session)
    return contact


def update_contact(session: Session, actor, contact_id, data: dict) -> Contact:
    contact = get_contact(session, actor, contact_id)
    values = _clean(data, contact)
    if values["is_primary"] and not contact.is_primary:
        _demote_primary(session, contact.customer_id)
    for key, value in values.items():
        if getattr(contact, key) != value:
            setattr(contact, key, value)
    commit(session)
    return contact


def delete_contact(session: Session, actor, contact_id) -> None:
    """Delete a contact; if it was primary, the oldest remaining contact becomes primary."""
    contact = get_contact(session, actor, contact_id)
    customer_id, was_primary = contact.customer_id, contact.is_primary
    session.refresh(contact, ["phones"])  # so each phone's deletion is audited
    session.delete(contact)
    session.flush()
    if was_primary:
        successor = session.scalars(
            select(Contact).where(Contact.customer_id == customer_id).order_by(Contact.id).limit(1)).first()
        if successor is not None:
            successor.is_primary = True
    commit(session)


def _clean_phone(data: dict) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in ("kind", "number"):
            errors.add(key, "Unknown field.")
    out = dict(
        kind=fields.choice(errors, "kind", data.get("kind") or "mobile", PHONE_KINDS, required=True,
                           label="Type"),
        number=fields.phone(errors, "number", data.get("number"), settings.phone_region, required=True),
    )
    errors.raise_if_any()
    return out


def get_phone(session: Session, actor, phone_id) -> ContactPhone:
    return load_in_scope(session, actor, ContactPhone, phone_id, (Contact, Customer), "No such phone number.")


def add_phone(session: Session, actor, contact_id, data: dict) -> ContactPhone:
    contact = get_contact(session, actor, contact_id)
    phone = ContactPhone(contact=contact, **_clean_phone(data))
    session.add(phone)
    commit(session)
    return phone


def update_phone(session: Session, actor, phone_id, data: dict) -> ContactPhone:
    phone = get_phone(session, actor, phone_id)
    merged = {"kind": phone.kind, "number": phone.number, **data}
    for key, value in _clean_phone(merged).items():
        if getattr(phone, key) != value:
            setattr(phone, key, value)
    commit(session)
    return phone


def delete_phone(session: Session, actor, phone_id) -> None:
    session.delete(get_phone(session, actor, phone_id))
    commit(session)


def _typed(typed, word: str, field: str) -> None:
    if (typed or "").strip().lower() != word:
        raise Invalid({field: f'Type "{word}" to confirm.'})


def delete_confirmed(session: Session, actor, contact_id, typed) -> int:
    """Delete a contact once the user typed "delete" (Commusoft); returns its customer's id."""
    contact = get_contact(session, actor, contact_id)
    _typed(typed, "delete", "confirm")
    customer_id = contact.customer_id
    delete_contact(session, actor, contact.id)
    return customer_id


def make_primary(session: Session, actor, contact_id, typed) -> Contact:
    """Make a contact the primary one once the user typed "primary" (Commusoft)."""
    contact = get_contact(session, actor, contact_id)
    _typed(typed, "primary", "confirm")
    if not contact.is_primary:
        _demote_primary(session, contact.customer_id)
        contact.is_primary = True
        commit(session)
    return contact
