"""A service's billing periods (services/billing/periods.py): month ends, leap years, catch-up, pro rata
start and end, one-off services, the line's description; periods tile the calendar (Hypothesis)."""
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from app.services.billing import periods
from app.services.billing.periods import Period


def starts(found):
    return [(p.starts_on, p.ends_on) for p in found]


def test_a_monthly_service_on_the_31st_starts_on_the_last_day_of_shorter_months():
    found, nxt = periods.due("monthly", date(2027, 1, 31), 31, date(2027, 1, 31), None, date(2027, 4, 29), False)
    assert starts(found) == [(date(2027, 1, 31), date(2027, 2, 27)), (date(2027, 2, 28), date(2027, 3, 30)),
                             (date(2027, 3, 31), date(2027, 4, 29))]
    assert nxt == date(2027, 4, 30)


def test_a_leap_year_february_ends_on_the_28th_for_a_period_starting_on_the_29th():
    found, nxt = periods.due("monthly", date(2028, 1, 31), 31, date(2027, 1, 1), None, date(2028, 2, 29), False)
    assert starts(found) == [(date(2028, 1, 31), date(2028, 2, 28)), (date(2028, 2, 29), date(2028, 3, 30))]
    assert nxt == date(2028, 3, 31)


def test_an_annual_service_from_29_february_starts_on_28_february_in_other_years():
    found, nxt = periods.due("annually", date(2028, 2, 29), 29, date(2028, 2, 29), None, date(2029, 3, 1), False)
    assert starts(found) == [(date(2028, 2, 29), date(2029, 2, 27)), (date(2029, 2, 28), date(2030, 2, 27))]
    assert nxt == date(2030, 2, 28)


def test_a_quarterly_service_bills_three_months_at_a_time():
    found, nxt = periods.due("quarterly", date(2027, 1, 15), 15, date(2027, 1, 15), None, date(2027, 4, 14), False)
    assert starts(found) == [(date(2027, 1, 15), date(2027, 4, 14))]
    assert nxt == date(2027, 4, 15)


def test_nothing_is_due_before_the_next_billing_date():
    assert periods.due("monthly", date(2027, 2, 1), 1, date(2027, 1, 1), None, date(2027, 1, 31), True) == \
        ([], date(2027, 2, 1))


def test_a_catch_up_after_three_missed_months_bills_each_period_once():
    found, nxt = periods.due("monthly", date(2027, 1, 1), 1, date(2026, 1, 1), None, date(2027, 3, 20), True)
    assert starts(found) == [(date(2027, 1, 1), date(2027, 1, 31)), (date(2027, 2, 1), date(2027, 2, 28)),
                             (date(2027, 3, 1), date(2027, 3, 31))]
    assert all(p.quantity == 1 for p in found) and nxt == date(2027, 4, 1)


def test_pro_rata_a_service_started_mid_period_bills_its_active_days():
    found, _ = periods.due("monthly", date(2027, 1, 1), 1, date(2027, 1, 17), None, date(2027, 1, 20), True)
    assert found == [Period(date(2027, 1, 1), date(2027, 1, 31), date(2027, 1, 17), date(2027, 1, 31),
                            Decimal("0.4839"))]  # 15 / 31


def test_pro_rata_off_a_service_started_mid_period_bills_the_whole_period():
    found, _ = periods.due("monthly", date(2027, 1, 1), 1, date(2027, 1, 17), None, date(2027, 1, 20), False)
    assert [p.quantity for p in found] == [1]


def test_pro_rata_a_cancelled_service_bills_up_to_the_day_before_its_end_and_nothing_more():
    found, nxt = periods.due("monthly", date(2027, 2, 1), 1, date(2026, 1, 1), date(2027, 2, 15), date(2027, 3, 5),
                             True)
    assert found == [Period(date(2027, 2, 1), date(2027, 2, 28), date(2027, 2, 1), date(2027, 2, 14),
                            Decimal("0.5000"))]
    assert nxt is None


def test_pro_rata_off_a_cancelled_services_last_period_is_whole():
    found, nxt = periods.due("monthly", date(2027, 2, 1), 1, date(2026, 1, 1), date(2027, 2, 15), date(2027, 3, 5),
                             False)
    assert [(p.quantity, p.bills_to) for p in found] == [(1, date(2027, 2, 28))] and nxt is None


def test_a_service_ending_on_a_period_start_bills_nothing_from_it():
    found, nxt = periods.due("monthly", date(2027, 2, 1), 1, date(2026, 1, 1), date(2027, 2, 1), date(2027, 3, 5), True)
    assert found == [] and nxt is None


def test_a_one_off_service_is_billed_once_on_its_date():
    found, nxt = periods.due("one-off", date(2027, 1, 10), None, date(2027, 1, 10), None, date(2027, 2, 1), True)
    assert starts(found) == [(date(2027, 1, 10), date(2027, 1, 10))] and nxt is None
    assert periods.description("Installation", "one-off", found[0]) == "Installation"


def test_the_description_names_the_service_and_the_part_billed():
    one = Period(date(2027, 1, 1), date(2027, 1, 31), date(2027, 1, 1), date(2027, 1, 31), Decimal(1))
    assert periods.description("Broadband 40 Mb", "monthly", one) == "Broadband 40 Mb, 1\u201331 Jan 2027"
    across = Period(date(2027, 1, 15), date(2027, 2, 14), date(2027, 1, 15), date(2027, 2, 14), Decimal(1))
    assert periods.description("Hosting", "monthly", across) == "Hosting, 15 Jan \u2013 14 Feb 2027"
    years = Period(date(2026, 12, 15), date(2027, 1, 14), date(2026, 12, 15), date(2027, 1, 14), Decimal(1))
    assert periods.description("Hosting", "monthly", years) == "Hosting, 15 Dec 2026 \u2013 14 Jan 2027"


@settings(max_examples=300, deadline=None)
@given(cycle=st.sampled_from(["monthly", "quarterly", "annually"]), day=st.integers(1, 31),
       start=st.dates(date(1999, 1, 1), date(2099, 12, 1)), months=st.integers(1, 60))
def test_periods_tile_the_calendar_without_gap_or_overlap(cycle, day, start, months):
    first = periods.add_months(start, 0, day)
    today = periods.add_months(first, months, 1)
    found, nxt = periods.due(cycle, first, day, first, None, today, False)
    assert found and found[0].starts_on == first
    for before, after in zip(found, found[1:]):
        assert after.starts_on == before.ends_on + timedelta(days=1)
    assert nxt == found[-1].ends_on + timedelta(days=1) and found[-1].starts_on <= today < nxt
    for period in found:
        last_day = (date(period.starts_on.year + period.starts_on.month // 12, period.starts_on.month % 12 + 1, 1)
                    - timedelta(days=1)).day
        assert period.starts_on.day == min(day, last_day)


@settings(max_examples=300, deadline=None)
@given(day=st.integers(1, 31), start=st.dates(date(2000, 1, 1), date(2090, 1, 1)), offset=st.integers(0, 400),
       length=st.integers(1, 400))
def test_pro_rata_parts_never_exceed_a_whole_period(day, start, offset, length):
    first = periods.add_months(start, 0, day)
    started = first + timedelta(days=offset % 28)
    ends = started + timedelta(days=length)
    found, _ = periods.due("monthly", first, day, started, ends, ends + timedelta(days=40), True)
    assert sum(((p.bills_to - p.bills_from).days + 1 for p in found)) == (ends - started).days
    assert all(Decimal(0) < p.quantity <= 1 for p in found)
