"""Recurring billing (services/billing/recurring.py), time-travelled with an injected "today": one invoice
per customer for its services due, each period billed once (a run twice, a catch-up), month ends, pro
rata, suspended and cancelled services, currencies of 0 and 3 decimals, drafts, e-mails with the invoice
PDF, account credit used automatically, dormant/archived/blocked customers skipped, and a run's invoice
written exactly as invoices.create_draft(issue_now=True) writes the same lines."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (AuditEntry, CompanySettings, Customer, CustomerService, Invoice, InvoiceLine, LedgerEntry,
                        Message, PaymentMethod, TaxRate)
from app.models.comms import MessageAttachment
from app.models.recurring import BillingRun, ServicePeriod
from app.services.billing import invoices, payments, recurring
from app.services.messages import delivery
from tests import factories
from tests.roles import role_user

JAN = date(2027, 1, 1)


def key():
    return str(uuid.uuid4())


def finance():
    return factories.user("finance")


def settings(**values):
    row = db.session.get(CompanySettings, 1)
    if row is None:
        row = CompanySettings(id=1)
        db.session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    db.session.commit()


def customer(currency="GBP", status="active", email=True, **fields):
    n = uuid.uuid4().hex[:8]
    made = factories.customer(currency=currency, **({"email": f"c{n}@example.com"} if email else {}), **fields)
    if status != "active":
        db.session.execute(update(Customer).where(Customer.id == made.id).values(status=status))
        db.session.commit()
    return made


def zero_rate():
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))


def service(owner, name="Broadband 40 Mb", price="30.00", cycle="monthly", start=JAN, next_on=None, day=None,
            status="active", ends_on=None, tax_rate_id="zero"):
    made = CustomerService(customer_id=owner.id, name=name, price=Decimal(price), billing_cycle=cycle,
                           status=status, started_on=start, next_billing_on=next_on or start,
                           billing_day=day or (next_on or start).day, ends_on=ends_on,
                           tax_rate_id=zero_rate() if tax_rate_id == "zero" else tax_rate_id)
    db.session.add(made)
    db.session.commit()
    return made


def run(today: date) -> BillingRun:
    return recurring.run(db.session, today, "test", current_app.config)


def lines_of(owner) -> list[tuple[str, Decimal]]:
    return [(d, n) for d, n in db.session.execute(
        select(InvoiceLine.description, InvoiceLine.net).join(Invoice).where(Invoice.customer_id == owner.id)
        .order_by(Invoice.id, InvoiceLine.position))]


def invoices_of(owner) -> list[Invoice]:
    return list(db.session.scalars(select(Invoice).where(Invoice.customer_id == owner.id).order_by(Invoice.id)
                                   .execution_options(populate_existing=True)))


@pytest.fixture(autouse=True)
def quiet_email(ctx):
    settings(billing_email=False)
    yield


def test_one_invoice_per_customer_for_all_its_services_due_one_line_each(ctx):
    owner = customer()
    service(owner, "Broadband 40 Mb", "30.00")
    service(owner, "Static IP", "5.00")
    report = run(JAN)
    [invoice] = invoices_of(owner)
    assert lines_of(owner) == [("Broadband 40 Mb, 1\u201331 Jan 2027", Decimal("30.00")),
                               ("Static IP, 1\u201331 Jan 2027", Decimal("5.00"))]
    assert (invoice.status, invoice.number, invoice.issue_date, invoice.total) == ("issued", "INV-1", JAN,
                                                                                   Decimal("35.00"))
    assert db.session.get(Customer, owner.id).balance == Decimal("35.00")
    assert (report.status, report.invoices, report.lines, report.totals) == ("finished", 1, 2, {"GBP": "35.00"})
    assert [s.next_billing_on for s in db.session.scalars(select(CustomerService).order_by(CustomerService.id))] == \
        [date(2027, 2, 1)] * 2


def test_a_run_twice_the_same_day_bills_nothing_the_second_time(ctx):
    owner = customer()
    service(owner)
    run(JAN)
    second = run(JAN)
    assert (second.invoices, second.lines) == (0, 0)
    assert len(invoices_of(owner)) == 1 and db.session.get(Customer, owner.id).balance == Decimal("30.00")


def test_runs_on_consecutive_days_bill_each_month_once(ctx):
    owner = customer()
    service(owner)
    for day in range(1, 32):
        run(date(2027, 1, day))
    run(date(2027, 2, 1))
    assert [d for d, _ in lines_of(owner)] == ["Broadband 40 Mb, 1\u201331 Jan 2027", "Broadband 40 Mb, 1\u201328 Feb 2027"]


def test_a_catch_up_after_three_missed_months_bills_each_period_once_on_one_invoice(ctx):
    owner = customer()
    made = service(owner)
    run(date(2027, 3, 15))
    assert [d for d, _ in lines_of(owner)] == ["Broadband 40 Mb, 1\u201331 Jan 2027", "Broadband 40 Mb, 1\u201328 Feb 2027",
                                               "Broadband 40 Mb, 1\u201331 Mar 2027"]
    assert len(invoices_of(owner)) == 1
    assert db.session.get(CustomerService, made.id).next_billing_on == date(2027, 4, 1)
    assert db.session.scalar(select(ServicePeriod.id).where(ServicePeriod.service_id == made.id,
                                                            ServicePeriod.invoice_line_id.is_(None))) is None


def test_monthly_on_the_31st_bills_the_last_day_of_february_in_leap_and_other_years(ctx):
    owner = customer()
    service(owner, "Hosting", start=date(2027, 1, 31))
    run(date(2027, 3, 1))
    run(date(2028, 2, 1))  # a catch-up over the year
    run(date(2028, 2, 29))
    found = [d for d, _ in lines_of(owner)]
    assert found[:2] == ["Hosting, 31 Jan \u2013 27 Feb 2027", "Hosting, 28 Feb \u2013 30 Mar 2027"]
    assert found[-2:] == ["Hosting, 31 Jan \u2013 28 Feb 2028", "Hosting, 29 Feb \u2013 30 Mar 2028"]
    assert len(found) == len(set(found)) == 14


def test_quarterly_and_annual_cycles(ctx):
    owner = customer()
    service(owner, "Support", "90.00", cycle="quarterly", start=date(2027, 1, 31))
    service(owner, "Domain", "12.00", cycle="annually", start=date(2028, 2, 29))
    run(date(2029, 3, 1))
    descriptions = [d for d, _ in lines_of(owner)]
    assert "Support, 31 Jan \u2013 29 Apr 2027" in descriptions and "Support, 30 Apr \u2013 30 Jul 2027" in descriptions
    assert "Domain, 29 Feb 2028 \u2013 27 Feb 2029" in descriptions and "Domain, 28 Feb 2029 \u2013 27 Feb 2030" in descriptions
    assert sum(1 for d in descriptions if d.startswith("Support")) == 9  # Jan 2027 .. Jan 2029


def test_pro_rata_bills_the_active_part_of_a_period_started_mid_way(ctx):
    settings(billing_pro_rata=True, billing_email=False)
    owner = customer()
    service(owner, "Broadband", "31.00", start=date(2027, 1, 17), next_on=JAN, day=1)
    run(date(2027, 1, 17))
    assert lines_of(owner) == [("Broadband, 17\u201331 Jan 2027", Decimal("15.00"))]  # 0.4839 x 31.00 = 15.0009


def test_pro_rata_off_a_service_started_mid_period_bills_the_whole_period(ctx):
    owner = customer()
    service(owner, "Broadband", "31.00", start=date(2027, 1, 17), next_on=JAN, day=1)
    run(date(2027, 1, 17))
    assert lines_of(owner) == [("Broadband, 1\u201331 Jan 2027", Decimal("31.00"))]


def test_pro_rata_a_cancelled_service_bills_up_to_its_end_then_never_again(ctx):
    settings(billing_pro_rata=True, billing_email=False)
    owner = customer()
    made = service(owner, "Broadband", "28.00", start=date(2026, 1, 1), next_on=date(2027, 2, 1),
                   status="cancelled", ends_on=date(2027, 2, 15))
    run(date(2027, 3, 10))
    assert lines_of(owner) == [("Broadband, 1\u201314 Feb 2027", Decimal("14.00"))]
    assert db.session.get(CustomerService, made.id).next_billing_on is None
    assert run(date(2027, 4, 10)).invoices == 0


def test_a_cancelled_service_is_never_billed_without_pro_rata(ctx):
    owner = customer()
    made = service(owner, status="cancelled", ends_on=date(2027, 1, 15))
    report = run(date(2027, 2, 1))
    assert lines_of(owner) == [] and report.skipped == {recurring.CANCELLED: 1}
    assert db.session.get(CustomerService, made.id).next_billing_on is None


def test_a_service_ending_later_bills_whole_periods_up_to_its_end_without_pro_rata(ctx):
    owner = customer()
    made = service(owner, ends_on=date(2027, 2, 15))
    run(date(2027, 3, 10))
    assert [d for d, _ in lines_of(owner)] == ["Broadband 40 Mb, 1\u201331 Jan 2027", "Broadband 40 Mb, 1\u201328 Feb 2027"]
    assert db.session.get(CustomerService, made.id).next_billing_on is None


def test_a_suspended_service_is_billed_by_default_and_passed_over_when_the_setting_is_off(ctx):
    owner = customer(status="disabled")
    service(owner, status="suspended")
    run(JAN)
    assert len(lines_of(owner)) == 1
    settings(bill_suspended=False, billing_email=False)
    report = run(date(2027, 2, 1))
    assert len(lines_of(owner)) == 1 and report.skipped == {recurring.SUSPENDED: 1}
    assert db.session.scalar(select(CustomerService.next_billing_on)) == date(2027, 3, 1)


@pytest.mark.parametrize("status", ["dormant", "archived", "blocked"])
def test_dormant_archived_and_blocked_customers_are_skipped_with_the_reason(ctx, status):
    skipped = customer(status=status)
    service(skipped)
    service(skipped, "Installation", "49.99", cycle="one-off")
    billed = customer()
    service(billed)
    report = run(JAN)
    assert report.skipped == {status: 1} and report.invoices == 1
    assert invoices_of(skipped) == []
    # Not billed: the period passes over (its next billing date moves on), and the next run does not count
    # the customer again nor bill that period once it is back.
    assert db.session.scalar(select(CustomerService.next_billing_on).where(
        CustomerService.customer_id == skipped.id, CustomerService.billing_cycle == "monthly")) == date(2027, 2, 1)
    db.session.execute(update(Customer).where(Customer.id == skipped.id).values(status="active"))
    db.session.commit()
    run(date(2027, 2, 1))
    assert [d for d, _ in lines_of(skipped)] == ["Broadband 40 Mb, 1\u201328 Feb 2027", "Installation"]


def test_a_one_off_service_is_billed_once_by_its_name(ctx):
    owner = customer()
    made = service(owner, "Installation", "49.99", cycle="one-off", start=date(2027, 1, 10))
    run(date(2027, 1, 9))
    run(date(2027, 1, 10))
    run(date(2027, 2, 10))
    assert lines_of(owner) == [("Installation", Decimal("49.99"))]
    assert db.session.get(CustomerService, made.id).next_billing_on is None


@pytest.mark.parametrize("currency,price,total", [("JPY", "1234", "1234"), ("BHD", "12.345", "12.345")])
def test_currencies_with_0_and_3_decimals_round_to_their_minor_units(ctx, currency, price, total):
    settings(billing_pro_rata=True, billing_email=False)
    owner = customer(currency=currency)
    service(owner, "Line", price, start=date(2027, 1, 10), next_on=JAN, day=1)
    run(JAN)
    fraction = Decimal("0.7097")  # 22 / 31
    expected = (fraction * Decimal(price)).quantize(Decimal(1) if currency == "JPY" else Decimal("0.001"))
    [(_, net)] = lines_of(owner)
    assert net == expected and invoices_of(owner)[0].total == expected
    assert run(date(2027, 2, 1)).totals == {currency: total}


def test_each_invoice_keeps_the_rate_issuing_by_hand_keeps_the_customers_own_else_the_global(ctx):
    from app.models import CustomerFxRate, FxRate
    from app.services.billing import fx
    db.session.add_all([FxRate(from_currency="USD", to_currency="GBP", rate=Decimal("0.8"), effective_on=JAN),
                        FxRate(from_currency="GBP", to_currency="EUR", rate=Decimal("1.25"), effective_on=JAN)])
    own, plain, euro, none, base = (customer("USD"), customer("USD"), customer("EUR"), customer("CHF"),
                                    customer("GBP"))
    db.session.add(CustomerFxRate(customer_id=own.id, from_currency="USD", to_currency="GBP", rate=Decimal("0.75"),
                                  effective_on=JAN))
    db.session.commit()
    for owner in (own, plain, euro, none, base):
        service(owner)
    run(JAN)
    kept = {o.id: (invoices_of(o)[0].fx_rate, invoices_of(o)[0].fx_rate_on) for o in (own, plain, euro, none, base)}
    assert kept == {o.id: fx.issued_rate(db.session, o.currency, JAN, o.id) for o in (own, plain, euro, none, base)}
    assert [kept[o.id][0] for o in (own, plain, euro, none, base)] == \
        [Decimal("0.75"), Decimal("0.8"), Decimal("0.8"), None, Decimal(1)]


def test_tax_is_charged_at_the_services_rate_or_the_default(ctx):
    owner = customer()
    service(owner, "Taxed", "10.00", tax_rate_id=None)  # the default: Standard rate
    run(JAN)
    [invoice] = invoices_of(owner)
    standard = db.session.scalar(select(TaxRate.percent).where(TaxRate.is_default.is_(True)))
    assert invoice.tax_total == (Decimal("10.00") * standard / 100).quantize(Decimal("0.01"))
    assert invoice.lines[0].tax_name == "Standard rate"


def test_drafts_mode_leaves_drafts_and_posts_nothing(ctx):
    settings(billing_drafts=True, billing_email=True)
    owner = customer()
    service(owner)
    report = run(JAN)
    [invoice] = invoices_of(owner)
    assert (invoice.status, invoice.number, report.issued) == ("draft", None, False)
    assert db.session.scalar(select(LedgerEntry.id)) is None and db.session.scalar(select(Message.id)) is None
    assert db.session.get(Customer, owner.id).balance == 0
    assert run(JAN).invoices == 0  # the period is billed (by the draft)


def test_email_mode_writes_one_message_per_invoice_and_delivery_attaches_the_pdf_once(ctx, monkeypatch):
    settings(billing_email=True)
    owner = customer()
    service(owner)
    queued = []
    monkeypatch.setattr("app.jobs.tasks.queue_delivery", lambda ids: queued.extend(ids))
    run(JAN)
    [invoice] = invoices_of(owner)
    [message] = db.session.scalars(select(Message)).all()
    assert (message.attach_invoice_id, message.status, message.recipient) == (invoice.id, "queued", owner.email)
    assert f"invoice {invoice.number}" in message.body and queued == [message.id]
    renders = []
    real = delivery.Sender._attach_invoice

    def counting(self, m):
        renders.append(m.id)
        return real(self, m)
    monkeypatch.setattr(delivery.Sender, "_attach_invoice", counting)
    delivery.deliver(db.session, [message.id], current_app.config, runner="test")
    delivery.deliver(db.session, [message.id], current_app.config, runner="test")
    files = db.session.scalars(select(MessageAttachment).where(MessageAttachment.message_id == message.id)).all()
    assert [f.filename for f in files] == [f"invoice-{invoice.number}.pdf"] and renders == [message.id]
    assert files[0].content.startswith(b"%PDF")


def test_an_opted_out_customer_gets_its_invoice_e_mail_written_skipped(ctx):
    settings(billing_email=True)
    owner = customer(service_email=False)
    service(owner)
    run(JAN)
    [message] = db.session.scalars(select(Message)).all()
    assert message.status == "skipped" and message.skip_reason


def test_account_credit_is_used_automatically_when_the_customer_says_so(ctx):
    owner = customer()
    db.session.execute(update(Customer).where(Customer.id == owner.id).values(use_credit="automatic"))
    db.session.commit()
    cash = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    payments.record_external(db.session, finance(), owner.id, {"amount": "20.00", "method_id": cash,
                                                               "received_on": "2026-12-20"}, key())
    service(owner)
    run(JAN)
    [invoice] = invoices_of(owner)
    assert (invoice.status, invoice.outstanding) == ("part_paid", Decimal("10.00"))
    assert db.session.get(Customer, owner.id).balance == Decimal("10.00")


def test_account_credit_is_not_used_when_the_setting_asks(ctx):
    owner = customer()
    db.session.execute(update(Customer).where(Customer.id == owner.id).values(use_credit="ask"))
    db.session.commit()
    cash = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    payments.record_external(db.session, finance(), owner.id, {"amount": "20.00", "method_id": cash,
                                                               "received_on": "2026-12-20"}, key())
    service(owner)
    run(JAN)
    assert invoices_of(owner)[0].outstanding == Decimal("30.00")


def test_each_invoice_and_each_service_moved_on_is_audited(ctx):
    owner = customer()
    made = service(owner)
    run(JAN)
    [invoice] = invoices_of(owner)
    entries = db.session.execute(select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.changes)
                                 .where(AuditEntry.action.in_(("create", "update")),
                                        AuditEntry.entity.in_(("invoice", "service")),
                                        AuditEntry.customer_id == owner.id).order_by(AuditEntry.id)).all()
    by_entity = {(e, i): c for e, i, c in entries}
    assert by_entity[("invoice", invoice.id)]["number"] == [None, invoice.number]
    assert by_entity[("service", made.id)]["next_billing_on"] == ["2027-01-01", "2027-02-01"]


def test_the_plan_shows_what_a_run_would_bill_and_writes_nothing(ctx):
    owner = customer()
    service(owner, "Broadband", "30.00")
    dormant = customer(status="dormant")
    service(dormant)
    found = recurring.plan(db.session, date(2027, 2, 1), finance())
    [bill] = found.bills
    assert [(line.description, line.net) for line in bill.lines] == [("Broadband, 1\u201331 Jan 2027", Decimal("30.00")),
                                                                      ("Broadband, 1\u201328 Feb 2027", Decimal("30.00"))]
    assert found.totals == {"GBP": Decimal("60.00")} and found.skipped == {"dormant": 1}
    assert db.session.scalar(select(Invoice.id)) is None and db.session.scalar(select(ServicePeriod.id)) is None
    assert recurring.summary(db.session, date(2027, 2, 1), finance()) == recurring.Summary(1, 1, {"dormant": 1})


def test_a_run_writes_the_same_invoice_lines_ledger_entry_and_balance_as_issuing_by_hand(ctx):
    by_run, by_hand = customer(creditor_days=14), customer(creditor_days=14)
    standard = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Standard rate"))
    service(by_run, "Broadband", "30.00", tax_rate_id=standard)
    service(by_run, "Static IP", "4.99", tax_rate_id=None)
    run(JAN)
    made = invoices.create_draft(db.session, finance(), by_hand.id, {
        "issue_date": JAN.isoformat(), "lines": [
            {"description": "Broadband, 1\u201331 Jan 2027", "quantity": "1", "unit_price": "30.00",
             "tax_rate_id": standard},
            {"description": "Static IP, 1\u201331 Jan 2027", "quantity": "1", "unit_price": "4.99"}]}, key(),
        issue_now=True)
    [ran] = invoices_of(by_run)
    hand = db.session.get(Invoice, made.id)
    columns = ("currency", "status", "issue_date", "due_date", "notes", "outstanding", "net_total", "tax_total",
               "total", "fx_rate", "fx_rate_on", "disputed")
    assert {c: getattr(ran, c) for c in columns} == {c: getattr(hand, c) for c in columns}
    assert ran.billing_address.replace(by_run.surname, "X") == hand.billing_address.replace(by_hand.surname, "X")
    line_columns = ("position", "description", "category", "quantity", "unit_price", "tax_rate_id", "tax_name",
                    "tax_percent", "net", "tax")
    assert [{c: getattr(l, c) for c in line_columns} for l in ran.lines] == \
        [{c: getattr(l, c) for c in line_columns} for l in hand.lines]
    entries = {e.source_id: e for e in db.session.scalars(select(LedgerEntry))}
    ledger_columns = ("currency", "amount", "kind", "source_table", "effective_on", "reason")
    assert {c: getattr(entries[ran.id], c) for c in ledger_columns} == \
        {c: getattr(entries[hand.id], c) for c in ledger_columns}
    assert db.session.get(Customer, by_run.id).balance == db.session.get(Customer, by_hand.id).balance == ran.total
    assert (ran.number, hand.number) == ("INV-1", "INV-2")


def test_due_dates_follow_each_customers_creditor_days_else_the_companys(ctx):
    settings(default_creditor_days=21)
    own, none = customer(creditor_days=7), customer()
    for owner in (own, none):
        service(owner)
    run(JAN)
    assert [invoices_of(o)[0].due_date for o in (own, none)] == [date(2027, 1, 8), date(2027, 1, 22)]


def test_numbers_are_gap_free_across_chunks(ctx):
    owners = [customer() for _ in range(5)]
    for owner in owners:
        service(owner)
    recurring.run(db.session, JAN, "test", current_app.config, chunk=2)
    assert sorted(int(i.number[4:]) for o in owners for i in invoices_of(o)) == [1, 2, 3, 4, 5]


def test_lanes_bill_every_chunk_once_with_gap_free_numbers_one_report_and_the_runs_actor(ctx, monkeypatch):
    """On PostgreSQL a run bills in two lanes (connections) at once; the result is a single lane's."""
    import threading

    from app.models import Job
    owners = [customer() for _ in range(9)]
    for owner in owners:
        service(owner)
    lanes, real = set(), recurring._prepare

    def noted(*args):
        lanes.add(threading.current_thread().name)
        return real(*args)
    monkeypatch.setattr(recurring, "_prepare", noted)
    job = Job(action=recurring.ACTION, params={"today": JAN.isoformat()}, status="queued", total=0, result={})
    db.session.add(job)
    db.session.commit()
    who, before = finance(), db.session.scalar(select(func.max(AuditEntry.id)))
    db.session.info["actor"] = (who.id, who.username)
    try:
        report = recurring.run(db.session, JAN, "finance", current_app.config, job=job, chunk=2)
    finally:
        db.session.info.pop("actor")
    assert len(lanes) == (2 if db.engine.dialect.name == "postgresql" else 1)
    made = [i for o in owners for i in invoices_of(o)]
    assert len(made) == 9 and sorted(int(i.number[4:]) for i in made) == list(range(1, 10))
    job = db.session.get(Job, job.id, populate_existing=True)
    assert (report.status, report.invoices, report.lines, report.totals) == ("finished", 9, 9, {"GBP": "270.00"})
    assert (job.status, job.done, job.total, job.result["invoices"]) == ("done", 9, 9, 9)
    trail = db.session.scalars(select(AuditEntry).where(AuditEntry.id > before)).all()
    assert sorted((e.entity, e.action) for e in trail) == [("invoice", "create")] * 9 + [("service", "update")] * 9
    assert {(e.user_id, e.username) for e in trail} == {(who.id, "finance")}


