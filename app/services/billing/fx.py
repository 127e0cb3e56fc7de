"""FX rates: global rates by currency pair and effective date, a customer's own rates, the look-up
documents and reports use, and the bulk operations of the FX rates screen (copy to a new date, CSV
upload).

The look-up (`rate`), for one unit of `from_` in `to` on a date:
  1. the same currency: 1;
  2. the customer's own rates for the pair (when a customer is given), then the global ones: the
     latest with effective_on on or before the date; where only the other direction exists, its
     inverse (1 / rate, rounded to 10 places);
  3. otherwise through the base currency (from -> base x base -> to, each found as in 2);
  4. none at all: Invalid naming the pair and the date.
A rate older than FX_STALE_DAYS on that date is still used, marked stale.

Writes check can_add / can_edit / can_delete on the FX rates screen (a customer's own rates: on its
screen, and the customer through the user's scope), then the field rules, then commit (the unique
(pair, date) constraint is the backstop for a race).
"""
import csv
import io
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.models import CustomerFxRate, FxRate
from app.services import fields, permissions
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import get_customer
from app.services.settings import settings

VIEW = "FxRateView"
CUSTOMER_VIEW = "CustomerFxRateView"
PLACES = Decimal("1E-10")  # the rate column's ten decimals
MAX_RATE = Decimal("1E10")  # Numeric(20, 10): ten digits before the point
MAX_UPLOAD_ROWS = 5000
MAX_UPLOAD_CHARS = 512 * 1024  # the screen's file limit, for the API's text too
HEADER = ["from", "to", "rate", "date"]


@dataclass(frozen=True)
class Found:
    """A rate found for a pair on a date: `source` says where it came from ("same currency",
    "customer", "global", "customer inverse", "global inverse", "via GBP")."""

    rate: Decimal
    effective_on: date
    source: str
    stale: bool


