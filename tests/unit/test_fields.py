"""The one parser per kind (whole numbers, decimals, dates) and the field cleaners built on them."""
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.services import fields
from app.services.errors import FieldErrors
from app.services.fields import INT_MAX, INT_MIN, decimal_number, iso_date, whole_number


@pytest.mark.parametrize("value, expected", [
    ("42", 42), (" 42 ", 42), ("-7", -7), ("007", 7), (42, 42),
    (str(INT_MAX), INT_MAX), (str(INT_MIN), INT_MIN),
])
def test_a_whole_number_is_ascii_digits_with_an_optional_minus(value, expected):
    assert whole_number(value) == expected


@pytest.mark.parametrize("value", [
    None, "", "abc", "1.0", "1e3", "+5", "--5", "²", "٣", "1 000", "0x10", True, False, 3.0,
    str(INT_MAX + 1), str(INT_MIN - 1), "9" * 100, INT_MAX + 1,
])
def test_anything_else_is_not_a_whole_number(value):
    assert whole_number(value) is None


def test_a_whole_number_must_lie_within_the_range_asked_for():
    assert whole_number("5", low=1, high=10) == 5
    assert whole_number("0", low=1, high=10) is None
    assert whole_number("11", low=1, high=10) is None
    assert whole_number(str(2**62), low=1, high=2**63 - 1) == 2**62


def test_ids_and_page_cursors_go_through_the_whole_number_parser():
    assert fields.record_id("12") == 12 and fields.record_id("²") is None
    assert fields.record_id(str(INT_MAX + 1)) is None
    assert fields.page_cursor("0") is None and fields.page_cursor(str(2**40)) == 2**40


@pytest.mark.parametrize("value, expected", [
    ("12.50", Decimal("12.50")), ("-3", Decimal("-3")), (".5", Decimal("0.5")), ("+1.", Decimal("1")),
    ("1,200.50", Decimal("1200.50")), (" 7 ", Decimal("7")), (Decimal("2.25"), Decimal("2.25")),
    (5, Decimal(5)),
])
def test_a_decimal_number_keeps_the_digits_it_was_written_with(value, expected):
    number = decimal_number(value)
    assert number == expected and isinstance(number, Decimal)
    assert str(decimal_number("12.50")) == "12.50"


@pytest.mark.parametrize("value", [
    None, "", "abc", "NaN", "nan", "Infinity", "-inf", "sNaN", "1e3", "1,2,3", "12,50", "٣",
    Decimal("NaN"), Decimal("Infinity"), 0.1, 1.0, True, "1" * 65,
])
def test_nan_infinity_floats_exponents_and_other_digits_are_not_decimals(value):
    assert decimal_number(value) is None


@pytest.mark.parametrize("value, expected", [
    ("2026-02-28", date(2026, 2, 28)), (" 2024-02-29 ", date(2024, 2, 29)),
    (date(2026, 1, 2), date(2026, 1, 2)), (datetime(2026, 1, 2, 13, 5), date(2026, 1, 2)),
])
def test_an_iso_date_is_a_date_or_yyyy_mm_dd(value, expected):
    assert iso_date(value) == expected and type(iso_date(value)) is date


@pytest.mark.parametrize("value", [None, "", "2026-02-30", "20260228", "2026-W01-1", "28/02/2026",
                                   "2026-2-3", "２０２６-01-01", 20260228])
def test_anything_else_is_not_an_iso_date(value):
    assert iso_date(value) is None


def test_the_integer_cleaner_refuses_what_the_parser_refuses_with_a_message():
    errors = FieldErrors()
    assert fields.integer(errors, "position", "²") is None
    assert fields.integer(errors, "count", str(INT_MAX + 1)) is None
    assert fields.integer(errors, "flag", True) is None
    assert errors.errors == {"position": ["Position must be a whole number."],
                             "count": ["Count is out of range."], "flag": ["Flag must be a whole number."]}


def test_the_date_cleaner_refuses_what_the_parser_refuses():
    errors = FieldErrors()
    assert fields.a_date(errors, "joined_on", "20260228") is None
    assert fields.a_date(errors, "started_on", "2026-02-28") == date(2026, 2, 28)
    assert errors.errors == {"joined_on": ["Enter a date as YYYY-MM-DD."]}
