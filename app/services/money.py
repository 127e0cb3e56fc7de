"""Money: how many decimals a currency has, rounding, reading an amount someone typed, and
showing one. The one place that does these; lists, the profile, message placeholders and the
CSV export all come here.

Amounts are Decimals, never floats. A currency's minor units come from CLDR through babel:
JPY has none, GBP two, BHD three. Rounding is half-up (away from zero on a tie: 2.5 yen is 3),
as invoices are rounded; babel's own formatting rounds half-even (2.5 yen would show as 2),
so amounts are quantized here before babel sees them.
"""
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import format_currency, get_currency_precision

from app.services import fields
from app.services.errors import FieldErrors

DEFAULT_LOCALE = "en_GB"
# Digits before the point an amount may have: every money column (Numeric(16, 4): four decimals,
# the most any ISO 4217 currency has) holds twelve.
INTEGER_DIGITS = 12


@lru_cache(maxsize=512)
def minor_units(currency: str) -> int:
    """How many decimals `currency` is written with (JPY 0, GBP 2, BHD 3; unknown codes 2)."""
    return get_currency_precision(currency)


def quantize(amount, currency: str) -> Decimal:
    """`amount` rounded half-up to the currency's minor units (JPY 1234.5 -> 1235); what rounds
    to nothing is 0, never -0 (which would show as "-£0.00")."""
    rounded = _decimal(amount).quantize(Decimal(1).scaleb(-minor_units(currency)), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def format(amount, currency: str, locale: str = DEFAULT_LOCALE) -> str:  # noqa: A001  (money.format)
    """`amount` in `currency` as `locale` writes it, rounded half-up: "£1,234.50", "JP¥1,235",
    "BHD 12.500". None is shown as nothing."""
    if amount is None:
        return ""
    return _format(str(quantize(amount, currency)), currency, locale)


@lru_cache(maxsize=8192)
def _format(amount: str, currency: str, locale: str) -> str:
    # A list page shows a few hundred amounts, most of them alike (0.00); babel is slow.
    return format_currency(Decimal(amount), currency, locale=locale)


def amount(errors: FieldErrors, field: str, value, currency: str, required: bool = False,
           label: str | None = None) -> Decimal | None:
    """The amount someone wrote ("1,234.50", "12"), in `currency`: a Decimal with the currency's
    decimals, or None after recording why it is not one (not a number, NaN, a float, more
    decimals than the currency has, more than INTEGER_DIGITS before the point)."""
    label = label or field.replace("_", " ").capitalize()
    if value in (None, ""):
        if required:
            errors.add(field, f"{label} is required.")
        return None
    number = fields.decimal_number(value)
    places = minor_units(currency)
    example = quantize(1200, currency)
    if number is None:
        errors.add(field, f"{label} must be an amount, e.g. {example}.")
        return None
    if abs(number) >= Decimal(10) ** INTEGER_DIGITS:  # first: quantizing 30 digits is beyond Decimal's precision
        errors.add(field, f"{label} is too large.")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        errors.add(field, f"{label} can have no decimals in {currency}." if places == 0 else
                   f"{label} can have at most {places} decimals in {currency}.")
        return None
    return quantize(number, currency)


def parse(text, currency: str, field: str = "amount", label: str | None = None) -> Decimal:
    """`text` as an amount in `currency` (see amount()); raises Invalid for the field otherwise."""
    errors = FieldErrors()
    number = amount(errors, field, text, currency, required=True, label=label)
    errors.raise_if_any()
    return number


def _decimal(amount) -> Decimal:
    number = fields.decimal_number(amount)
    if number is None:
        raise TypeError(f"not an amount: {amount!r}")  # a float or NaN reaching here is a bug
    return number
