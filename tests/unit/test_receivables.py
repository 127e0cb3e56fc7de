"""The Receivables report (services/billing/receivables.py): outstanding per currency (open invoices
less unallocated credit) and in the base currency (GBP) at each document's stored rate and at
today's rate; a missing rate named, never a zero; a reseller's user its own customers only."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PaymentMethod, TaxRate
from app.services.billing import fx, invoices, payments, receivables
from app.services.settings import settings
from tests import factories as f

D = Decimal
TODAY = date.today()
LAST_MONTH = TODAY - timedelta(days=20)


def key():
    return str(uuid.uuid4())


def issued(customer, price, issue_date=None):
    admin = f.user("admin")
    data = {"lines": [{"description": "Window clean", "quantity": 1, "unit_price": price,
                       "tax_rate_id": db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))}]}
    if issue_date:
        data["issue_date"] = issue_date.isoformat()
    draft = invoices.create_draft(db.session, admin, customer.id, data, key())
    return invoices.issue(db.session, admin, draft.id, key())


def draft(customer, price):
    data = {"lines": [{"description": "Draft", "quantity": 1, "unit_price": price,
                       "tax_rate_id": db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))}]}
    return invoices.create_draft(db.session, f.user("admin"), customer.id, data, key())


def pay(invoice, amount, on=None):
    method = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    return payments.record_payment(db.session, f.user("admin"), invoice.id, {
        "amount": amount, "method_id": method, "received_on": (on or TODAY).isoformat()}, key())


def credit(customer, amount, on=None):
    return payments.add_credit(db.session, f.user("admin"), customer.id, {
        "amount": amount, "reason": "Goodwill", "received_on": (on or TODAY).isoformat()}, key())


def rate(from_, to, value, on):
    fx.create_rate(db.session, f.user("admin"), {"from_currency": from_, "to_currency": to, "rate": value,
                                                "effective_on": on.isoformat()})


def by_currency(report):
    return {line.currency: line for line in report.lines}


@pytest.fixture
def books(ctx, resellers):
    """GBP (base) and USD customers of Reseller A, a EUR one of Reseller B. USD was 0.80 GBP when
    its invoices were issued (20 days ago) and is 0.75 today."""
    assert settings.base_currency == "GBP"
    rate("USD", "GBP", "0.80", LAST_MONTH)
    rate("EUR", "GBP", "0.85", LAST_MONTH)
    ada = f.customer(first_name="Ada", surname="Pound", reseller_id=resellers["Reseller A"])
    sam = f.customer(first_name="Sam", surname="Dollar", currency="USD", reseller_id=resellers["Reseller A"])
    eve = f.customer(first_name="Eve", surname="Euro", currency="EUR", reseller_id=resellers["Reseller B"])
    part = issued(ada, "100.00", LAST_MONTH)
    pay(part, "40.00")  # part paid: 60 outstanding
    paid = issued(ada, "25.00", LAST_MONTH)
    pay(paid, "25.00")  # paid: not outstanding
    void = issued(ada, "70.00", LAST_MONTH)
    invoices.void(db.session, f.user("admin"), void.id, "Wrong customer", key())
    draft(ada, "500.00")  # a draft owes nothing
    credit(ada, "15.00")  # account credit, netted
    issued(sam, "200.00", LAST_MONTH)
    usd_part = issued(sam, "100.00", LAST_MONTH)
    pay(usd_part, "130.00")  # 30 over: account credit, received today
    issued(eve, "10.00", LAST_MONTH)
    rate("USD", "GBP", "0.75", TODAY)
    return {"ada": ada, "sam": sam, "eve": eve}


def test_outstanding_per_currency_is_open_invoices_less_unallocated_credit(books):
    lines = by_currency(receivables.report(db.session, f.user("finance")))
    assert list(lines) == ["GBP", "EUR", "USD"]  # the base currency first
    gbp, usd = lines["GBP"], lines["USD"]
    assert (gbp.invoices, gbp.invoice_count, gbp.credit, gbp.net) == (D("60.00"), 1, D("15.00"), D("45.00"))
    assert (usd.invoices, usd.invoice_count, usd.credit, usd.net) == (D("200.00"), 1, D("30.00"), D("170.00"))
    assert lines["EUR"].net == D("10.00")


def test_the_base_currency_total_at_the_stored_rates_and_at_todays_differ_when_the_rate_moved(books):
    report = receivables.report(db.session, f.user("admin"))
    usd = by_currency(report)["USD"]
    # The invoice keeps 0.80 (its issue); the credit arrived today, at today's 0.75: 200*0.80 - 30*0.75.
    assert usd.at_stored.amount == D("137.50")
    assert usd.at_today.amount == D("127.50") and usd.at_today.rate.rate == D("0.75")
    assert report.dated == 1  # the USD credit keeps no rate: valued at its date's (GBP needs none)
    assert report.at_stored == D("45.00") + D("8.50") + D("137.50")
    assert report.at_today == D("45.00") + D("8.50") + D("127.50")
    assert report.stored_complete and report.today_complete


def test_a_currency_without_a_rate_today_is_named_missing_and_left_out_not_zero(ctx):
    yen = f.customer(first_name="Kenji", surname="Yen", currency="JPY")
    issued(yen, "1500")
    report = receivables.report(db.session, f.user("admin"))
    jpy = by_currency(report)["JPY"]
    assert jpy.invoices == D("1500") and jpy.at_today.amount is None and jpy.at_stored.amount is None
    assert any("JPY to GBP" in m for m in jpy.at_today.missing)
    assert not report.today_complete and report.at_today == 0


def test_a_rate_older_than_the_stale_setting_is_flagged(ctx):
    rate("USD", "GBP", "0.80", TODAY - timedelta(days=settings.fx_stale_days + 5))
    sam = f.customer(first_name="Sam", surname="Dollar", currency="USD")
    issued(sam, "10.00")
    usd = by_currency(receivables.report(db.session, f.user("admin")))["USD"]
    assert usd.at_today.amount == D("8.00") and usd.at_today.stale


def test_a_resellers_user_sees_its_own_customers_only(books):
    lines = by_currency(receivables.report(db.session, f.user("reseller_a")))
    assert set(lines) == {"GBP", "USD"}
    assert set(by_currency(receivables.report(db.session, f.user("reseller_b")))) == {"EUR"}
    assert receivables.report(db.session, f.user("reseller_none")).lines == []


def test_the_aged_totals_per_currency_are_the_aged_csvs_figures_summed(books):
    aged = {line.currency: line for line in receivables.aged(db.session, f.user("admin"), TODAY)}
    assert aged["GBP"].buckets[-1] == D("60.00") and aged["GBP"].customers == 1
    assert aged["USD"].buckets[-1] == D("200.00")
    # Before the payments: the whole of both USD invoices.
    earlier = {line.currency: line for line in receivables.aged(db.session, f.user("admin"), LAST_MONTH)}
    assert earlier["USD"].buckets[-1] == D("300.00")
    assert set(line.currency for line in receivables.aged(db.session, f.user("reseller_b"), TODAY)) == {"EUR"}


def test_the_report_reads_each_currencys_rates_once_however_many_days_its_credit_came_on(ctx):
    from sqlalchemy import event
    customer = f.customer(currency="EUR")
    rate("EUR", "GBP", "0.85", TODAY - timedelta(days=400))

    def statements(days):
        for day in range(days):
            credit(customer, "1.00", TODAY - timedelta(days=day))
        seen = []
        listen = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listen)
        try:
            report = receivables.report(db.session, f.user("admin"))
        finally:
            event.remove(db.engine, "before_cursor_execute", listen)
        return len(seen), by_currency(report)["EUR"]
    few, line = statements(3)
    many, line = statements(30)  # 33 days of credit now
    assert many == few and line.credit == Decimal("33.00") and line.at_stored.amount == Decimal("-28.05")


@pytest.mark.parametrize("pairs", [
    [("EUR", "GBP", "0.85", 30), ("EUR", "GBP", "0.86", 10)],  # direct, two dates
    [("GBP", "EUR", "1.2", 25)],  # only the inverse
    [("EUR", "GBP", "0.85", 40), ("GBP", "EUR", "1.1", 5)],  # direct wins over a newer inverse
    [("USD", "GBP", "0.79", 20), ("GBP", "EUR", "1.17", 15)],  # USD -> EUR through GBP
])
def test_the_reports_rates_are_the_look_ups_own_on_every_date(ctx, pairs):
    for from_, to, value, days_ago in pairs:
        rate(from_, to, value, TODAY - timedelta(days=days_ago))
    for from_, to in {(p[0], p[1]) for p in pairs} | {("USD", "EUR"), ("EUR", "GBP"), ("JPY", "GBP")}:
        rates = fx.GlobalRates(db.session, from_, to)
        for days_ago in range(0, 45, 3):
            day = TODAY - timedelta(days=days_ago)
            try:
                expected = fx.rate(db.session, from_, to, day)
            except Exception as e:  # noqa: BLE001
                with pytest.raises(type(e)) as error:
                    rates.on(day)
                assert str(error.value) == str(e)
                continue
            assert rates.on(day) == expected, (from_, to, day)
