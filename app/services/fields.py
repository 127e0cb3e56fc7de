"""Cleaning and validating single values: text, e-mail, phone, currency, URL, choices,
whole numbers, decimals and dates.

The parsers whole_number, decimal_number and iso_date are the one reading of each kind, for
URLs, forms, filters and the API: they return the value or None. Each cleaner takes the raw
value and a FieldErrors collector, and returns the clean value (or None) after recording any
error under the field's name. Amounts of money are read by app/services/money.py.
"""
import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import phonenumbers
from babel.numbers import list_currencies
from email_validator import EmailNotValidError, validate_email

from app.services.errors import FieldErrors

# Control characters (C0 but tab and line breaks, DEL, C1), Unicode's line and paragraph
# separators, and the bidirectional embeddings, overrides and isolates that can make text
# read otherwise than it is stored ("Trojan Source").
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
CURRENCIES = frozenset(c for c in list_currencies() if len(c) == 3 and c.isalpha() and c.isupper())


def text(errors: FieldErrors, field: str, value, max_length: int, required: bool = False,
         label: str | None = None) -> str | None:
    """Trimmed single-line text; empty becomes None."""
    return _text(errors, field, value, max_length, required, label, lines=False)


def long_text(errors: FieldErrors, field: str, value, max_length: int, required: bool = False,
              label: str | None = None) -> str | None:
    """Trimmed text of several lines (line breaks as \\n, tabs kept); empty becomes None."""
    return _text(errors, field, value, max_length, required, label, lines=True)


def _text(errors, field, value, max_length, required, label, lines: bool) -> str | None:
    label = label or field.replace("_", " ").capitalize()
    value = unicodedata.normalize("NFC", "" if value is None else value if isinstance(value, str) else str(value))
    if lines:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    if CONTROL.search(value) or (not lines and ("\n" in value or "\r" in value)):
        errors.add(field, f"{label} cannot hold control characters." if lines else
                   f"{label} must be one line of plain text.")
        return None
    if not value:
        if required:
            errors.add(field, f"{label} is required.")
        return None
    if len(value) > max_length:
        errors.add(field, f"{label} can be at most {max_length:,} characters." if lines else
                   f"{label} must be at most {max_length} characters.")
        return None
    return value


def email(errors: FieldErrors, field: str, value, required: bool = False) -> str | None:
    """A syntactically valid address, normalised and lower-cased."""
    value = text(errors, field, value, 254, required, label="E-mail")
    if value is None:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as e:
        errors.add(field, f"Enter a valid e-mail address ({e}).")
        return None


def phone(errors: FieldErrors, field: str, value, region: str, required: bool = False,
          possible: bool = False) -> str | None:
    """A valid phone number, returned in E.164 (+441632960001). With `possible`, a number of
    a possible length for its country is enough (what a gateway reports it received from)."""
    value = text(errors, field, value, 40, required, label="Phone")
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        number = None
    check = phonenumbers.is_possible_number if possible else phonenumbers.is_valid_number
    if number is None or not check(number):
        errors.add(field, "Enter a valid phone number, e.g. 020 7946 0000 or +44 20 7946 0000.")
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_phone(e164: str | None, region: str) -> str:
    """How a stored E.164 number is shown: national format at home, international abroad."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    home = phonenumbers.region_code_for_number(number) == region
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, fmt)


def currency(errors: FieldErrors, field: str, value, default: str) -> str | None:
    value = text(errors, field, value, 3) or default
    if not value:
        return None
    value = value.upper()
    if value not in CURRENCIES:
        errors.add(field, f"{value} is not an ISO 4217 currency code.")
        return None
    return value


def choice(errors: FieldErrors, field: str, value, choices, required: bool = False,
           label: str | None = None):
    label = label or field.replace("_", " ").capitalize()
    if value in (None, ""):
        if required:
            errors.add(field, f"{label} is required.")
        return None
    for c in choices:
        if str(c) == str(value):
            return c
    errors.add(field, f"{label} must be one of: {', '.join(str(c) for c in choices)}.")
    return None


# Ids and counts are 32-bit INTEGER columns; a bigger number can match nothing.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
# No amount, quantity or coordinate a person writes is longer; a longer one is refused before
# Decimal sees it (a 200,000-digit bind overflows PostgreSQL's numeric: a 500, not an answer).
_MAX_NUMBER_TEXT = 64

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_DECIMAL_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_GROUPED_NUMBER = re.compile(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?")  # 1,200.50 as en_GB writes it
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


# ---- the one parser per kind: URLs, forms, filters and the API all read numbers and dates here --
def whole_number(value, low: int = INT_MIN, high: int = INT_MAX) -> int | None:
    """The whole number `value` is (an int, or ASCII digits with an optional minus), when within
    [low, high]; else None. '²' and '٣' are digits to str.isdigit and int(), not numbers anyone
    writes an id in; True is not 1 and 3.0 is not 3."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = "" if value is None else str(value).strip()
        if len(text) > _MAX_NUMBER_TEXT or not _WHOLE_NUMBER.fullmatch(text):
            return None
        number = int(text)
    return number if low <= number <= high else None