def test_a_new_service_is_due_from_its_start(ctx):
    from app.services.customers import services
    owner = customer()
    made = services.create_service(db.session, factories.user("admin"), owner.id, {
        "name": "Broadband", "price": "30.00", "billing_cycle": "monthly", "started_on": "2027-01-31"})
    assert (made.next_billing_on, made.billing_day) == (date(2027, 1, 31), 31)


def test_the_daily_periodic_job_runs_the_billing_run_and_keeps_its_report(ctx):
    from datetime import timedelta

    from app.jobs import schedule
    from app.services import periodic
    owner = customer()
    service(owner, start=date.today() - timedelta(days=3))
    job = periodic.find(schedule.jobs(), schedule.RECURRING_BILLING)
    assert job.cron == "0 6 * * *"
    now = periodic.utcnow()
    periodic.ensure(ctx, [job], now)
    slot = periodic.first_due(job, now)
    outcome = periodic.run(ctx, job, "test", now=slot)
    assert outcome.status == "done" and outcome.result["invoices"] == 1
    assert outcome.result["total GBP"] == "30.00"
    assert periodic.run(ctx, job, "test", now=slot) is None  # the slot is taken: once
    assert len(invoices_of(owner)) == 1


def test_bill_due_services_now_runs_as_a_job_with_its_progress_and_report(ctx, app):
    from app.models import Job
    from app.services import jobs
    owner = customer()
    service(owner)
    started = recurring.start(db.session, finance(), today=JAN)
    job = db.session.get(Job, started.job_id, populate_existing=True)
    report = db.session.get(BillingRun, started.id, populate_existing=True)
    assert (job.status, job.done, job.total, jobs.label(job)) == ("done", 1, 1, "Bill due services")
    assert job.result["invoices"] == 1 and job.result["totals"] == {"GBP": "30.00"}
    assert (report.status, report.invoices, report.started_by) == ("finished", 1, "finance")


