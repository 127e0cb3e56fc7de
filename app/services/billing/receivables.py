"""The Receivables report: what the customers in a user's scope owe, per currency and in the
company's base currency (settings.base_currency, BASE_CURRENCY).

Per currency (one grouped query each, never a loop over invoices):
  - invoices outstanding: the open invoices' (issued, part paid) stored `outstanding`;
  - unallocated credit: every payment's and credit's unallocated rest (account credit);
  - net: invoices outstanding less unallocated credit.
Each net in the base currency twice:
  - at each document's stored rate: an invoice's `fx_rate` (kept when it was issued). A source of
    credit keeps no rate, nor does an invoice issued while no rate was known: those are valued at
    the global rate on their own date (received on, issued on), and the report says how many;
  - at today's rate (fx.rate with today's date, the global rates).
A currency with no rate is shown as missing, the pair and date named, and left out of the base
total, which then says it is incomplete; a rate older than FX_STALE_DAYS is flagged stale. Each
currency's figure is rounded once to the base currency's minor units; the totals are the sums of
those rounded figures.

The aged buckets per currency as at a chosen date are exports.aged_totals (the aged CSV's own
statement) summed by currency.

Realised exchange gains and losses (the difference between the rate an invoice was issued at and
the rate it was paid at) are out of scope: nothing here books or reports them.

Reading only: no permission beyond the screen's (views/receivables.py); the rows are the user's
scope (services/scope.py), a reseller's user its own customers only.
"""
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.models import Invoice, Payment
from app.models.money import OPEN_STATUSES
from app.services import money
from app.services.billing import exports, fx
from app.services.errors import Invalid
from app.services.scope import customer_ids_in_scope, is_scoped
from app.services.settings import settings

BUCKETS = ("Not yet due", "1-30 days", "31-60 days", "61-90 days", "Over 90 days", "Total")
ZERO = Decimal(0)


@dataclass
class InBase:
    """One currency's net in the base currency by one way of valuing it."""

    amount: Decimal | None = None  # None: a rate is missing
    missing: list[str] = field(default_factory=list)  # "No FX rate from USD to GBP on or before ..."
    stale: list[str] = field(default_factory=list)  # "USD/GBP of 2026-01-02"
    rate: fx.Found | None = None  # today's: the one rate used


@dataclass
class CurrencyLine:
    currency: str
    invoices: Decimal = ZERO  # open invoices' outstanding
    invoice_count: int = 0
    credit: Decimal = ZERO  # unallocated credit
    credit_count: int = 0
    at_stored: InBase = field(default_factory=InBase)
    at_today: InBase = field(default_factory=InBase)

    @property
    def net(self) -> Decimal:
        return self.invoices - self.credit


@dataclass
class Report:
    base: str
    today: date
    lines: list[CurrencyLine]
    dated: int  # documents valued at their own date's rate (no stored rate)

    def _total(self, which: str) -> Decimal:
        return sum((getattr(line, which).amount or ZERO for line in self.lines), ZERO)

    def _complete(self, which: str) -> bool:
        return all(getattr(line, which).amount is not None for line in self.lines)

    @property
    def at_stored(self) -> Decimal:
        return self._total("at_stored")

    @property
    def at_today(self) -> Decimal:
        return self._total("at_today")

    @property
    def stored_complete(self) -> bool:
        return self._complete("at_stored")

    @property
    def today_complete(self) -> bool:
        return self._complete("at_today")


@dataclass
class AgedLine:
    currency: str
    customers: int
    buckets: list[Decimal]  # BUCKETS' order; the last is the total


def _scoped(stmt, model, user):
    """Only the customers `user` may see; no join at all for a user who sees every customer."""
    if is_scoped(user):
        stmt = stmt.where(model.customer_id.in_(customer_ids_in_scope(user)))
    return stmt


class _Rates:
    """Global look-ups to the base currency: each currency's rates read once (fx.GlobalRates), each
    (currency, date) answered once."""

    def __init__(self, session: Session, base: str):
        self.session, self.base, self.pairs, self.found = session, base, {}, {}

    def on(self, currency: str, day: date) -> fx.Found | str:
        """The rate, or the message naming the missing pair and date."""
        if (currency, day) not in self.found:
            if currency not in self.pairs:
                self.pairs[currency] = fx.GlobalRates(self.session, currency, self.base)
            try:
                self.found[currency, day] = self.pairs[currency].on(day)
            except Invalid as e:
                self.found[currency, day] = " ".join(e.errors.get("rate", [])) or e.messages
        return self.found[currency, day]


