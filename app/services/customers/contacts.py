"""A customer's contacts and their phone numbers.

At most one contact per customer is primary; the first contact added becomes
primary, and making another primary demotes the old one in the same commit. The primary
contact stays primary until another one is made primary (or it is deleted).

A contact is added and edited with its phone numbers in one command (`create_contact`,
`update_contact` with `phones`): the contact's fields and every phone row are checked
together, and the errors of row i are reported as `phones.<i>.<field>`, i counting every
row sent, blank ones too, so a form can show each next to its row.
"""
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Contact, ContactPhone, Customer
from app.models.customers import CHANNELS, PHONE_KINDS, PURPOSES, TITLES
from app.services import fields
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import get_customer, load_in_scope
from app.services.settings import settings

PREFERENCE_FIELDS = tuple(f"{purpose}_{channel}" for purpose in PURPOSES for channel in CHANNELS)
CONTACT_FIELDS = ("title", "first_name", "surname", "position", "email", "is_primary",
                  "website_url", "twitter_url", "facebook_url", "linkedin_url", *PREFERENCE_FIELDS)


def get_contact(session: Session, actor, contact_id) -> Contact:
    """A contact whose customer is in `actor`'s scope, else NotFound."""
    return load_in_scope(session, actor, Contact, contact_id, (Customer,), "No such contact.")


MAX_PHONES = 10  # phone numbers a contact keeps
MAX_PHONE_ROWS = 50  # rows a form may send, blank ones included
PHONE_FIELDS = ("id", "kind", "number")


def _clean(errors: FieldErrors, data: dict, contact: Contact | None) -> dict:
    """The contact's own fields (not its phones), with their errors added to `errors`."""
    for key in data:
        if key not in CONTACT_FIELDS and key != "phones":
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
    if contact is not None and contact.is_primary and not out["is_primary"]:
        errors.add("is_primary", "The primary contact stays primary until another contact is made primary.")
    return out


def _clean_phones(errors: FieldErrors, rows, phones: list[ContactPhone]) -> list[dict]:
    """The phone rows a form sent, as the contact's phones are to be: [{"phone": an existing
    ContactPhone or None, "kind", "number"}]. A row without a number is left out (a blank row,
    or an existing phone cleared: removed). A row's `id` names one of `phones`, the contact's
    own; any other id, or one named by two rows, raises NotFound."""
    if not isinstance(rows, (list, tuple)) or len(rows) > MAX_PHONE_ROWS or \
            not all(isinstance(row, dict) for row in rows):
        errors.add("phones", "Phone numbers must be rows of a type and a number.")
        return []
    own = {phone.id: phone for phone in phones}
    out, seen = [], {}
    for i, row in enumerate(rows):
        key = f"phones.{i}."
        for name in row:
            if name not in PHONE_FIELDS:
                errors.add(key + name, "Unknown field.")
        phone = None
        if row.get("id") not in (None, ""):
            phone = own.pop(fields.whole_number(row["id"]), None)  # popped: one row per phone
            if phone is None:
                raise NotFound("No such phone number.")
        if _blank(row.get("number")):
            continue  # a blank row, or an existing phone cleared
        values = _phone_values(errors, key, row)
        if values["number"] is None:
            continue
        if values["number"] in seen:
            errors.add(key + "number", f"This number is already in row {seen[values['number']] + 1}.")
            continue
        seen[values["number"]] = i
        out.append({"phone": phone, **values})
    if len(out) > MAX_PHONES:
        errors.add("phones", f"A contact can have at most {MAX_PHONES} phone numbers.")
    return out


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _phone_values(errors: FieldErrors, key: str, row: dict) -> dict:
    """A phone row's kind and number (E.164, None when wrong), errors under `key` + field."""
    return dict(kind=fields.choice(errors, key + "kind", row.get("kind") or "mobile", PHONE_KINDS,
                                   required=True, label="Type"),
                number=fields.phone(errors, key + "number", row.get("number"), settings.phone_region,
                                    required=True))


def _write_phones(session: Session, contact: Contact, rows: list[dict]) -> None:
    """Make the contact's phones the rows' (added, changed, the others deleted): each
    audited by the flush hook."""
    kept = {row["phone"].id for row in rows if row["phone"] is not None}
    for phone in list(contact.phones):
        if phone.id not in kept:
            contact.phones.remove(phone)
            session.delete(phone)  # deleted by the session, so the audit hook sees it
    for row in rows:
        phone = row["phone"]
        if phone is None:
            contact.phones.append(ContactPhone(kind=row["kind"], number=row["number"]))
            continue
        for name in ("kind", "number"):
            if getattr(phone, name) != row[name]:
                setattr(phone, name, row[name])


def _demote_primary(session: Session, customer_id: int) -> None:
    """Clear the customer's primary contact, before another becomes primary (the unique index is checked per row)."""
    session.execute(
        update(Contact)
        .where(Contact.customer_id == customer_id, Contact.is_primary.is_(True))
        .values(is_primary=False)
        .execution_options(synchronize_session="fetch")
    )


def create_contact(session: Session, actor, customer_id, data: dict) -> Contact:
    """Add a contact, with its phone numbers (`phones`: rows of kind and number; blank rows
    ignored), in one commit. Raises NotFound for a customer outside `actor`'s scope, Invalid
    with every field's error (a phone row's as `phones.<i>.<field>`); nothing is written then."""
    customer = get_customer(session, actor, customer_id)
    errors = FieldErrors()
    values = _clean(errors, data, None)
    phones = _clean_phones(errors, data.get("phones") or [], [])
    errors.raise_if_any()
    has_primary = session.scalar(
        select(Contact.id).where(Contact.customer_id == customer.id, Contact.is_primary.is_(True)).limit(1))
    if has_primary is None:
        values["is_primary"] = True
    elif values["is_primary"]:
        _demote_primary(session, customer.id)
    contact = Contact(customer=customer, **values)
    session.add(contact)
    _write_phones(session, contact, phones)
    commit(session)
    return contact


def update_contact(session: Session, actor, contact_id, data: dict) -> Contact:
    """Change a contact and, when `phones` is given, make its phone numbers those rows' (a row
    with an `id` changes that phone, one without adds a phone, a phone whose row is cleared or
    missing is deleted), in one commit. Raises as create_contact; NotFound also for a row's
    `id` that is not one of this contact's phones."""
    contact = get_contact(session, actor, contact_id)
    errors = FieldErrors()
    values = _clean(errors, data, contact)
    phones = _clean_phones(errors, data["phones"], contact.phones) if "phones" in data else None
    errors.raise_if_any()
    if values["is_primary"] and not contact.is_primary:
        _demote_primary(session, contact.customer_id)
    for key, value in values.items():
        if getattr(contact, key) != value:
            setattr(contact, key, value)
    if phones is not None:
        _write_phones(session, contact, phones)
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


def make_primary(session: Session, actor, contact_id, ticked) -> Contact:
    """Make a contact the primary one once the user ticked the box (`ticked`: the tick box's
    value; unticked raises Invalid on `confirm`)."""
    contact = get_contact(session, actor, contact_id)
    if not fields.boolean(ticked):
        raise Invalid({"confirm": f"Tick the box to make {contact.name} the primary contact."})
    if not contact.is_primary:
        _demote_primary(session, contact.customer_id)
        contact.is_primary = True
        commit(session)
    return contact