def test_only_finance_and_admin_may_bill_services_and_who_sees_money_reads_the_preview(ctx):
    from app.services.errors import Forbidden
    with pytest.raises(Forbidden):
        recurring.start(db.session, factories.user("staff"), today=JAN)
    assert recurring.plan(db.session, JAN, factories.user("staff")).bills == []
    assert recurring.summary(db.session, JAN, factories.user("readonly")).customers == 0


def test_a_user_confined_to_a_reseller_may_not_bill_the_whole_company(ctx, app):
    from app.services.errors import Forbidden
    service(customer())
    with role_user(app, ctx, "AFinance", "Reseller", [("can_post_money", "InvoiceView")],
                   factories.reseller_id("Reseller A")) as scoped, pytest.raises(Forbidden) as refused:
        recurring.start(db.session, scoped, today=JAN)
    assert "every customer" in refused.value.message
    assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 0


def test_bill_due_services_now_starts_one_run_per_form_key_and_none_while_one_is_going(ctx):
    from app.services.errors import AlreadyDone
    owner = customer()
    service(owner)
    form_key = key()
    recurring.start(db.session, finance(), today=JAN, form_key=form_key)
    with pytest.raises(AlreadyDone):
        recurring.start(db.session, finance(), today=JAN, form_key=form_key)
    going = BillingRun(run_on=JAN, status="running", started_by=None)  # the daily job's, just started
    db.session.add(going)
    db.session.commit()
    with pytest.raises(recurring.RunGoing) as refused:
        recurring.start(db.session, finance(), today=JAN, form_key=key())
    assert refused.value.run.id == going.id and "the daily job" in refused.value.message
    assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 2 and len(invoices_of(owner)) == 1


