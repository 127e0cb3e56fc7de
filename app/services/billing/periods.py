"""A service's billing periods (issue 17): pure date arithmetic, no session.

A recurring service (monthly: 1 month, quarterly: 3, annually: 12) has periods anchored on its
`billing_day`, the day of the month its periods start; in a shorter month they start on its last day
(31: 31 Jan, 28 or 29 Feb, 31 Mar). A period runs from its start to the day before the next start:
periods tile the calendar without gap or overlap.

As at `today`, every period that starts on or before today and is not billed yet (from the service's
`next_billing_on`) is due, each once: a catch-up after missed runs bills each missed period. A service
ends on `ends_on` (it is active until the day before; nothing is billed from that day on).

Pro rata (the company's setting): a period only partly active (the service started after its start,
or ends before its end) bills the fraction days active / days in the period, as the line's quantity
(four decimals: the quantity column's); off, each period billed is billed whole. A one-off service is
billed once, on its `next_billing_on`, whole.
"""
import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12}
ONE_OFF = "one-off"
ONE = Decimal(1)
FRACTION_PLACES = Decimal("0.0001")  # the quantity column's scale
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DASH = "\u2013"  # en dash


@dataclass(frozen=True)
class Period:
    """One period of a service to bill: the period (`starts_on` to `ends_on`, both included), the part
    of it billed (`bills_from` to `bills_to`: the whole period unless pro rata cut it) and the quantity
    (1, or the fraction active)."""

    starts_on: date
    ends_on: date
    bills_from: date
    bills_to: date
    quantity: Decimal


def add_months(day: date, months: int, anchor: int) -> date:
    """`day` moved on by `months`, on the `anchor` day of that month (its last day when shorter)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(anchor, calendar.monthrange(year, month + 1)[1]))


def next_start(start: date, cycle: str, anchor: int) -> date:
    """The start of the period after the one starting on `start`."""
    return add_months(start, MONTHS[cycle], anchor)


def start_containing(day: date, reference: date, cycle: str, anchor: int) -> date:
    """The start of the period that contains `day`, of periods anchored on `anchor` of which one starts on
    `reference` (another service's next billing date: a quarter's months follow it)."""
    months = MONTHS[cycle]
    k = ((day.year - reference.year) * 12 + day.month - reference.month) // months
    start = add_months(reference, k * months, anchor)
    while start > day:
        k -= 1
        start = add_months(reference, k * months, anchor)
    while add_months(reference, (k + 1) * months, anchor) <= day:
        k += 1
        start = add_months(reference, k * months, anchor)
    return start


def fraction(bills_from: date, bills_to: date, starts_on: date, ends_on: date) -> Decimal:
    """Days billed / days in the period, to four decimals (half-up)."""
    days = Decimal((bills_to - bills_from).days + 1)
    return (days / Decimal((ends_on - starts_on).days + 1)).quantize(FRACTION_PLACES, ROUND_HALF_UP)


def due(cycle: str, next_billing_on: date | None, billing_day: int | None, started_on: date,
        ends_on: date | None, today: date, pro_rata: bool) -> tuple[list[Period], date | None]:
    """The periods of a service due as at `today` (see the module's docstring), and its next billing date
    once they are billed (None: nothing more to bill: a one-off billed, a service billed to its end).
    A period the service was not active in at all (it started after it) is passed over, not billed."""
    if next_billing_on is None or next_billing_on > today:
        return [], next_billing_on
    if cycle not in MONTHS:  # one-off
        if ends_on is not None and ends_on <= next_billing_on:
            return [], None
        return [Period(next_billing_on, next_billing_on, next_billing_on, next_billing_on, ONE)], None
    anchor = billing_day or next_billing_on.day
    found, start = [], next_billing_on
    while start <= today and (ends_on is None or start < ends_on):
        following = next_start(start, cycle, anchor)
        end = following - timedelta(days=1)
        active_from = max(start, started_on)
        active_to = end if ends_on is None else min(end, ends_on - timedelta(days=1))
        if active_from <= active_to:
            if pro_rata and (active_from, active_to) != (start, end):
                found.append(Period(start, end, active_from, active_to, fraction(active_from, active_to, start, end)))
            else:
                found.append(Period(start, end, start, end, ONE))
        start = following
    if ends_on is not None and start >= ends_on:
        return found, None
    return found, start


def day_text(day: date) -> str:
    return f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}"


def span_text(first: date, last: date) -> str:
    """"1–31 Jan 2027", "15 Jan – 14 Feb 2027", "15 Dec 2026 – 14 Jan 2027"; one day: "1 Jan 2027"."""
    if first == last:
        return day_text(first)
    if first.year != last.year:
        return f"{day_text(first)} {DASH} {day_text(last)}"
    if first.month != last.month:
        return f"{first.day} {MONTH_NAMES[first.month - 1]} {DASH} {day_text(last)}"
    return f"{first.day}{DASH}{day_text(last)}"


def description(name: str, cycle: str, period: Period) -> str:
    """A line's description: "Broadband 40 Mb, 1–31 Jan 2027" (the part billed); a one-off: its name."""
    if cycle not in MONTHS:
        return name
    return f"{name}, {span_text(period.bills_from, period.bills_to)}"
