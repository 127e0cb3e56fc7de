"""Custom fields: the admins define fields on customers (text, number, date, choice); anyone
who may edit a customer fills them in on the Details tab of the customer's page.

Values are kept as text: a number as its plain decimal string ("1200.5", never an exponent),
a date in ISO form ("2026-02-28"), a choice as the choice. An inactive field is hidden
everywhere but its values are kept; deleting a field deletes its values.
"""
import re
import unicodedata

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models.custom_fields import CUSTOM_FIELD_KINDS, CustomField, CustomValue
from app.services import audit, fields, permissions
from app.services.db import invalid_from
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import get_customer

# The definitions screen's permissions decide who defines fields (the Admin's by default).
VIEW = "CustomFieldView"
PREFIX = "cf_"
MAX_NAME = 80
MAX_TEXT = 2_000
MAX_CHOICE = 100
MAX_CHOICES = 100
NUMBER_INTEGER_DIGITS = 15
NUMBER_FRACTION_DIGITS = 6
KIND_LABELS = {"text": "Text", "number": "Number", "date": "Date", "choice": "Choice"}
DEFINITION_KEYS = ("name", "kind", "choices", "required", "position", "active")

_UK_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})")


def key_of(field: CustomField) -> str:
    """The form key of a field's value: "cf_<id>"."""
    return f"{PREFIX}{field.id}"


# ---- field definitions (whoever the definitions screen's permissions allow) ---------------
def _require(session: Session, actor, permission: str) -> None:
    permissions.require(session, actor, (permission, VIEW), message="You may not change the custom fields.")


def _choices(errors: FieldErrors, value) -> list[str]:
    """One choice per line: trimmed, empty lines dropped, repeats (in any case) dropped."""
    if value is None:
        value = ""
    if isinstance(value, (list, tuple)):
        value = "\n".join(str(v) for v in value)
    out, seen = [], set()
    for line in unicodedata.normalize("NFC", str(value)).splitlines():
        line = line.strip()
        if not line:
            continue
        if fields.CONTROL.search(line):
            errors.add("choices", "Choices must be plain text, one per line.")
            return []
        if len(line) > MAX_CHOICE:
            errors.add("choices", f"Each choice must be at most {MAX_CHOICE} characters ({line[:20]}…).")
            return []
        if line.casefold() in seen:
            continue
        seen.add(line.casefold())
        out.append(line)
    if len(out) > MAX_CHOICES:
        errors.add("choices", f"A field can have at most {MAX_CHOICES} choices.")
        return []
    return out


def _has_values(session: Session, field_id: int) -> bool:
    return bool(session.scalar(select(exists().where(CustomValue.field_id == field_id))))


def _clean_definition(session: Session, data: dict, field: CustomField | None) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in DEFINITION_KEYS:
            errors.add(key, "Unknown field.")

    def current(key, default=None):
        return data[key] if key in data else (getattr(field, key) if field is not None else default)

    name = fields.text(errors, "name", current("name"), MAX_NAME, required=True, label="Name")
    kind = fields.choice(errors, "kind", current("kind"), CUSTOM_FIELD_KINDS, required=True, label="Kind")
    choices = None
    if kind == "choice":
        listed = _choices(errors, current("choices"))
        if not listed and "choices" not in errors:
            errors.add("choices", "Enter the choices, one per line.")
        choices = "\n".join(listed) or None
    position = fields.integer(errors, "position", current("position"), label="Position")
    if name and "name" not in errors:
        others = select(CustomField.id, CustomField.name)
        if field is not None:
            others = others.where(CustomField.id != field.id)
        if any(other.casefold() == name.casefold() for _, other in session.execute(others)):
            errors.add("name", "A custom field with this name already exists.")
    if field is not None and kind and kind != field.kind and _has_values(session, field.id):
        errors.add("kind", f"The kind cannot change: customers already have values for {field.name}.")
    errors.raise_if_any()
    return dict(name=name, kind=kind, choices=choices, position=position or 0,
                required=fields.boolean(current("required", False)),
                active=fields.boolean(current("active", True)))


def _commit(session: Session) -> None:
    """Commit; a name taken meanwhile (the unique constraint) is reported on the name."""
    try:
        session.commit()
    except IntegrityError as e:
        session.rollback()
        message = str(e.orig)
        if "uq_custom_field_name" in message or "custom_field.name" in message:
            raise Invalid({"name": "A custom field with this name already exists."}) from e
        raise invalid_from(e) from e


def get_field(session: Session, field_id) -> CustomField:
    field = session.get(CustomField, fields.integer(FieldErrors(), "id", field_id) or 0)
    if field is None:
        raise NotFound("No such custom field.")
    return field


def list_fields(session: Session, active_only: bool = True) -> list[CustomField]:
    """The fields in the order they are shown: by position, then name."""
    stmt = select(CustomField).order_by(CustomField.position, CustomField.name, CustomField.id)
    if active_only:
        stmt = stmt.where(CustomField.active.is_(True))
    return list(session.scalars(stmt))


def create_field(session: Session, actor, data: dict) -> CustomField:
    """Define a field (committed). Forbidden without `can_add` on the custom fields; Invalid for a
    bad definition."""
    _require(session, actor, "can_add")
    field = CustomField(**_clean_definition(session, data, None))
    session.add(field)
    _commit(session)
    return field


def update_field(session: Session, actor, field_id, data: dict) -> CustomField:
    """Change a field (committed); its kind only while no customer has a value for it. Forbidden
    without `can_edit` on the custom fields."""
    _require(session, actor, "can_edit")
    field = get_field(session, field_id)
    for key, value in _clean_definition(session, data, field).items():
        if getattr(field, key) != value:
            setattr(field, key, value)
    _commit(session)
    return field