def test_a_run_that_fails_half_way_keeps_its_chunks_and_a_run_again_bills_the_rest_once(ctx, monkeypatch):
    owners = [customer() for _ in range(4)]
    for owner in owners:
        service(owner)
    real, calls = recurring._write_invoices, []

    def fails_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real(*args)
    monkeypatch.setattr(recurring, "_write_invoices", fails_second)
    with pytest.raises(RuntimeError):
        recurring.run(db.session, JAN, "test", current_app.config, chunk=2)
    failed = db.session.scalars(select(BillingRun).order_by(BillingRun.id.desc())).first()
    assert (failed.status, failed.invoices, failed.error) == ("failed", 2, "RuntimeError: database went away")
    monkeypatch.setattr(recurring, "_write_invoices", real)
    again = recurring.run(db.session, JAN, "test", current_app.config, chunk=2)
    assert (again.status, again.invoices) == ("finished", 2)
    assert [len(invoices_of(o)) for o in owners] == [1, 1, 1, 1]


def test_a_chunks_billing_addresses_are_each_customers_billing_address(ctx):
    from app.models import Address, Contact, InvoiceAddress
    plain = customer()
    with_address = customer()
    db.session.add(Address(customer_id=with_address.id, kind="billing", line1="1 High St", town="Leeds",
                           postcode="LS1 1AA", country="GB"))
    with_contact = customer()
    db.session.execute(update(Customer).where(Customer.id == with_contact.id).values(
        invoice_address_format="{contact.first_name} {contact.surname}\n{customer.name}"))
    db.session.add(Contact(customer_id=with_contact.id, first_name="Ada", surname="Lovelace", is_primary=True))
    chosen = customer()
    other = InvoiceAddress(name="Insurer Ltd", line1="2 Low Rd", postcode="M1 1AA", reseller_id=chosen.reseller_id)
    db.session.add(other)
    db.session.flush()
    db.session.execute(update(Customer).where(Customer.id == chosen.id).values(invoice_address_id=other.id))
    db.session.commit()
    owners = [db.session.get(Customer, c.id, populate_existing=True) for c in (plain, with_address, with_contact, chosen)]
    assert invoices.billing_addresses(db.session, owners) == {c.id: invoices.billing_address(db.session, c)
                                                              for c in owners}
    assert "Insurer Ltd" in invoices.billing_addresses(db.session, owners)[chosen.id]


