"""Statements (statements.py): outstanding as at a date and activity for a period, rebuilt from the
allocations, releases and voids dated on or before the date, never from today's figures; ageing as of
the statement's date; the closing balance is the ledger's balance as at that date, for any history."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import event, func, select, update

from app.extensions import db
from app.models import Allocation, Invoice, LedgerEntry, Payment, PaymentMethod, TaxRate
from app.services import money
from app.services.billing import allocation, credit_notes, exports, invoice_addresses, invoices, ledger, payments, \
    statements
from app.services.errors import AlreadyDone, Invalid, NotFound
from tests import factories

D = Decimal
TODAY = date.today()
ZERO_BUCKETS = (D(0),) * 5


def key():
    return str(uuid.uuid4())


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def zero_rate():
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def finance():
    return factories.user("finance")


def issued(customer, amount, on: date, due: date | None = None, undated: bool = False):
    """An invoice issued on `on`, due on `due` (default: that day); `undated`: with no due date at all
    (an imported invoice: the service always sets one)."""
    invoice = invoices.create_draft(db.session, finance(), customer.id, {
        "issue_date": on.isoformat(), "due_date": (due or on).isoformat(),
        "lines": [{"description": "Work", "quantity": 1, "unit_price": str(amount), "tax_rate_id": zero_rate()}]},
        key(), issue_now=True)
    if undated:
        db.session.execute(update(Invoice).where(Invoice.id == invoice.id).values(due_date=None))
        db.session.commit()
    return invoice


def pay(invoice, amount, on: date):
    return payments.record_payment(db.session, finance(), invoice.id, {
        "amount": str(amount), "method_id": cash(), "received_on": on.isoformat()}, key())


def external(customer, amount, on: date):
    return payments.record_external(db.session, finance(), customer.id, {
        "amount": str(amount), "method_id": cash(), "received_on": on.isoformat()}, key())


def ledger_at(customer, day: date) -> Decimal:
    return money.quantize(db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.customer_id == customer.id, LedgerEntry.effective_on <= day)), customer.currency)


def outstanding(customer, day: date, actor="finance"):
    return statements.outstanding(db.session, factories.user(actor), customer.id, day)


def agrees(statement, customer):
    """The statement's three figures agree: buckets minus credit, closing, the ledger at its date."""
    ageing = statement.ageing
    assert sum(ageing.buckets, D(0)) - ageing.credit == ageing.total == statement.closing_balance
    assert statement.closing_balance == ledger_at(customer, statement.as_at)
    return statement


def owed(statement):
    return [(line.reference, line.total, line.outstanding, line.days_overdue) for line in statement.lines]


def credits(statement):
    return [(line.kind, line.total, line.outstanding) for line in statement.credits]


# --- outstanding as at a date ----------------------------------------------------------------------

def test_outstanding_as_at_a_past_date_is_rebuilt_from_what_was_dated_by_then(ctx):
    customer = factories.customer()
    part = issued(customer, "100.00", ago(100), due=ago(95))
    pay(part, "40.00", ago(50))
    paid_later = issued(customer, "50.00", ago(40), due=ago(30))
    pay(paid_later, "50.00", ago(5))  # after the statement's date: still owed then
    future_due = issued(customer, "30.00", ago(15), due=ago(-15))
    undated = issued(customer, "20.00", ago(200), undated=True)
    issued(customer, "70.00", ago(5))  # after the date: not there yet
    external(customer, "15.00", ago(20))

    then = agrees(outstanding(customer, ago(10)), customer)
    assert then.kind == "outstanding" and then.as_at == ago(10) and then.currency == "GBP"
    assert then.customer_name == customer.name and then.billing_address is not None
    assert owed(then) == [(undated.number, D("20.00"), D("20.00"), 190), (part.number, D("100.00"), D("60.00"), 85),
                          (paid_later.number, D("50.00"), D("50.00"), 20),
                          (future_due.number, D("30.00"), D("30.00"), 0)]
    assert then.lines[0].due_on is None and then.lines[-1].due_on == ago(-15)
    assert credits(then) == [("external", D("15.00"), D("15.00"))]
    assert then.credits[0].description == "External payment by Cash"
    assert then.ageing.buckets == (D("30.00"), D("50.00"), D(0), D("60.00"), D("20.00"))
    assert then.ageing.credit == D("15.00") and then.closing_balance == D("145.00")

    now = agrees(outstanding(customer, TODAY), customer)
    assert [line.reference for line in now.lines][:2] == [undated.number, part.number]
    assert now.lines[-1].reference == future_due.number and paid_later.number not in [r for r, *_ in owed(now)]
    assert now.ageing.buckets == (D("30.00"), D("70.00"), D(0), D(0), D("80.00"))
    assert now.closing_balance == D("165.00")