def delete_field(session: Session, actor, field_id) -> None:
    """Delete a field and every customer's value for it (committed). To hide a field but keep
    its values, make it inactive instead. Forbidden without `can_delete` on the custom fields."""
    _require(session, actor, "can_delete")
    field = get_field(session, field_id)
    rows = session.execute(select(CustomValue.customer_id, CustomValue.value)
                           .where(CustomValue.field_id == field.id)).all()
    # Set-based (a field may have a value on every customer), so audited here; deleted before
    # the field, as its foreign key's cascade would delete them unaudited.
    session.execute(delete(CustomValue).where(CustomValue.field_id == field.id)
                    .execution_options(synchronize_session=False))
    audit.record(session, CustomValue.__tablename__, "delete",
                 [(r.customer_id, r.customer_id, {"field_id": [field.id, None], "value": [r.value, None]})
                  for r in rows])
    session.delete(field)
    _commit(session)


# ---- values ----------------------------------------------------------------------------
def values_for(session: Session, actor, customer_id) -> list[tuple[CustomField, str | None]]:
    """The active fields (by position, then name), each with the customer's value or None.
    NotFound when the customer is missing or outside `actor`'s scope."""
    customer = get_customer(session, actor, customer_id)
    active = list_fields(session)
    if not active:
        return []
    stored = {field_id: value for field_id, value in session.execute(
        select(CustomValue.field_id, CustomValue.value).where(CustomValue.customer_id == customer.id))}
    return [(field, stored.get(field.id)) for field in active]


def _number(errors: FieldErrors, key: str, label: str, raw: str) -> str | None:
    number = fields.decimal_number(raw.replace(" ", ""))
    if number is None:
        errors.add(key, f"{label} must be a number, e.g. 1200.50.")
        return None
    whole, _, fraction = format(abs(number), "f").partition(".")
    whole, fraction = whole.lstrip("0"), fraction.rstrip("0")
    if len(whole) > NUMBER_INTEGER_DIGITS or len(fraction) > NUMBER_FRACTION_DIGITS:
        errors.add(key, f"{label} can have at most {NUMBER_INTEGER_DIGITS} digits before the point "
                        f"and {NUMBER_FRACTION_DIGITS} after it.")
        return None
    if not whole and not fraction:
        return "0"
    return f"{'-' if number < 0 else ''}{whole or '0'}{'.' + fraction if fraction else ''}"


def _date(errors: FieldErrors, key: str, label: str, raw: str) -> str | None:
    uk = _UK_DATE.fullmatch(raw)
    if uk:
        day, month, year = uk.groups()
        raw_iso = f"{year}-{int(month):02d}-{int(day):02d}"
    elif fields.ISO_DATE.fullmatch(raw):
        raw_iso = raw
    else:
        errors.add(key, f"{label} must be a date as YYYY-MM-DD or DD/MM/YYYY.")
        return None
    day = fields.iso_date(raw_iso)
    if day is None:
        errors.add(key, f"{label}: {raw} is not a real date.")
        return None
    return day.isoformat()


def _clean_value(errors: FieldErrors, field: CustomField, raw, stored: str | None) -> str | None:
    key, label = key_of(field), field.name
    if isinstance(raw, (list, tuple)):
        raw = raw[0] if len(raw) == 1 else ""
    limit = MAX_TEXT if field.kind == "text" else 200
    value = fields.text(errors, key, raw, limit, required=field.required, label=label)
    if value is None:
        return None
    if field.kind == "number":
        return _number(errors, key, label, value)
    if field.kind == "date":
        return _date(errors, key, label, value)
    if field.kind == "choice":
        listed = field.choice_list
        if value in listed or value == stored:  # a value from an earlier list stays until changed
            return value
        folded = {c.casefold(): c for c in listed}
        if value.casefold() in folded:
            return folded[value.casefold()]
        errors.add(key, f"{label} must be one of: {', '.join(listed)}.")
        return None
    return value


def set_values(session: Session, actor, customer_id, data) -> None:
    """Save a customer's values from a form (committed): `data` maps "cf_<field id>" to the
    raw text; other keys (the CSRF token...) are ignored, and a field whose key is absent is
    left as it is. An empty value deletes the value (Invalid for a required field).

    Every bad value is reported at once (Invalid keyed by "cf_<id>"), and then nothing is
    saved. Keys of unknown or inactive fields are Invalid; NotFound outside `actor`'s scope."""
    customer = get_customer(session, actor, customer_id)
    active = {key_of(field): field for field in list_fields(session)}
    stored = {v.field_id: v for v in session.scalars(
        select(CustomValue).where(CustomValue.customer_id == customer.id))}
    errors = FieldErrors()
    clean: dict[CustomField, str | None] = {}
    for key in data:
        if not str(key).startswith(PREFIX):
            continue
        field = active.get(key)
        if field is None:
            errors.add(key, "This custom field does not exist (or is no longer in use).")
            continue
        current = stored.get(field.id)
        clean[field] = _clean_value(errors, field, data.get(key), current.value if current else None)
    errors.raise_if_any()
    for field, value in clean.items():
        current = stored.get(field.id)
        if value is None:
            if current is not None:
                session.delete(current)
        elif current is None:
            session.add(CustomValue(customer_id=customer.id, field_id=field.id, value=value))
        elif current.value != value:
            current.value = value
    _commit(session)


def display(field: CustomField, value: str | None) -> str:
    """A value as shown: as stored (ISO dates, numbers in their plain form, the choice), or ""."""
    if value is None:
        return ""
    return value