def decimal_number(value) -> Decimal | None:
    """The finite Decimal `value` is (a Decimal, an int, or ASCII text such as "-12.50", ".5" or
    "1,200.50"), else None. NaN and Infinity are refused, and so is a float: it has already lost
    the digits it was written with (0.1 is 0.1000000000000000055...)."""
    if isinstance(value, bool) or isinstance(value, float):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int):
        return Decimal(value)
    text = "" if value is None else str(value).strip()
    if len(text) > _MAX_NUMBER_TEXT:
        return None
    if _GROUPED_NUMBER.fullmatch(text):
        text = text.replace(",", "")
    if not _DECIMAL_NUMBER.fullmatch(text):
        return None
    return Decimal(text)


def iso_date(value) -> date | None:
    """The date `value` is (a date, or text written YYYY-MM-DD), else None. A datetime gives its
    date; "2026-02-30" and the other forms fromisoformat accepts ("20260228") are refused."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = "" if value is None else str(value).strip()
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def record_id(value) -> int | None:
    """An id from a URL or a form: the number, or None when no INTEGER column can hold it."""
    return whole_number(value)


def page_cursor(value) -> int | None:
    """Where a page of a long list starts (`?before=` the id the previous page ended at):
    the id, or None (the first page) when it is not a positive id a BIGINT can hold."""
    return whole_number(value, 1, BIGINT_MAX)


def coordinate(errors: FieldErrors, field: str, value, limit: int) -> Decimal | None:
    """Degrees of latitude (limit 90) or longitude (limit 180), to the six places the columns keep."""
    if value in (None, ""):
        return None
    if isinstance(value, float):  # a JSON number: as many places as the column keeps (six)
        value = f"{value:f}"
    number = decimal_number(value)
    if number is None:
        errors.add(field, "Enter a number of degrees, e.g. 51.5074.")
        return None
    if abs(number) > limit:
        errors.add(field, f"Must be between -{limit} and {limit}.")
        return None
    return number.quantize(Decimal("0.000001"))


def integer(errors: FieldErrors, field: str, value, required: bool = False,
            label: str | None = None) -> int | None:
    label = label or field.replace("_", " ").capitalize()
    if value in (None, ""):
        if required:
            errors.add(field, f"{label} is required.")
        return None
    number = whole_number(value)
    if number is None:
        errors.add(field, f"{label} must be a whole number."
                   if whole_number(value, -(10**_MAX_NUMBER_TEXT), 10**_MAX_NUMBER_TEXT) is None
                   else f"{label} is out of range.")
    return number


def integer_list(errors: FieldErrors, field: str, value) -> list[int]:
    if value in (None, ""):
        return []
    if not isinstance(value, (list, tuple)):
        value = [value]
    out = []
    for v in value:
        n = integer(errors, field, v)
        if n is None:
            return []
        out.append(n)
    return sorted(set(out))


def a_date(errors: FieldErrors, field: str, value, required: bool = False) -> date | None:
    if value in (None, ""):
        if required:
            errors.add(field, "A date is required.")
        return None
    day = iso_date(value)
    if day is None:
        errors.add(field, "Enter a date as YYYY-MM-DD.")
    return day


def url(errors: FieldErrors, field: str, value) -> str | None:
    value = text(errors, field, value, 500, label="URL")
    if value is None:
        return None
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or "." not in parts.netloc:
        errors.add(field, "Enter a web address starting with http:// or https://.")
        return None
    return value


def boolean(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "on")
    return bool(value)