def test_an_invoice_voided_after_the_date_is_owed_at_it_and_gone_from_the_day_of_its_void(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00", ago(30))
    pay(invoice, "10.00", ago(20))
    invoices.void(ctx, finance(), invoice.id, "Wrong", key())  # today: its payment becomes credit
    before = agrees(outstanding(customer, ago(1)), customer)
    assert owed(before) == [(invoice.number, D("100.00"), D("90.00"), 29)] and before.credits == []
    after = agrees(outstanding(customer, TODAY), customer)
    assert after.lines == [] and credits(after) == [("payment", D("10.00"), D("10.00"))]
    assert after.closing_balance == D("-10.00")


def test_an_unallocation_counts_from_its_own_date_and_never_before_what_it_undoes(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00", ago(30))
    payment = pay(invoice, "40.00", ago(20))
    first = ctx.scalar(select(Allocation.id).where(Allocation.payment_id == payment.id))
    allocation.unallocate(ctx, finance(), first, key())  # today
    assert owed(agrees(outstanding(customer, ago(1)), customer)) == [(invoice.number, D("100.00"), D("60.00"), 29)]
    now = agrees(outstanding(customer, TODAY), customer)
    assert owed(now) == [(invoice.number, D("100.00"), D("100.00"), 30)]
    assert credits(now) == [("payment", D("40.00"), D("40.00"))]

    # Allocated with a date ten days ahead, undone today: nothing moves before that date nor after.
    allocation.save(ctx, finance(), customer.id, {"source_id": payment.id, "allocated_on": ago(-10).isoformat(),
                                                  "rows": [{"invoice_id": invoice.id, "amount": "40.00"}]}, key())
    ahead = ctx.scalar(select(func.max(Allocation.id)))
    allocation.unallocate(ctx, finance(), ahead, key())
    for day in (TODAY, ago(-5), ago(-10), ago(-20)):
        statement = agrees(outstanding(customer, day), customer)
        assert [line.outstanding for line in statement.lines] == [D("100.00")]
        assert statement.ageing.credit == D("40.00")


def test_credit_notes_pay_their_invoice_from_their_date_and_the_rest_is_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00", ago(30))
    credit_notes.create(ctx, finance(), {"description": "Returned", "credit_date": ago(10).isoformat(), "lines": [
        {"description": "Part", "quantity": 1, "unit_price": "30.00", "tax_rate_id": zero_rate()}]}, key(),
        invoice_id=invoice.id)
    loose = credit_notes.create(ctx, finance(), {"description": "Goodwill", "credit_date": ago(5).isoformat(),
                                                 "lines": [{"description": "Sorry", "quantity": 1,
                                                            "unit_price": "25.00", "tax_rate_id": zero_rate()}]},
                                key(), customer_id=customer.id)
    assert owed(agrees(outstanding(customer, ago(20)), customer)) == [(invoice.number, D("100.00"), D("100.00"), 10)]
    now = agrees(outstanding(customer, TODAY), customer)
    assert owed(now) == [(invoice.number, D("100.00"), D("70.00"), 30)]
    assert credits(now) == [("credit_note", D("25.00"), D("25.00"))]
    assert now.credits[0].reference == loose.number and now.credits[0].description == f"Credit note {loose.number}"
    assert now.closing_balance == D("45.00")


def test_a_credit_note_dated_before_its_invoice_is_credit_until_the_invoice_is_issued(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00", ago(30))
    credit_notes.create(ctx, finance(), {"description": "Early", "credit_date": ago(40).isoformat(), "lines": [
        {"description": "Part", "quantity": 1, "unit_price": "30.00", "tax_rate_id": zero_rate()}]}, key(),
        invoice_id=invoice.id)
    early = agrees(outstanding(customer, ago(35)), customer)  # the ledger has the credit note, not the invoice
    assert early.lines == [] and credits(early) == [("credit_note", D("30.00"), D("30.00"))]
    later = agrees(outstanding(customer, ago(30)), customer)
    assert owed(later) == [(invoice.number, D("100.00"), D("70.00"), 0)] and later.credits == []


def test_credit_used_by_an_invoice_back_dated_before_the_payment_counts_from_the_payments_date(ctx):
    customer = factories.customer()
    customer.use_credit = "automatic"
    ctx.commit()
    external(customer, "50.00", ago(5))
    invoice = issued(customer, "50.00", ago(20))  # paid from the credit, the allocation dated 20 days ago
    assert invoice.status == "paid"
    then = agrees(outstanding(customer, ago(10)), customer)  # the payment was not there yet
    assert owed(then) == [(invoice.number, D("50.00"), D("50.00"), 10)] and then.credits == []
    now = agrees(outstanding(customer, TODAY), customer)
    assert now.lines == [] and now.credits == [] and now.closing_balance == 0


def test_refunds_and_withdrawn_credit_take_credit_away_from_their_dates(ctx):
    customer = factories.customer()
    credit = external(customer, "50.00", ago(20))
    payments.refund(ctx, finance(), credit.id, {"amount": "20.00", "method_id": cash(),
                                                "released_on": ago(10).isoformat()}, key())
    assert credits(agrees(outstanding(customer, ago(15)), customer)) == [("external", D("50.00"), D("50.00"))]
    assert credits(agrees(outstanding(customer, ago(10)), customer)) == [("external", D("50.00"), D("30.00"))]
    payments.void_credit(ctx, finance(), credit.id, "Withdrawn", key())
    assert agrees(outstanding(customer, TODAY), customer).credits == []


def test_a_write_off_is_never_account_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00", ago(10))
    allocation.save(ctx, finance(), customer.id, {
        "amount": "98.00", "method_id": cash(), "received_on": ago(5).isoformat(),
        "rows": [{"invoice_id": invoice.id, "amount": "98.00"}],
        "write_offs": [{"invoice_id": invoice.id, "reason": "Rounding"}]}, key())
    for day in (ago(6), ago(5), TODAY):
        statement = agrees(outstanding(customer, day), customer)
        assert all(line.kind != "write_off" for line in statement.credits)
    assert outstanding(customer, TODAY).closing_balance == 0 and outstanding(customer, TODAY).lines == []

    # Dated before its invoice was issued: until then the ledger has it and no invoice, as the statement.
    early = issued(customer, "50.00", ago(3))
    allocation.save(ctx, finance(), customer.id, {
        "amount": "49.00", "method_id": cash(), "received_on": ago(8).isoformat(), "allocated_on": ago(8).isoformat(),
        "rows": [{"invoice_id": early.id, "amount": "49.00"}],
        "write_offs": [{"invoice_id": early.id, "reason": "Rounding"}]}, key())
    window = agrees(outstanding(customer, ago(4)), customer)
    assert credits(window) == [("payment", D("49.00"), D("49.00")), ("write_off", D("1.00"), D("1.00"))]
    assert agrees(outstanding(customer, ago(3)), customer).credits == []


def test_balance_adjustments_are_lines_and_credits_of_their_own(ctx):
    customer = factories.customer()
    for amount, day in (("25.00", ago(40)), ("-10.00", ago(5))):
        payments.adjust_balance(ctx, finance(), customer.id, {"amount": amount, "reason": "Correction",
                                                              "effective_on": day.isoformat()}, key())
    now = agrees(outstanding(customer, TODAY), customer)
    assert [(line.kind, line.outstanding, line.days_overdue) for line in now.lines] == [("adjustment", D("25.00"), 40)]
    assert credits(now) == [("adjustment", D("10.00"), D("10.00"))]
    assert now.ageing.buckets == (D(0), D(0), D("25.00"), D(0), D(0)) and now.closing_balance == D("15.00")


def test_a_currency_without_decimals_is_shown_in_whole_units(ctx):
    customer = factories.customer(currency="JPY")
    invoice = issued(customer, "1235", ago(40), due=ago(35))
    pay(invoice, "1000", ago(10))
    external(customer, "300", ago(2))
    now = agrees(outstanding(customer, TODAY), customer)
    assert owed(now) == [(invoice.number, D("1235"), D("235"), 35)]
    assert str(now.lines[0].outstanding) == "235" and str(now.ageing.credit) == "300"
    assert str(now.closing_balance) == "-65" and now.ageing.buckets[2] == D("235")
    assert all(isinstance(x, Decimal) for x in (*now.ageing.buckets, now.ageing.credit, now.closing_balance))


def test_another_resellers_customer_is_not_found(ctx):
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    with pytest.raises(NotFound):
        outstanding(theirs, TODAY, actor="reseller_a")
    with pytest.raises(NotFound):
        statements.activity(ctx, factories.user("reseller_a"), theirs.id, ago(30), TODAY)
    with pytest.raises(NotFound):
        outstanding(theirs, TODAY, actor="reseller_none")
    assert outstanding(theirs, TODAY, actor="reseller_b").customer_id == theirs.id
    assert outstanding(theirs, TODAY, actor="readonly").closing_balance == 0  # who sees money reads statements
    with pytest.raises(NotFound):
        statements.outstanding(ctx, factories.user("finance"), 10 ** 9, TODAY)


# --- activity for a period -------------------------------------------------------------------------

def test_activity_lists_the_periods_postings_and_allocations_with_a_running_balance(ctx):
    customer = factories.customer()
    old = issued(customer, "80.00", ago(60))
    invoice = issued(customer, "100.00", ago(20))
    pay(invoice, "120.00", ago(10))  # 100 on the invoice, 20 credit
    payments.refund(ctx, finance(), ctx.scalar(select(Payment.id).where(Payment.customer_id == customer.id)),
                    {"amount": "5.00", "method_id": cash(), "released_on": ago(8).isoformat()}, key())
    voided = issued(customer, "30.00", ago(3))
    invoices.void(ctx, finance(), voided.id, "Wrong", key())
    payments.adjust_balance(ctx, finance(), customer.id, {"amount": "-2.00", "reason": "Discount",
                                                          "effective_on": ago(1).isoformat()}, key())

    period = statements.activity(ctx, finance(), customer.id, ago(30), TODAY)
    assert period.kind == "activity" and period.start == ago(30) and period.as_at == TODAY
    assert period.opening_balance == D("80.00") == ledger_at(customer, ago(31))
    assert [(line.on, line.kind, line.amount, line.balance) for line in period.lines] == [
        (ago(20), "invoice", D("100.00"), D("180.00")),
        (ago(10), "payment", D("-120.00"), D("60.00")),
        (ago(10), "allocation", D(0), D("60.00")),
        (ago(8), "refund", D("5.00"), D("65.00")),
        (ago(3), "invoice", D("30.00"), D("95.00")),
        (ago(1), "adjustment", D("-2.00"), D("93.00")),
        (TODAY, "void", D("-30.00"), D("63.00")),
    ]
    assert period.lines[0].description == f"Invoice {invoice.number}" and period.lines[0].due_on == ago(20)
    assert period.lines[2].allocated == D("100.00") and period.lines[2].reference == invoice.number
    assert period.lines[3].description == "Refund of payment"
    assert period.lines[-1].description == f"Invoice {voided.number} voided: Wrong"
    assert period.closing_balance == D("63.00") == outstanding(customer, TODAY).closing_balance
    assert period.ageing == outstanding(customer, TODAY).ageing
    assert credits(period) == [("payment", D("120.00"), D("15.00")), ("adjustment", D("2.00"), D("2.00"))]
    assert old.number not in {line.reference for line in period.lines}


def test_an_unallocation_is_a_line_of_its_own_in_the_activity(ctx):
    customer = factories.customer()
    invoice = issued(customer, "50.00", ago(10))
    payment = pay(invoice, "50.00", ago(5))
    allocation.unallocate(ctx, finance(), ctx.scalar(select(Allocation.id).where(Allocation.payment_id == payment.id)),
                          key())
    period = statements.activity(ctx, finance(), customer.id, ago(7), TODAY)
    assert [(line.kind, line.allocated, line.amount) for line in period.lines] == [
        ("payment", None, D("-50.00")), ("allocation", D("50.00"), D(0)), ("allocation", D("-50.00"), D(0))]
    assert "taken back from invoice" in period.lines[-1].description
    assert period.opening_balance == D("50.00") and period.closing_balance == D(0)


def test_a_period_that_ends_before_it_starts_is_refused(ctx):
    customer = factories.customer()
    with pytest.raises(Invalid):
        statements.activity(ctx, finance(), customer.id, TODAY, ago(1))


# --- performance ------------------------------------------------------------------------------------

def _queries(fn) -> int:
    count = [0]

    def counted(*_args):
        count[0] += 1
    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count[0]


def test_a_statement_takes_the_same_handful_of_queries_for_few_or_many_invoices(ctx):
    few, many = factories.customer(), factories.customer()
    for customer, n in ((few, 2), (many, 25)):
        for i in range(n):
            invoice = issued(customer, "10.00", ago(i + 1))
            if i % 2:
                pay(invoice, "4.00", ago(i))
        external(customer, "3.00", ago(1))
    counts = []
    for customer in (few, many):
        ctx.expire_all()
        counts.append((_queries(lambda: outstanding(customer, ago(3))),
                       _queries(lambda: statements.activity(ctx, finance(), customer.id, ago(30), TODAY))))
    assert counts[0] == counts[1], counts
    assert counts[1][0] <= 14 and counts[1][1] <= 22, counts


# --- for any history --------------------------------------------------------------------------------

DAYS = st.integers(-20, 120)  # days ago (negative: ahead of today)
STEPS = st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 50_000), st.integers(0, 120),
              st.one_of(st.none(), st.integers(0, 90))),  # due: days after issue, None: no due date
    st.tuples(st.just("pay"), st.integers(0, 9), st.integers(1, 60_000), DAYS),
    st.tuples(st.just("external"), st.integers(1, 30_000), DAYS),
    st.tuples(st.just("allocate"), st.integers(0, 9), st.integers(0, 9), st.integers(1, 30_000), DAYS),
    st.tuples(st.just("unallocate"), st.integers(0, 20)),
    st.tuples(st.just("void"), st.integers(0, 9)),
    st.tuples(st.just("credit_note"), st.one_of(st.none(), st.integers(0, 9)), st.integers(1, 20_000), DAYS),
    st.tuples(st.just("refund"), st.integers(0, 9), st.integers(1, 20_000), DAYS),
    st.tuples(st.just("address"), st.integers(0, 2)),  # the customer's invoice address: none, one of two
)


