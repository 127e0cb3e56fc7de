"""The company's settings that admins change in the browser: the time zone people read times in,
where the business is (for the customer page's distance), and what invoices say about the
business: its name, address, tax number, logo and bank details, the invoice numbers (the
"invoice" DocumentSequence), the default creditor days and the default tax rate; recurring billing's
settings (BILLING_FIELDS: pro rata, drafts, e-mail, bill suspended; `billing` gives them in force).

A field left empty falls back to the app's configuration (TIME_ZONE, BUSINESS_LATITUDE,
BUSINESS_LONGITUDE, BUSINESS_ADDRESS, COMPANY_NAME), so a new installation works before anyone
sets them. The base currency is the configuration's alone (BASE_CURRENCY). Times are stored in UTC
everywhere; `local` turns one into the company's time for showing.
"""
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from app.models import CompanySettings, DocumentSequence, Invoice, TaxRate
from app.models.credit_notes import BREAKDOWN_STYLES
from app.models.customers import CREDITOR_DAYS, PAYMENT_REMINDERS, USE_CREDIT
from app.services import audit, fields, geo, money, permissions
from app.services.billing import address_format
from app.services.db import commit
from app.services.errors import FieldErrors
from app.services.settings import settings
from app.services.transaction_cache import remembered

VIEW = "CompanySettingsView"
FIELDS = ("time_zone", "business_address", "business_latitude", "business_longitude")
# What invoices say about the business (CompanySettings columns).
DOCUMENT_FIELDS = ("company_name", "company_address", "tax_number", "bank_details", "default_creditor_days",
                   "credit_note_breakdown", "invoice_address_format", "default_payment_reminders")
# Cash allocation's settings (services/billing/allocation.py): the small write-off's limit in the base
# currency, and whether account credit pays an invoice when it is issued (a customer's own choice wins).
ALLOCATION_FIELDS = ("write_off_limit", "use_credit_default")
# Payment reminders (services/billing/reminders.py): the net overdue, in the base currency, at or under
# which a customer is not reminded (empty: 0).
REMINDER_FIELDS = ("reminder_minimum",)
# Suspension for late payment (services/billing/suspension.py): the days after the final reminder step
# before a customer still overdue is suspended (empty: never automatically).
SUSPENSION_FIELDS = ("suspend_grace_days",)
MAX_GRACE_DAYS = 365
# Recurring billing (services/billing/recurring.py), each empty meaning its default (BILLING_DEFAULTS):
# bill the active part of a period a service starts or ends in (pro rata by days), leave the run's
# invoices as drafts for review, e-mail issued invoices with their PDF, bill the services of customers
# suspended for late payment.
BILLING_FIELDS = ("billing_pro_rata", "billing_drafts", "billing_email", "bill_suspended")
BILLING_DEFAULTS = {"billing_pro_rata": False, "billing_drafts": False, "billing_email": True, "bill_suspended": True}
# Kept elsewhere: the "invoice" DocumentSequence, TaxRate.is_default; and the logo's removal.
OTHER_FIELDS = ("invoice_prefix", "invoice_next_number", "default_tax_rate_id", "remove_logo", "credit_note_prefix")
ALL_FIELDS = (FIELDS + DOCUMENT_FIELDS + ALLOCATION_FIELDS + REMINDER_FIELDS + SUSPENSION_FIELDS + BILLING_FIELDS
              + OTHER_FIELDS)
DEFAULT_TIME_ZONE = "UTC"
INVOICE_SEQUENCE = "invoice"
CREDIT_NOTE_SEQUENCE, CREDIT_NOTE_PREFIX = "credit_note", "CN-"  # as services/billing/credit_notes.py
LOGO_BYTES = 512 * 1024
# A logo is what its first bytes say it is, never what its name or the browser claims.
LOGO_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))
PREFIX_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_.")


@dataclass(frozen=True)
class Company:
    time_zone: ZoneInfo
    business_address: str | None
    business: geo.Place | None  # None: the page shows no distance

    @property
    def time_zone_name(self) -> str:
        return self.time_zone.key


@dataclass(frozen=True)
class Billing:
    """Recurring billing's settings in force (the defaults where none was saved)."""

    pro_rata: bool  # bill the part of a period a service was active when it starts or ends in it
    drafts: bool  # leave the run's invoices as drafts for review, instead of issuing them
    email: bool  # e-mail each issued invoice with its PDF (through the outbox)
    bill_suspended: bool  # bill the services of customers disabled for late payment