def _round(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def _stale(effective_on: date, on: date) -> bool:
    return (on - effective_on).days > settings.fx_stale_days


def _latest(session: Session, model, from_: str, to: str, on: date, customer_id) -> tuple[Decimal, date] | None:
    stmt = select(model.rate, model.effective_on).where(
        model.from_currency == from_, model.to_currency == to, model.effective_on <= on)
    if model is CustomerFxRate:
        stmt = stmt.where(CustomerFxRate.customer_id == customer_id)
    row = session.execute(stmt.order_by(model.effective_on.desc()).limit(1)).first()
    return (row.rate, row.effective_on) if row else None


def _pair(session: Session, from_: str, to: str, on: date, customer_id) -> Found | None:
    """The pair's own rate (or its inverse): the customer's first, then the global one."""
    sources = ([(CustomerFxRate, "customer")] if customer_id is not None else []) + [(FxRate, "global")]
    for model, name in sources:
        direct = _latest(session, model, from_, to, on, customer_id)
        if direct:
            return Found(direct[0], direct[1], name, _stale(direct[1], on))
        inverse = _latest(session, model, to, from_, on, customer_id)
        if inverse:
            return Found(_round(1 / inverse[0]), inverse[1], f"{name} inverse", _stale(inverse[1], on))
    return None


def rate(session: Session, from_: str, to: str, on: date, customer_id: int | None = None) -> Found:
    """How many `to` one `from_` buys on `on` (see the module's docstring); Invalid when no rate,
    direct, inverse or through the base currency, is known on or before that date."""
    if from_ == to:
        return Found(Decimal(1), on, "same currency", False)
    found = _pair(session, from_, to, on, customer_id)
    if found:
        return found
    base = settings.base_currency
    if base not in (from_, to):
        first, second = _pair(session, from_, base, on, customer_id), _pair(session, base, to, on, customer_id)
        if first and second:
            return Found(_round(first.rate * second.rate), min(first.effective_on, second.effective_on),
                         f"via {base}", first.stale or second.stale)
    raise Invalid({"rate": f"No FX rate from {from_} to {to} on or before {on.isoformat()}."})


class GlobalRates:
    """The global look-up (`rate` without a customer) for one pair on many dates, with the pair's
    rates read once (and the base currency's legs, when needed) instead of a query per date: the
    same answers as `rate`, for a report that values amounts dated across years."""

    def __init__(self, session: Session, from_: str, to: str):
        self.from_, self.to, self.base = from_, to, settings.base_currency
        wanted = {(from_, to), (to, from_)}
        if self.base not in (from_, to):
            wanted |= {(from_, self.base), (self.base, from_), (self.base, to), (to, self.base)}
        self.series: dict[tuple[str, str], list[tuple[date, Decimal]]] = {pair: [] for pair in wanted}
        rows = session.execute(select(FxRate.from_currency, FxRate.to_currency, FxRate.effective_on, FxRate.rate)
                               .where(tuple_(FxRate.from_currency, FxRate.to_currency).in_(list(wanted)))
                               .order_by(FxRate.effective_on))
        for from_currency, to_currency, effective_on, value in rows:
            self.series[from_currency, to_currency].append((effective_on, value))

    def _latest(self, from_: str, to: str, on: date) -> tuple[Decimal, date] | None:
        series = self.series[from_, to]
        i = bisect_right(series, on, key=lambda row: row[0])
        return (series[i - 1][1], series[i - 1][0]) if i else None

    def _pair(self, from_: str, to: str, on: date) -> Found | None:
        direct = self._latest(from_, to, on)
        if direct:
            return Found(direct[0], direct[1], "global", _stale(direct[1], on))
        inverse = self._latest(to, from_, on)
        if inverse:
            return Found(_round(1 / inverse[0]), inverse[1], "global inverse", _stale(inverse[1], on))
        return None

    def on(self, day: date) -> Found:
        """As rate(session, from_, to, day): Invalid naming the pair and the date when none is known."""
        if self.from_ == self.to:
            return Found(Decimal(1), day, "same currency", False)
        found = self._pair(self.from_, self.to, day)
        if found:
            return found
        if self.base not in (self.from_, self.to):
            first, second = self._pair(self.from_, self.base, day), self._pair(self.base, self.to, day)
            if first and second:
                return Found(_round(first.rate * second.rate), min(first.effective_on, second.effective_on),
                             f"via {self.base}", first.stale or second.stale)
        raise Invalid({"rate": f"No FX rate from {self.from_} to {self.to} on or before {day.isoformat()}."})


def issued_rate(session: Session, currency: str, on: date, customer_id: int) -> tuple[Decimal | None, date | None]:
    """The rate to the base currency a document issued on `on` keeps, and that rate's date; (None,
    None) when none is known: a missing rate never stops a document being issued."""
    try:
        found = rate(session, currency, settings.base_currency, on, customer_id)
    except Invalid:
        return None, None
    return found.rate, found.effective_on


class IssuedRates:
    """issued_rate for many documents issued on one day (a billing run's invoices): the global rate of
    each currency read once, and a customer's own look-up (issued_rate) only for the customers that have
    rates of their own, found a chunk at a time (`with_own`). The same answers as issued_rate: a customer
    without rates of its own gets the global rate."""

    def __init__(self, session: Session, on: date):
        self.session, self.on = session, on
        self.global_: dict[str, tuple[Decimal | None, date | None]] = {}
        self.own: set[int] = set()

    def with_own(self, customer_ids) -> None:
        """Which of `customer_ids` have rates of their own (one query); call before `of` for them."""
        from app.services.db import in_ids
        ids = list(customer_ids)
        self.own = set(self.session.scalars(select(CustomerFxRate.customer_id).distinct().where(
            in_ids(self.session, CustomerFxRate.customer_id, ids)))) if ids else set()

    def of(self, currency: str, customer_id: int) -> tuple[Decimal | None, date | None]:
        if currency == settings.base_currency:
            return Decimal(1), self.on
        if customer_id in self.own:
            return issued_rate(self.session, currency, self.on, customer_id)
        if currency not in self.global_:
            self.global_[currency] = issued_rate(self.session, currency, self.on, None)
        return self.global_[currency]


# ---- the field rules ---------------------------------------------------------------------------
def _currency(errors: FieldErrors, name: str, value, label: str) -> str | None:
    if value in (None, "") or not str(value).strip():
        errors.add(name, f"{label} currency is required.")
        return None
    return fields.currency(errors, name, str(value).strip(), "")


def _rate_value(errors: FieldErrors, value) -> Decimal | None:
    number = fields.decimal_number(value)
    if number is None:
        errors.add("rate", "Rate must be a number, e.g. 1.1650.")
    elif number <= 0:
        errors.add("rate", "Rate must be more than zero.")
    elif number >= MAX_RATE:  # first: quantizing 30 digits is beyond Decimal's precision
        errors.add("rate", "Rate is too large.")
    elif number != number.quantize(PLACES):
        errors.add("rate", "Rate can have at most 10 decimals.")
    else:
        return number
    return None


def _clean(data: dict, current=None) -> tuple[FieldErrors, dict]:
    """The fields of a rate (from a form, an upload row): every error collected, not raised."""
    errors = FieldErrors()

    def value(key):
        return data[key] if key in data else getattr(current, key, None)

    from_ = _currency(errors, "from_currency", value("from_currency"), "From")
    to = _currency(errors, "to_currency", value("to_currency"), "To")
    if from_ and to and from_ == to:
        errors.add("to_currency", "From and to must be different currencies.")
    number = _rate_value(errors, value("rate"))
    effective_on = fields.iso_date(value("effective_on"))
    if effective_on is None:
        errors.add("effective_on", "Effective date must be a date written YYYY-MM-DD.")
    return errors, {"from_currency": from_, "to_currency": to, "rate": number, "effective_on": effective_on}


def _existing(session: Session, model, values: dict, customer_id=None):
    stmt = select(model).where(model.from_currency == values["from_currency"],
                               model.to_currency == values["to_currency"],
                               model.effective_on == values["effective_on"])
    if model is CustomerFxRate:
        stmt = stmt.where(CustomerFxRate.customer_id == customer_id)
    return session.scalars(stmt).first()


def _checked(session: Session, model, data: dict, current=None, customer_id=None) -> dict:
    errors, values = _clean(data, current)
    if "effective_on" not in errors and "from_currency" not in errors and "to_currency" not in errors:
        other = _existing(session, model, values, customer_id)
        if other is not None and other is not current:
            errors.add("effective_on", f"A {values['from_currency']}/{values['to_currency']} rate for "
                                       f"{values['effective_on'].isoformat()} already exists: edit that one.")
    errors.raise_if_any()
    return values


def _get(session: Session, model, rate_id):
    number = fields.record_id(rate_id)
    row = session.get(model, number) if number is not None else None
    if row is None:
        raise NotFound("No such FX rate.")
    return row


# ---- global rates ------------------------------------------------------------------------------
def create_rate(session: Session, actor, data: dict) -> FxRate:
    permissions.require(session, actor, ("can_add", VIEW), message="You may not add FX rates.")
    row = FxRate(**_checked(session, FxRate, data))
    session.add(row)
    commit(session)
    return row


def update_rate(session: Session, actor, rate_id, data: dict) -> FxRate:
    """Change a rate. Documents issued with it keep the rate they were issued with."""
    permissions.require(session, actor, ("can_edit", VIEW), message="You may not change FX rates.")
    row = _get(session, FxRate, rate_id)
    for key, value in _checked(session, FxRate, data, row).items():
        setattr(row, key, value)
    commit(session)
    return row


def delete_rates(session: Session, actor, ids) -> int:
    """Delete the rates with these ids (one, or the ticked ones); how many were deleted. Documents
    issued with them keep their rate."""
    permissions.require(session, actor, ("can_delete", VIEW), message="You may not delete FX rates.")
    numbers = {n for n in (fields.record_id(i) for i in ids) if n is not None}
    rows = list(session.scalars(select(FxRate).where(FxRate.id.in_(numbers)))) if numbers else []
    if not rows:
        raise NotFound("No such FX rate.")
    for row in rows:
        session.delete(row)
    commit(session)
    return len(rows)


def delete_rate(session: Session, actor, rate_id) -> None:
    delete_rates(session, actor, [rate_id])


@dataclass
class Copied:
    copied: list = field(default_factory=list)  # the new rates
    existing: list = field(default_factory=list)  # "USD/EUR": pairs that already had a rate that day


def copy_to_date(session: Session, actor, ids, new_date) -> Copied:
    """Copy the ticked rates to `new_date`; a pair that already has a rate that day is reported in
    `existing`, never duplicated (nor overwritten)."""
    permissions.require(session, actor, ("can_add", VIEW), message="You may not add FX rates.")
    on = fields.iso_date(new_date)
    if on is None:
        raise Invalid({"effective_on": "The new effective date must be a date written YYYY-MM-DD."})
    numbers = {n for n in (fields.record_id(i) for i in ids) if n is not None}
    rows = list(session.scalars(select(FxRate).where(FxRate.id.in_(numbers)).order_by(FxRate.from_currency,
                                                                                     FxRate.to_currency))) \
        if numbers else []
    if not rows:
        raise NotFound("None of the ticked FX rates can be found.")
    result, seen = Copied(), set()
    for row in rows:
        pair = (row.from_currency, row.to_currency)
        name = f"{row.from_currency}/{row.to_currency}"
        if pair in seen or _existing(session, FxRate, {"from_currency": pair[0], "to_currency": pair[1],
                                                       "effective_on": on}) is not None:
            if name not in result.existing:
                result.existing.append(name)
            continue
        seen.add(pair)
        copy = FxRate(from_currency=row.from_currency, to_currency=row.to_currency, rate=row.rate, effective_on=on)
        session.add(copy)
        result.copied.append(copy)
    commit(session)
    return result


# ---- CSV upload --------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadRow:
    line: int
    from_currency: str
    to_currency: str
    rate: Decimal
    effective_on: date
    change: str  # "new", "changed", "unchanged"
    old_rate: Decimal | None = None


@dataclass
class Upload:
    rows: list = field(default_factory=list)  # UploadRow, in the file's order
    errors: list = field(default_factory=list)  # (line number, message)

    def count(self, change: str) -> int:
        return sum(1 for r in self.rows if r.change == change)


def _read_upload(session: Session, csv_text: str) -> tuple[Upload, dict]:
    result, existing, seen = Upload(), {}, {}
    if len(csv_text or "") > MAX_UPLOAD_CHARS:
        result.errors.append((1, f"The file is too large: at most {MAX_UPLOAD_CHARS // 1024} KB."))
        return result, existing
    try:
        lines = list(csv.reader(io.StringIO(csv_text or "")))
    except csv.Error as e:  # a cell beyond the csv module's limit, a NUL byte...
        result.errors.append((1, f"The file cannot be read as CSV ({e})."))
        return result, existing
    for number, cells in enumerate(lines, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if number == 1 and [c.lower() for c in cells] == HEADER:
            continue
        if len(result.rows) + len(result.errors) >= MAX_UPLOAD_ROWS:
            result.errors.append((number, f"A file can have at most {MAX_UPLOAD_ROWS} rates."))
            break
        if len(cells) != 4:
            result.errors.append((number, "Expected 4 columns: from, to, rate, date."))
            continue
        errors, values = _clean(dict(zip(("from_currency", "to_currency", "rate", "effective_on"), cells)))
        if errors.errors:
            result.errors.append((number, " ".join(m for ms in errors.errors.values() for m in ms)))
            continue
        key = (values["from_currency"], values["to_currency"], values["effective_on"])
        if key in seen:
            result.errors.append((number, f"Line {seen[key]} already has the {key[0]}/{key[1]} rate for "
                                          f"{key[2].isoformat()}."))
            continue
        seen[key] = number
        row = _existing(session, FxRate, values)
        if row is None:
            change, old = "new", None
        else:
            existing[key] = row
            change, old = ("unchanged" if row.rate == values["rate"] else "changed"), row.rate
        result.rows.append(UploadRow(number, *key[:2], values["rate"], key[2], change, old))
    if not result.rows and not result.errors:
        result.errors.append((1, "The file has no rates: one a line, from,to,rate,date."))
    return result, existing


def upload(session: Session, actor, csv_text: str, dry_run: bool) -> Upload:
    """Rates from CSV rows `from,to,rate,date` (a header row of those words is skipped). With
    `dry_run`: what would change (new / changed / unchanged) and each bad row's line number and
    message, nothing written. Without: all or nothing: any bad row raises Invalid (the lines'
    messages under "csv") and nothing is written; else the new rates are added and the changed ones
    changed, committed at once."""
    permissions.require(session, actor, ("can_add", VIEW), message="You may not add FX rates.")
    result, existing = _read_upload(session, csv_text)
    if dry_run:
        return result
    if result.errors:
        raise Invalid({"csv": [f"Line {n}: {m}" for n, m in result.errors]},
                      message="Nothing was uploaded: correct these lines first.")
    if result.count("changed"):
        permissions.require(session, actor, ("can_edit", VIEW), message="You may not change FX rates.")
    for row in result.rows:
        key = (row.from_currency, row.to_currency, row.effective_on)
        if row.change == "new":
            session.add(FxRate(from_currency=row.from_currency, to_currency=row.to_currency, rate=row.rate,
                               effective_on=row.effective_on))
        elif row.change == "changed":
            existing[key].rate = row.rate
    commit(session)
    return result


# ---- a customer's own rates --------------------------------------------------------------------
def create_customer_rate(session: Session, actor, customer_id, data: dict) -> CustomerFxRate:
    permissions.require(session, actor, ("can_add", CUSTOMER_VIEW), message="You may not add FX rates.")
    customer = get_customer(session, actor, customer_id)
    row = CustomerFxRate(customer_id=customer.id, **_checked(session, CustomerFxRate, data, None, customer.id))
    session.add(row)
    commit(session)
    return row


def get_customer_rate(session: Session, actor, rate_id) -> CustomerFxRate:
    """A customer's own rate, within the user's scope (missing and not theirs look the same)."""
    row = _get(session, CustomerFxRate, rate_id)
    try:
        get_customer(session, actor, row.customer_id)
    except NotFound:
        raise NotFound("No such FX rate.") from None
    return row


def update_customer_rate(session: Session, actor, rate_id, data: dict) -> CustomerFxRate:
    permissions.require(session, actor, ("can_edit", CUSTOMER_VIEW), message="You may not change FX rates.")
    row = get_customer_rate(session, actor, rate_id)
    data = {k: v for k, v in data.items() if k != "customer_id"}  # a rate stays with its customer
    for key, value in _checked(session, CustomerFxRate, data, row, row.customer_id).items():
        setattr(row, key, value)
    commit(session)
    return row


def delete_customer_rate(session: Session, actor, rate_id) -> None:
    permissions.require(session, actor, ("can_delete", CUSTOMER_VIEW), message="You may not delete FX rates.")
    session.delete(get_customer_rate(session, actor, rate_id))
    commit(session)