def _note(line: InBase, found: fx.Found | str, amount: Decimal) -> Decimal | None:
    """`amount` at the rate found (None and the message when there is none); a stale one noted."""
    if isinstance(found, str):
        if found not in line.missing:
            line.missing.append(found)
        return None
    if found.stale:
        said = f"{found.source} rate of {found.effective_on.isoformat()}"
        if said not in line.stale:
            line.stale.append(said)
    return amount * found.rate


def report(session: Session, user, today: date | None = None) -> Report:
    """Outstanding per currency and in the base currency for the customers `user` may see."""
    today = today or date.today()
    base = settings.base_currency
    rates = _Rates(session, base)
    lines: dict[str, CurrencyLine] = {}
    stored: dict[str, Decimal | None] = {}  # exact, rounded once at the end
    dated = 0

    def line_of(currency: str) -> CurrencyLine:
        if currency not in lines:
            lines[currency] = CurrencyLine(currency)
            stored[currency] = ZERO
        return lines[currency]

    def add_stored(currency: str, value: Decimal | None) -> None:
        stored[currency] = None if value is None or stored[currency] is None else stored[currency] + value

    # Open invoices, grouped by their stored rate (a few distinct rates a currency): the product is
    # taken in Decimal here, not as a float product in SQLite. Those without a stored rate by date.
    unrated_on = case((Invoice.fx_rate.is_(None), Invoice.issue_date))
    invoices = _scoped(select(Invoice.currency, Invoice.fx_rate, unrated_on.label("on"),
                              func.sum(Invoice.outstanding), func.count())
                       .where(Invoice.status.in_(OPEN_STATUSES)), Invoice, user) \
        .group_by(Invoice.currency, Invoice.fx_rate, unrated_on)
    for currency, rate, on, outstanding, count in session.execute(invoices):
        line = line_of(currency)
        line.invoices += outstanding
        line.invoice_count += count
        if currency == base:
            add_stored(currency, outstanding)
        elif rate is not None:
            add_stored(currency, outstanding * rate)
        else:
            dated += count
            add_stored(currency, _note(line.at_stored, rates.on(currency, on), outstanding))

    # Account credit: sources keep no rate, so each is valued at the rate of the day it arrived.
    # (The base currency's needs no rate: its credit is one row, not one a day.)
    dated_on = case((Payment.currency != base, Payment.received_on))
    credit = _scoped(select(Payment.currency, dated_on.label("on"), func.sum(Payment.unallocated), func.count())
                     .where(Payment.unallocated > 0), Payment, user) \
        .group_by(Payment.currency, dated_on)
    for currency, received_on, unallocated, count in session.execute(credit):
        line = line_of(currency)
        line.credit += unallocated
        line.credit_count += count
        if currency == base:
            add_stored(currency, -unallocated)
        else:
            dated += count
            value = _note(line.at_stored, rates.on(currency, received_on), unallocated)
            add_stored(currency, None if value is None else -value)

    for currency, line in lines.items():
        line.invoices, line.credit = money.quantize(line.invoices, currency), money.quantize(line.credit, currency)
        if stored[currency] is not None:
            line.at_stored.amount = money.quantize(stored[currency], base)
        found = rates.on(currency, today)
        value = _note(line.at_today, found, line.net)
        if value is not None:
            line.at_today.amount, line.at_today.rate = money.quantize(value, base), found
    ordered = sorted(lines.values(), key=lambda line: (line.currency != base, line.currency))
    return Report(base=base, today=today, lines=ordered, dated=dated)


def aged(session: Session, user, as_of: date) -> list[AgedLine]:
    """The aged receivables' buckets summed per currency as at the end of `as_of` (the aged CSV's
    figures: exports.aged_totals), base currency first."""
    totals = exports.aged_totals(user, as_of)
    stmt = (select(totals.c.currency, func.count(), *(func.sum(totals.c[f"b{i}"]) for i in range(exports.AGED_BUCKETS)))
            .group_by(totals.c.currency))
    found = [AgedLine(currency, customers, [money.quantize(b or ZERO, currency) for b in buckets])
             for currency, customers, *buckets in session.execute(stmt)]
    return sorted(found, key=lambda line: (line.currency != settings.base_currency, line.currency))