@dataclass(frozen=True)
class Letterhead:
    """What an invoice says about the business."""

    name: str | None
    address: str | None
    tax_number: str | None
    bank_details: str | None
    logo: bytes | None
    logo_type: str | None


@dataclass(frozen=True)
class Numbering:
    prefix: str
    next_number: int

    @property
    def next(self) -> str:
        return f"{self.prefix}{self.next_number}"


def time_zones() -> list[str]:
    """Every IANA time zone this system knows, sorted ("Europe/London"...)."""
    return sorted(available_timezones())


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def stored(session: Session) -> CompanySettings:
    """The settings row (not added to the session when there is none yet)."""
    return session.get(CompanySettings, 1) or CompanySettings(id=1)


def read(session: Session, config: dict) -> Company:
    """The settings in force: what an admin saved, else the configuration (read once a transaction)."""
    defaults = tuple(config.get(k) for k in ("TIME_ZONE", "BUSINESS_LATITUDE", "BUSINESS_LONGITUDE", "BUSINESS_ADDRESS"))
    return remembered(session, ("company", defaults), lambda: _read(session, config))


def _read(session: Session, config: dict) -> Company:
    row = session.get(CompanySettings, 1)
    zone = (row and row.time_zone) or config.get("TIME_ZONE")
    if row is not None and row.business_latitude is not None and row.business_longitude is not None:
        business = geo.place(row.business_latitude, row.business_longitude)
    else:
        business = geo.business_place(config)
    return Company(time_zone=_zone(zone), business=business,
                   business_address=(row and row.business_address) or config.get("BUSINESS_ADDRESS") or None)


def letterhead(session: Session, config: dict) -> Letterhead:
    """The business as invoices show it (an empty name: the configuration's COMPANY_NAME)."""
    row = session.get(CompanySettings, 1)
    return Letterhead(name=(row and row.company_name) or config.get("COMPANY_NAME") or None,
                      address=row and row.company_address, tax_number=row and row.tax_number,
                      bank_details=row and row.bank_details, logo=row and row.logo,
                      logo_type=row and row.logo_type)


def billing(session: Session) -> Billing:
    """Recurring billing's settings: what an admin saved, else BILLING_DEFAULTS."""
    row = session.get(CompanySettings, 1)
    value = {key: getattr(row, key, None) if row is not None else None for key in BILLING_FIELDS}
    value = {key: BILLING_DEFAULTS[key] if v is None else v for key, v in value.items()}
    return Billing(pro_rata=value["billing_pro_rata"], drafts=value["billing_drafts"], email=value["billing_email"],
                   bill_suspended=value["bill_suspended"])


def numbering(session: Session) -> Numbering:
    """The invoice numbers: the prefix and the number the next issued invoice takes."""
    row = session.get(DocumentSequence, INVOICE_SEQUENCE)
    return Numbering(row.prefix, row.next_number) if row is not None else Numbering("INV-", 1)


def default_tax_rate_id(session: Session) -> int | None:
    return session.scalar(select(TaxRate.id).where(TaxRate.is_default.is_(True)))


