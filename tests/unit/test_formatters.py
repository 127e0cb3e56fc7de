"""How values are shown in lists and pages: amounts go through the money module."""
from decimal import Decimal

import pytest

from app.views import formatters


@pytest.mark.parametrize("value, currency, shown", [
    (Decimal("1234.5"), "GBP", "£1,234.50"), (Decimal("1234.5"), "JPY", "JP¥1,235"),
    (Decimal("7.25"), "BHD", "BHD7.250"), (Decimal("-0.125"), "GBP", "-£0.13"),
])
def test_an_amount_is_shown_in_its_own_currency(value, currency, shown):
    assert formatters.money(value, currency).replace("\xa0", "") == shown


def test_an_amount_without_its_currency_is_the_number_rounded_half_up():
    assert formatters.money(Decimal("1234.5")) == "1,234.50"
    assert formatters.money(Decimal("0.125")) == "0.13"  # half-even would show 0.12
    assert formatters.money(None) == "" and formatters.money(None, "GBP") == ""
