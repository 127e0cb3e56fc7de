"""Stored codes are shown as words and times without microseconds (app/views/formatters.py)."""
from datetime import date, datetime, timezone
from types import SimpleNamespace

from app.views import formatters

WHEN = datetime(2024, 3, 5, 14, 7, 9, 123456, tzinfo=timezone.utc)


def test_each_code_reads_as_its_word():
    assert formatters.address_kind("billing") == "Billing address"
    assert formatters.address_kind("site") == "Site address"
    assert formatters.billing_cycle("monthly") == "Monthly"
    assert formatters.phone_kind("mobile") == "Mobile"
    assert formatters.customer_type("company") == "Company"
    assert formatters.purpose("marketing") == "Marketing"
    assert formatters.message_kind("notification") == "Automatic notification"
    assert formatters.channel("sms") == "Text"
    assert "Cancelled" in formatters.service_status("cancelled")
    assert formatters.access_relationship("letting agent") == "Letting agent"
    assert formatters.address_kind(None) == formatters.phone_kind("") == ""


def test_a_contacts_numbers_name_their_kinds():
    phones = [SimpleNamespace(kind="mobile", number=""), SimpleNamespace(kind="office", number="")]
    assert formatters.phones(phones) == "Mobile: , Office: "


def test_times_are_shown_to_the_minute_or_the_second_never_with_microseconds():
    assert "2024-03-05 14:07<" in formatters.moment(WHEN)
    assert "2024-03-05 14:07:09<" in formatters.moment_seconds(WHEN)
    attempt = SimpleNamespace(at=WHEN, outcome="sent", transport="smtp", error=None)
    assert "14:07:09" in formatters.attempts([attempt]) and "123456" not in formatters.attempts([attempt])


def test_any_other_column_shows_times_dates_and_tick_boxes_in_words():
    assert "2024-03-05 14:07<" in formatters.text(WHEN) and "123456" not in formatters.text(WHEN)
    assert "2024-03-05" in formatters.text(date(2024, 3, 5))
    assert formatters.text(True) == "Yes" and formatters.text(False) == "No"
    assert formatters.text(None) == "" and formatters.text("<b>") == "&lt;b&gt;"
