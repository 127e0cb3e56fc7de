"""The money module: currency digits, half-up rounding, reading typed amounts, showing amounts."""
from decimal import Decimal

import pytest

from app.services import money
from app.services.errors import FieldErrors, Invalid


def test_each_currency_has_the_minor_units_cldr_gives_it():
    assert (money.minor_units("JPY"), money.minor_units("GBP"), money.minor_units("BHD")) == (0, 2, 3)


@pytest.mark.parametrize("amount, currency, expected", [
    ("2.5", "JPY", "3"), ("3.5", "JPY", "4"), ("-2.5", "JPY", "-3"), ("1234.49", "JPY", "1234"),
    ("0.125", "GBP", "0.13"), ("0.135", "GBP", "0.14"), ("-0.125", "GBP", "-0.13"), ("12", "GBP", "12.00"),
    ("1.0005", "BHD", "1.001"), ("1.0015", "BHD", "1.002"), ("7.1", "BHD", "7.100"),
])
def test_amounts_round_half_up_to_the_currencys_minor_units(amount, currency, expected):
    rounded = money.quantize(Decimal(amount), currency)
    assert str(rounded) == expected


@pytest.mark.parametrize("amount, currency", [("-0.001", "GBP"), ("-0.00", "GBP"), ("-0.4", "JPY")])
def test_what_rounds_to_nothing_is_zero_not_minus_zero(amount, currency):
    assert str(money.quantize(Decimal(amount), currency)).startswith("0")
    assert not money.format(Decimal(amount), currency).startswith("-")


def test_quantize_refuses_a_float_and_nan_rather_than_guess():
    for bad in (0.1, Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(TypeError):
            money.quantize(bad, "GBP")


@pytest.mark.parametrize("amount, currency, expected", [
    (Decimal("1234.5"), "GBP", "£1,234.50"),
    (Decimal("2.5"), "JPY", "JP¥3"),  # babel alone rounds half-even: JP¥2
    (Decimal("0.125"), "GBP", "£0.13"),
    (Decimal("-1234.5"), "BHD", "-BHD1,234.500"),
    (Decimal("12"), "EUR", "€12.00"),
    (0, "GBP", "£0.00"),
])
def test_amounts_are_shown_with_their_currency(amount, currency, expected):
    assert money.format(amount, currency).replace("\xa0", "") == expected


def test_an_amount_is_shown_as_its_locale_writes_it():
    assert money.format(Decimal("1234.5"), "EUR", locale="de_DE").replace("\xa0", " ") == "1.234,50 €"


def test_a_missing_amount_is_shown_as_nothing():
    assert money.format(None, "GBP") == ""


@pytest.mark.parametrize("text, currency, expected", [
    ("12.50", "GBP", Decimal("12.50")), ("12.5", "GBP", Decimal("12.50")), ("1,200", "GBP", Decimal("1200.00")),
    ("1200", "JPY", Decimal("1200")), ("1.250", "BHD", Decimal("1.250")), ("-3", "GBP", Decimal("-3.00")),
    (Decimal("4.10"), "GBP", Decimal("4.10")), (7, "JPY", Decimal("7")),
])
def test_a_typed_amount_is_read_with_the_currencys_decimals(text, currency, expected):
    amount = money.parse(text, currency)
    assert amount == expected and str(amount) == str(expected.quantize(Decimal(1).scaleb(-money.minor_units(currency))))


@pytest.mark.parametrize("text, currency, message", [
    ("", "GBP", "Amount is required."),
    ("abc", "GBP", "Amount must be an amount, e.g. 1200.00."),
    ("NaN", "GBP", "Amount must be an amount, e.g. 1200.00."),
    ("Infinity", "GBP", "Amount must be an amount, e.g. 1200.00."),
    ("1e3", "GBP", "Amount must be an amount, e.g. 1200.00."),
    (0.1, "GBP", "Amount must be an amount, e.g. 1200.00."),
    ("12.505", "GBP", "Amount can have at most 2 decimals in GBP."),
    ("12.5", "JPY", "Amount can have no decimals in JPY."),
    ("1.0001", "BHD", "Amount can have at most 3 decimals in BHD."),
    ("1000000000000", "GBP", "Amount is too large."),
])
def test_parse_refuses_what_is_not_an_amount_in_the_currency(text, currency, message):
    with pytest.raises(Invalid) as refused:
        money.parse(text, currency)
    assert refused.value.errors == {"amount": [message]}


def test_the_amount_cleaner_collects_its_error_under_the_field():
    errors = FieldErrors()
    assert money.amount(errors, "price", "9.999", "GBP") is None
    assert money.amount(errors, "deposit", "", "GBP") is None
    assert errors.errors == {"price": ["Price can have at most 2 decimals in GBP."]}