def test_a_run_records_the_additional_address_an_invoice_is_made_out_to_as_issuing_by_hand_does(ctx):
    from app.models import InvoiceAddress
    insured, own = customer(), customer()
    insurer = InvoiceAddress(name="Insurer Ltd", line1="2 Low Rd", postcode="M1 1AA", reseller_id=insured.reseller_id)
    db.session.add(insurer)
    db.session.flush()
    db.session.execute(update(Customer).where(Customer.id == insured.id).values(invoice_address_id=insurer.id))
    db.session.commit()
    service(insured), service(own)
    run(JAN)
    made = {i.customer_id: (i.invoice_address_id, i.billing_address.split("\n")[0])
            for i in db.session.scalars(select(Invoice).where(Invoice.customer_id.in_((insured.id, own.id))))}
    assert made[insured.id] == (insurer.id, "Insurer Ltd")  # statements by contact and credit notes follow it
    assert made[own.id][0] is None


def test_an_invoice_voided_before_its_e_mail_went_fails_the_e_mail_with_the_reason(ctx, monkeypatch):
    settings(billing_email=True)
    owner = customer()
    service(owner)
    monkeypatch.setattr("app.jobs.tasks.queue_delivery", lambda ids: None)
    run(JAN)
    [invoice] = invoices_of(owner)
    invoices.void(db.session, finance(), invoice.id, "Billed by mistake", key())
    [message] = db.session.scalars(select(Message)).all()
    delivery.deliver(db.session, [message.id], current_app.config, runner="test")
    db.session.refresh(message)
    assert (message.status, message.error) == ("failed", "The invoice could not be attached: it is void.")