def highest_issued(session: Session, prefix: str) -> int | None:
    """The highest number issued with `prefix` (INV-41 -> 41), None when there is none: a number the
    sequence could give again. Read from the invoices' own numbers, whatever prefix was in force."""
    stmt = select(Invoice.number).where(Invoice.number.is_not(None))
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Invoice.number.like(escaped + "%", escape="\\"))
    found = [int(tail) for tail in (n[len(prefix):] for n in session.scalars(stmt)
                                    if n.startswith(prefix)) if tail.isdigit() and tail.isascii()]
    return max(found) if found else None


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """A stored time (UTC; naive from SQLite) in the company's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone)


def _clean(session: Session, data: dict, row: CompanySettings) -> dict:
    """The fields given in `data`, checked (a field not given keeps its value); Invalid with every
    field error."""
    errors = FieldErrors()
    for key in data:
        if key not in ALL_FIELDS:
            errors.add(key, "Unknown field.")
    values = {}
    if "time_zone" in data:
        zone = fields.text(errors, "time_zone", data.get("time_zone"), 64, label="Time zone")
        if zone is not None and zone not in available_timezones():
            errors.add("time_zone", f"{zone} is not a time zone: pick one from the list, e.g. Europe/London.")
        values["time_zone"] = zone
    if "business_address" in data:
        values["business_address"] = fields.text(errors, "business_address", data.get("business_address"), 255,
                                                  label="Business address")
    for key, limit in (("business_latitude", 90), ("business_longitude", 180)):
        if key in data:
            values[key] = fields.coordinate(errors, key, data.get(key), limit)
    latitude = values.get("business_latitude", row.business_latitude)
    longitude = values.get("business_longitude", row.business_longitude)
    if (latitude is None) != (longitude is None) and not (
            "business_latitude" in errors or "business_longitude" in errors):
        missing = "business_longitude" if longitude is None else "business_latitude"
        errors.add(missing, "Give both latitude and longitude, or neither.")
    if "company_name" in data:
        values["company_name"] = fields.text(errors, "company_name", data["company_name"], 160, label="Company name")
    for key, limit, label in (("company_address", 1000, "Address"), ("bank_details", 1000, "Bank details")):
        if key in data:
            values[key] = fields.long_text(errors, key, data[key], limit, label=label)
    if "tax_number" in data:
        values["tax_number"] = fields.text(errors, "tax_number", data["tax_number"], 40, label="Tax number")
    if "default_creditor_days" in data:
        values["default_creditor_days"] = fields.choice(errors, "default_creditor_days", data["default_creditor_days"],
                                                        CREDITOR_DAYS, label="Default creditor days")
    if "invoice_address_format" in data:  # empty: address_format.DEFAULT_FORMAT
        values["invoice_address_format"] = address_format.check_company_format(errors, data["invoice_address_format"])
    if "default_payment_reminders" in data:  # empty: "automatic"
        values["default_payment_reminders"] = fields.choice(
            errors, "default_payment_reminders", data["default_payment_reminders"], PAYMENT_REMINDERS,
            label="Payment reminders")
    if "default_tax_rate_id" in data:
        values["default_tax_rate_id"] = _tax_rate(errors, session, data["default_tax_rate_id"])
    if "invoice_prefix" in data:
        values["invoice_prefix"] = _prefix(errors, data["invoice_prefix"])
    if "credit_note_prefix" in data:
        values["credit_note_prefix"] = _prefix(errors, data["credit_note_prefix"], "credit_note_prefix",
                                               "Credit note prefix")
    if "credit_note_breakdown" in data:
        values["credit_note_breakdown"] = fields.choice(errors, "credit_note_breakdown", data["credit_note_breakdown"],
                                                        BREAKDOWN_STYLES, label="Credit note breakdown")
    if "write_off_limit" in data:
        limit = money.amount(errors, "write_off_limit", data["write_off_limit"], settings.base_currency,
                             label="Write-off limit")
        if limit is not None and limit < 0:
            errors.add("write_off_limit", "The write-off limit cannot be below zero.")
        values["write_off_limit"] = limit
    if "reminder_minimum" in data:
        least = money.amount(errors, "reminder_minimum", data["reminder_minimum"], settings.base_currency,
                             label="Reminder minimum")
        if least is not None and least < 0:
            errors.add("reminder_minimum", "The reminder minimum cannot be below zero.")
        values["reminder_minimum"] = least
    if "use_credit_default" in data:
        values["use_credit_default"] = fields.choice(errors, "use_credit_default", data["use_credit_default"],
                                                     USE_CREDIT, label="Use account credit")
    if "suspend_grace_days" in data:
        days = fields.integer(errors, "suspend_grace_days", data["suspend_grace_days"], label="Grace period")
        if days is not None and not 0 <= days <= MAX_GRACE_DAYS:
            errors.add("suspend_grace_days", f"The grace period is 0 to {MAX_GRACE_DAYS} days, or empty for no "
                                             "automatic suspension.")
        values["suspend_grace_days"] = days
    for key in BILLING_FIELDS:
        if key in data:
            values[key] = _yes_no(errors, key, data[key])
    if "invoice_next_number" in data:
        number = fields.integer(errors, "invoice_next_number", data["invoice_next_number"], required=True,
                                label="Next invoice number")
        if number is not None and number < 1:
            errors.add("invoice_next_number", "The next invoice number must be 1 or more.")
        values["invoice_next_number"] = number
    values["remove_logo"] = fields.boolean(data.get("remove_logo"))
    errors.raise_if_any()
    return values


def _yes_no(errors: FieldErrors, field: str, value) -> bool | None:
    """A setting that is on, off, or not set (empty: its default): "1", "0" or ""."""
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    if str(value) in ("1", "0"):
        return str(value) == "1"
    errors.add(field, "Pick one of the choices.")
    return None


def _tax_rate(errors: FieldErrors, session: Session, value) -> int | None:
    if value in (None, ""):
        return None
    number = fields.record_id(value)
    if number is None or session.get(TaxRate, number) is None:
        errors.add("default_tax_rate_id", "Pick a tax rate from the list.")
        return None
    return number


def _prefix(errors: FieldErrors, value, field: str = "invoice_prefix", label: str = "Invoice prefix") -> str | None:
    prefix = fields.text(errors, field, value, 20, label=label) or ""
    if field in errors:
        return None
    if not set(prefix) <= PREFIX_CHARACTERS:
        errors.add(field, "The prefix can hold letters, digits and - / _ . only, e.g. INV- or 2027/.")
    elif prefix[-1:].isdigit():
        # INV1 + 2 and INV + 12 would both be INV12: numbers would no longer be told apart.
        errors.add(field, "The prefix cannot end with a digit: end it with - or /, e.g. INV-.")
    return prefix


def check_logo(content: bytes) -> str:
    """The logo's type (image/png, image/jpeg) from its first bytes; Invalid ("logo") when it is
    neither or bigger than LOGO_BYTES."""
    errors = FieldErrors()
    kind = next((t for signature, t in LOGO_SIGNATURES if content.startswith(signature)), None)
    if len(content) > LOGO_BYTES:
        errors.add("logo", f"The logo is too big: at most {LOGO_BYTES // 1024} KB.")
    elif kind is None:
        errors.add("logo", "The logo must be a PNG or JPEG image.")
    errors.raise_if_any()
    return kind


def _geocoded(values: dict, geocoder) -> dict:
    """Coordinates for the address from the geocoder (when one is configured) if none were typed."""
    if geocoder is None or not values["business_address"] or values["business_latitude"] is not None:
        return values
    try:
        found = geocoder.geocode(values["business_address"])
    except geo.GeocodingError:
        found = None
    if found is None:
        errors = FieldErrors()
        errors.add("business_address", "Could not find this address on the map: type its latitude and longitude.")
        errors.raise_if_any()
    values["business_latitude"] = Decimal(found.latitude).quantize(Decimal("0.000001"))
    values["business_longitude"] = Decimal(found.longitude).quantize(Decimal("0.000001"))
    return values


def update(session: Session, actor, data: dict, *, geocoder=None, logo: bytes | None = None) -> list[str]:
    """Save the settings given in `data` (a field not given keeps its value; Admin: can_edit on the
    settings screen) and the uploaded `logo` (bytes, or None: no new logo), in one transaction;
    returns the fields that changed. Saving the same values again (a double submit) changes nothing.

    The invoice numbers: the next number is never one already issued with the prefix (nor lower
    than it is, with the same prefix); a prefix may change, and issued numbers stay unique.
    The default tax rate: the one chosen becomes the only default. Raises Invalid with every field
    error; Forbidden for anyone else."""
    permissions.require(session, actor, ("can_edit", VIEW), message="Only an admin may change the company settings.")
    row = session.get(CompanySettings, 1)
    values = _clean(session, data, row or CompanySettings(id=1))
    logo_type = check_logo(logo) if logo else None
    if geocoder is not None and values.get("business_address") and \
            values.get("business_latitude", row.business_latitude if row else None) is None:
        values.update(_geocoded({"business_address": values["business_address"], "business_latitude": None},
                                geocoder))
    if row is None:
        row = CompanySettings(id=1)
        session.add(row)
    changed = [key for key in FIELDS + DOCUMENT_FIELDS + ALLOCATION_FIELDS + REMINDER_FIELDS + SUSPENSION_FIELDS
               + BILLING_FIELDS if key in values and getattr(row, key) != values[key]]
    for key in changed:
        setattr(row, key, values[key])
    session.flush()
    changed += _numbering(session, values)
    changed += _credit_note_prefix(session, values)
    changed += _default_tax_rate(session, values)
    changed += _logo(session, row, logo, logo_type, values["remove_logo"])
    commit(session)
    return changed


def _numbering(session: Session, values: dict) -> list[str]:
    if "invoice_prefix" not in values and "invoice_next_number" not in values:
        return []
    stmt = select(DocumentSequence).where(DocumentSequence.kind == INVOICE_SEQUENCE)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()  # as issuing takes it: no number is issued while this decides
    sequence = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if sequence is None:
        sequence = DocumentSequence(kind=INVOICE_SEQUENCE, prefix="INV-", next_number=1)
        session.add(sequence)
    prefix = values.get("invoice_prefix", sequence.prefix)
    number = values.get("invoice_next_number") or sequence.next_number
    if prefix == sequence.prefix and number == sequence.next_number:
        return []
    errors = FieldErrors()
    highest = highest_issued(session, prefix)
    if highest is not None and number <= highest:
        errors.add("invoice_next_number", f"Invoice {prefix}{highest} was already issued: the next number with "
                                          f"the prefix {prefix or '(none)'} must be at least {highest + 1}.")
    elif prefix == sequence.prefix and number < sequence.next_number:
        errors.add("invoice_next_number", f"The next invoice number can only be raised: it is "
                                          f"{sequence.next_number} now.")
    errors.raise_if_any()
    changes = {}
    if prefix != sequence.prefix:
        changes["prefix"] = [sequence.prefix, prefix]
    if number != sequence.next_number:
        changes["next_number"] = [sequence.next_number, number]
    sequence.prefix, sequence.next_number = prefix, number
    session.flush()
    audit.record(session, "document_sequence", "update", [(None, None, {"kind": INVOICE_SEQUENCE, **changes})])
    return [{"prefix": "invoice_prefix", "next_number": "invoice_next_number"}[k] for k in changes]


def credit_note_prefix(session: Session) -> str:
    row = session.get(DocumentSequence, CREDIT_NOTE_SEQUENCE)
    return row.prefix if row is not None else CREDIT_NOTE_PREFIX


def _credit_note_prefix(session: Session, values: dict) -> list[str]:
    """A new prefix for credit notes' numbers. Their count only ever goes up (it is never set here),
    so a number is never given twice whatever prefixes come and go."""
    prefix = values.get("credit_note_prefix")
    if prefix is None or prefix == credit_note_prefix(session):
        return []
    stmt = select(DocumentSequence).where(DocumentSequence.kind == CREDIT_NOTE_SEQUENCE)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    sequence = session.scalars(stmt.execution_options(populate_existing=True)).first()
    if sequence is None:
        sequence = DocumentSequence(kind=CREDIT_NOTE_SEQUENCE, prefix=CREDIT_NOTE_PREFIX, next_number=1)
        session.add(sequence)
    old, sequence.prefix = sequence.prefix, prefix
    session.flush()
    audit.record(session, "document_sequence", "update",
                 [(None, None, {"kind": CREDIT_NOTE_SEQUENCE, "prefix": [old, prefix]})])
    return ["credit_note_prefix"]


def _default_tax_rate(session: Session, values: dict) -> list[str]:
    if "default_tax_rate_id" not in values:
        return []
    chosen, current = values["default_tax_rate_id"], default_tax_rate_id(session)
    if chosen == current:
        return []
    # Cleared first: one rate is the default at any moment (ux_tax_rate_one_default).
    session.execute(sql_update(TaxRate).where(TaxRate.is_default.is_(True)).values(is_default=False)
                    .execution_options(synchronize_session=False))
    if chosen is not None:
        session.execute(sql_update(TaxRate).where(TaxRate.id == chosen).values(is_default=True)
                        .execution_options(synchronize_session=False))
    for rate in session.identity_map.values():
        if isinstance(rate, TaxRate):
            session.expire(rate, ["is_default"])
    audit.record(session, "tax_rate", "update",
                 [(rate_id, None, {"is_default": [rate_id == current, rate_id == chosen]})
                  for rate_id in (current, chosen) if rate_id is not None])
    return ["default_tax_rate_id"]


def _logo(session: Session, row: CompanySettings, logo: bytes | None, logo_type: str | None, remove: bool) -> list[str]:
    """A new logo, or none: written as a statement, and audited as what it is (its type and size),
    never as its bytes."""
    if logo:
        new = (logo, logo_type)
    elif remove and row.logo is not None:
        new = (None, None)
    else:
        return []
    if new == (row.logo, row.logo_type):
        return []
    old_label, new_label = _logo_label(row.logo, row.logo_type), _logo_label(*new)
    session.execute(sql_update(CompanySettings).where(CompanySettings.id == 1)
                    .values(logo=new[0], logo_type=new[1]).execution_options(synchronize_session=False))
    session.expire(row, ["logo", "logo_type"])
    audit.record(session, "company_settings", "update", [(1, None, {"logo": [old_label, new_label]})])
    return ["logo"]


def _logo_label(content: bytes | None, kind: str | None) -> str | None:
    return None if content is None else f"{kind}, {len(content) / 1024:.1f} KB"