def _amount(minor: int, currency: str) -> str:
    return str(D(minor).scaleb(-money.minor_units(currency)))


def _pick(items, index):
    return items[index % len(items)] if items else None


def _step(session, customer, step, made):
    kind, currency = step[0], customer.currency
    if kind == "invoice":
        on = ago(step[2])
        invoice = issued(customer, _amount(step[1], currency), on,
                         due=on + timedelta(days=step[3] or 0), undated=step[3] is None)
        made["invoices"].append(invoice.id)
    elif kind == "pay" and made["invoices"]:
        payment = payments.record_payment(session, finance(), _pick(made["invoices"], step[1]), {
            "amount": _amount(step[2], currency), "method_id": cash(), "received_on": ago(step[3]).isoformat()}, key())
        made["sources"].append(payment.id)
    elif kind == "external":
        made["sources"].append(external(customer, _amount(step[1], currency), ago(step[2])).id)
    elif kind == "allocate" and made["sources"] and made["invoices"]:
        source = session.get(Payment, _pick(made["sources"], step[1]), populate_existing=True)
        invoice = session.get(Invoice, _pick(made["invoices"], step[2]), populate_existing=True)
        amount = min(source.unallocated, invoice.outstanding, D(step[3]).scaleb(-money.minor_units(currency)))
        allocation.save(session, finance(), customer.id, {
            "source_id": source.id, "allocated_on": ago(step[4]).isoformat(),
            "rows": [{"invoice_id": invoice.id, "amount": str(amount)}]}, key())
    elif kind == "unallocate":
        ids = session.scalars(select(Allocation.id).where(Allocation.customer_id == customer.id)
                              .order_by(Allocation.id)).all()
        if ids:
            allocation.unallocate(session, finance(), _pick(ids, step[1]), key())
    elif kind == "void" and made["invoices"]:
        invoices.void(session, finance(), _pick(made["invoices"], step[1]), "Wrong", key())
    elif kind == "credit_note":
        against = _pick(made["invoices"], step[1]) if step[1] is not None else None
        data = {"description": "Credit", "credit_date": ago(step[3]).isoformat(), "lines": [
            {"description": "Credit", "quantity": 1, "unit_price": _amount(step[2], currency),
             "tax_rate_id": zero_rate()}]}
        note = credit_notes.create(session, finance(), data, key(), invoice_id=against,
                                   customer_id=None if against else customer.id)
        made["sources"].append(note.payment_id)
    elif kind == "address":
        if not made.get("addresses"):
            made["addresses"] = [invoice_addresses.add(session, factories.user("admin"), {
                "name": name, "line1": "1 Road"}).id for name in ("Insurer", "Landlord")]
        invoice_addresses.choose_for_customer(session, finance(), customer.id,
                                              ([None] + made["addresses"])[step[1]])
    elif kind == "refund" and made["sources"]:
        payments.refund(session, finance(), _pick(made["sources"], step[1]), {
            "amount": _amount(step[2], currency), "method_id": cash(), "released_on": ago(step[3]).isoformat()}, key())


def _aged_report(customer, day):
    """The aged receivables' buckets (exports.aged_totals: the CSV and the Receivables page) for the
    customer at `day`, or None when it owed nothing on invoices then."""
    aged = exports.aged_totals(finance(), day)
    row = db.session.execute(select(aged).where(aged.c.customer_id == customer.id)).first()
    return None if row is None else tuple(money.quantize(row._mapping[f"b{i}"], customer.currency) for i in range(5))


def _invoice_buckets(statement):
    """The statement's ageing of its invoices alone (the aged report has no balance adjustments)."""
    buckets = [D(0)] * 5
    for line in statement.lines:
        if line.kind == "invoice":
            buckets[statements.bucket_of(line.days_overdue)] += line.outstanding
    return tuple(buckets) if sum(buckets) > 0 else None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(currency=st.sampled_from(["GBP", "JPY"]), steps=st.lists(STEPS, min_size=1, max_size=10),
       days=st.lists(st.integers(-30, 130), min_size=2, max_size=3))
def test_for_any_history_and_date_the_buckets_less_credit_are_the_closing_and_the_ledger_balance(
        ctx, currency, steps, days):
    customer = factories.customer(currency=currency)
    made = {"invoices": [], "sources": []}
    for step in steps:
        try:
            _step(ctx, customer, step, made)
        except (Invalid, AlreadyDone):
            ctx.rollback()  # refused: nothing written, the history goes on
    actor = finance()
    for day in sorted(ago(d) for d in days):
        statement = agrees(statements.outstanding(ctx, actor, customer.id, day), customer)
        for line in statement.lines + statement.credits:
            assert line.outstanding == money.quantize(line.outstanding, currency)
            assert line.kind != "invoice" or line.outstanding <= line.total  # never more than it was issued for
        assert _aged_report(customer, day) == _invoice_buckets(statement)
        groups = statements.by_contact(ctx, statement)  # grouped by contact: a partition of the statement
        assert sum((g.closing_balance for g in groups), D(0)) == statement.closing_balance
        assert sorted(id(x) for g in groups for x in g.lines + g.credits) == \
            sorted(id(x) for x in statement.lines + statement.credits)
    start, end = sorted(ago(d) for d in days[:2])
    period = statements.activity(ctx, actor, customer.id, start, end)
    assert period.closing_balance == statements.outstanding(ctx, actor, customer.id, end).closing_balance
    assert period.opening_balance == statements.outstanding(ctx, actor, customer.id, start - timedelta(days=1)) \
        .closing_balance
    assert period.lines == sorted(period.lines, key=lambda line: line.on)
    running = period.opening_balance
    for line in period.lines:
        running += line.amount
        assert line.balance == running
    ctx.rollback()


def test_a_future_dated_invoice_voided_before_its_date_never_counted_on_any_day(ctx):
    """The void of an invoice dated ahead counts from that date (before it the invoice never counted), so
    the ledger and the statement agree on every day in between."""
    customer = factories.customer()
    invoice = issued(customer, "80.00", TODAY + timedelta(days=10))
    invoices.void(db.session, finance(), invoice.id, "Raised too early", key())
    for day in (TODAY, TODAY + timedelta(days=5), TODAY + timedelta(days=10), TODAY + timedelta(days=11)):
        shown = outstanding(customer, day)
        assert shown.closing_balance == ledger_at(customer, day) == 0, day
    assert ledger.check(db.session) == []
