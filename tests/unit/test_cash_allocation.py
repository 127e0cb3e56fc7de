"""Cash allocation through its service (allocation.py): one payment or credit over many invoices,
oldest first as saving does it, every row checked again under the lock, nothing half-written,
small write-offs, un-allocation of exactly one allocation, credit used when an invoice is issued."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Allocation, AuditEntry, CompanySettings, Customer, Invoice, Payment, PaymentMethod, Release, \
    TaxRate, User
from app.services.billing import allocation, credit_notes, invoices, ledger, payments
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from tests import factories
from tests.conftest import PASSWORD

D = Decimal
TODAY = date.today()


def key():
    return str(uuid.uuid4())


def zero_rate():
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def issued(customer, amount, days_ago=0, actor="admin"):
    day = TODAY - timedelta(days=days_ago)
    return invoices.create_draft(db.session, factories.user(actor), customer.id, {
        "issue_date": day.isoformat(), "due_date": day.isoformat(),
        "lines": [{"description": "Work", "quantity": 1, "unit_price": amount, "tax_rate_id": zero_rate()}]},
        key(), issue_now=True)


def external(customer, amount):
    return payments.record_external(db.session, factories.user("finance"), customer.id,
                                    {"amount": amount, "method_id": cash()}, key())


def pay(customer, amount, *rows, actor="finance", form_key=None, **data):
    data = {"amount": amount, "method_id": cash(), "received_on": TODAY.isoformat(), **data,
            "rows": [{"invoice_id": i.id, "amount": a, "seen_outstanding": str(i.outstanding)} for i, a in rows]}
    return allocation.save(db.session, factories.user(actor), customer.id, data, form_key or key())


def balance(customer):
    return db.session.scalar(select(Customer.balance).where(Customer.id == customer.id))


def fresh(record):
    db.session.refresh(record)
    return record


def errors_of(excinfo) -> dict:
    return {field: " ".join(messages) for field, messages in excinfo.value.errors.items()}


@pytest.fixture
def finance_a(app):
    """A Finance user confined to Reseller A (posts money, sees only A's customers)."""
    user = db.session.scalar(select(User).where(User.username == "finance_a"))
    if user is None:
        sm = app.appbuilder.sm
        user = sm.add_user("finance_a", "Finance", "A", "finance_a@example.com", sm.find_role("Finance"),
                           password=PASSWORD)
        user.reseller_id = factories.reseller_id("Reseller A")
        db.session.commit()
    return user


# --- the screen ---------------------------------------------------------------------------------

def test_the_screen_lists_open_invoices_oldest_first_with_days_overdue_and_the_credits(ctx):
    customer = factories.customer()
    newer, older = issued(customer, "30.00", days_ago=2), issued(customer, "20.00", days_ago=10)
    paid = issued(customer, "5.00", days_ago=20)
    pay(customer, "5.00", (paid, "5.00"))
    credit = external(customer, "12.50")
    shown = allocation.screen(ctx, factories.user("finance"), customer.id)
    assert [r.id for r in shown.invoices] == [older.id, newer.id]
    assert [(r.number, r.total, r.outstanding, r.days_overdue) for r in shown.invoices] == [
        (older.number, D("20.00"), D("20.00"), 10), (newer.number, D("30.00"), D("30.00"), 2)]
    assert [(s.id, s.kind, s.unallocated) for s in shown.sources] == [(credit.id, "external", D("12.50"))]
    assert shown.credit == D("12.50") and shown.may_write_off
    assert allocation.credit_available(ctx, customer.id) == D("12.50")


def test_another_resellers_customer_is_not_found_on_the_screen(ctx):
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    with pytest.raises(NotFound):
        allocation.screen(ctx, factories.user("reseller_a"), theirs.id)
    with pytest.raises(NotFound):
        allocation.oldest_first(ctx, factories.user("reseller_a"), theirs.id, "10")
    assert not allocation.screen(ctx, factories.user("reseller_b"), theirs.id).may_write_off


def test_a_write_off_limit_of_nothing_offers_no_write_off(ctx):
    customer = factories.customer()
    assert allocation.screen(ctx, factories.user("finance"), customer.id).may_write_off
    ctx.add(CompanySettings(id=1, write_off_limit=D(0)))
    ctx.commit()
    assert not allocation.screen(ctx, factories.user("finance"), customer.id).may_write_off


def test_oldest_first_fills_the_oldest_invoices_and_shows_the_excess(ctx):
    customer = factories.customer()
    a, b, c = issued(customer, "50.00", 30), issued(customer, "40.00", 20), issued(customer, "30.00", 10)
    plan = allocation.oldest_first(ctx, factories.user("finance"), customer.id, "70.00")
    assert plan.rows == {a.id: D("50.00"), b.id: D("20.00")} and plan.excess == 0
    plan = allocation.oldest_first(ctx, factories.user("finance"), customer.id, "125.00")
    assert plan.rows == {a.id: D("50.00"), b.id: D("40.00"), c.id: D("30.00")} and plan.excess == D("5.00")
    with pytest.raises(Invalid):
        allocation.oldest_first(ctx, factories.user("finance"), customer.id, "-1")
    with pytest.raises(Invalid):
        allocation.oldest_first(ctx, factories.user("finance"), customer.id, "1.234")


def test_saving_what_oldest_first_proposed_does_exactly_that(ctx):
    customer = factories.customer()
    a, b, c = issued(customer, "50.00", 30), issued(customer, "40.00", 20), issued(customer, "30.00", 10)
    plan = allocation.oldest_first(ctx, factories.user("finance"), customer.id, "100.00")
    by_id = {i.id: i for i in (a, b, c)}
    saved = pay(customer, "100.00", *[(by_id[i], str(amount)) for i, amount in plan.rows.items()])
    assert plan.rows == {a.id: D("50.00"), b.id: D("40.00"), c.id: D("10.00")}
    assert (fresh(a).status, fresh(b).status, fresh(c).status) == ("paid", "paid", "part_paid")
    assert fresh(c).outstanding == D("20.00") and saved.credit == plan.excess == 0


# --- saving ---------------------------------------------------------------------------------------

def test_one_payment_over_three_invoices_with_one_partial_and_the_excess_as_credit(ctx):
    customer = factories.customer()
    a, b, c = issued(customer, "50.00", 30), issued(customer, "40.00", 20), issued(customer, "30.00", 10)
    assert balance(customer) == D("120.00")
    saved = pay(customer, "125.00", (a, "50.00"), (b, "40.00"), (c, "30.00"))
    assert saved.message == "£120.00 allocated to 3 invoices; £5.00 becomes account credit"
    assert [fresh(i).status for i in (a, b, c)] == ["paid", "paid", "paid"]
    assert saved.source.unallocated == D("5.00") and saved.source.is_credit and saved.source.kind == "payment"
    assert balance(customer) == D("-5.00")
    assert allocation.credit_available(ctx, customer.id) == D("5.00")

    customer2 = factories.customer()
    x, y = issued(customer2, "50.00", 5), issued(customer2, "40.00", 2)
    saved = pay(customer2, "70.00", (x, "50.00"), (y, "20.00"))
    assert saved.message == "£70.00 allocated to 2 invoices"
    assert (fresh(y).status, fresh(y).outstanding, saved.source.is_credit) == ("part_paid", D("20.00"), False)
    assert pay(customer2, "7.00").message == "£7.00 becomes account credit"  # no rows: all of it is credit


def test_each_allocation_is_dated_the_payments_date_unless_given(ctx):
    customer = factories.customer()
    a, b = issued(customer, "10.00", 30), issued(customer, "10.00", 20)
    pay(customer, "10.00", (a, "10.00"), received_on=(TODAY - timedelta(days=3)).isoformat())
    pay(customer, "10.00", (b, "10.00"), allocated_on=(TODAY - timedelta(days=1)).isoformat())
    dates = dict(ctx.execute(select(Allocation.invoice_id, Allocation.allocated_on)).all())
    assert dates == {a.id: TODAY - timedelta(days=3), b.id: TODAY - timedelta(days=1)}


def test_existing_credit_pays_invoices_and_its_rest_stays_credit(ctx):
    customer = factories.customer()
    a, b = issued(customer, "30.00", 10), issued(customer, "30.00", 5)
    credit = external(customer, "50.00")
    saved = allocation.save(ctx, factories.user("finance"), customer.id, {
        "source_id": credit.id, "seen_unallocated": "50.00",
        "rows": [{"invoice_id": a.id, "amount": "30.00", "seen_outstanding": "30.00"},
                 {"invoice_id": b.id, "amount": "15.00", "seen_outstanding": "30.00"}]}, key())
    assert saved.message == "£45.00 allocated to 2 invoices; £5.00 is left as account credit"
    assert (fresh(credit).unallocated, fresh(b).outstanding, balance(customer)) == (D("5.00"), D("15.00"), D("10.00"))
    assert ctx.scalar(select(func.count(Payment.id))) == 1  # no new payment


def test_a_credit_note_is_credit_to_allocate_too(ctx):
    customer = factories.customer()
    invoice = issued(customer, "40.00")
    note = credit_notes.create(ctx, factories.user("finance"), {"description": "Goodwill", "lines": [
        {"description": "Goodwill", "quantity": 1, "unit_price": "25.00", "tax_rate_id": zero_rate()}]}, key(),
        customer_id=customer.id)
    shown = allocation.screen(ctx, factories.user("finance"), customer.id)
    assert [s.kind for s in shown.sources] == ["credit_note"]
    allocation.save(ctx, factories.user("finance"), customer.id, {
        "source_id": note.payment_id, "rows": [{"invoice_id": invoice.id, "amount": "25.00"}]}, key())
    assert fresh(invoice).outstanding == D("15.00")


@pytest.mark.parametrize("amount, field", [("-1.00", "rows.0.amount"), ("60.00", "rows.0.amount"),
                                           ("10.001", "rows.0.amount"), ("abc", "rows.0.amount"),
                                           ("1e999999", "rows.0.amount"), ("99999999999999999.00", "rows.0.amount")])
def test_a_bad_row_amount_is_named_on_its_row_and_nothing_is_written(ctx, amount, field):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "50.00", (invoice, amount))
    assert field in errors_of(raised)
    ctx.rollback()
    assert ctx.scalar(select(func.count(Payment.id))) == 0 and fresh(invoice).outstanding == D("50.00")


@pytest.mark.parametrize("amount", ["-10.00", "0", "", "99999999999999999.00", "NaN", "1e3"])
def test_a_bad_payment_amount_is_refused_and_nothing_is_written(ctx, amount):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, amount, (invoice, "10.00"))
    assert "amount" in errors_of(raised)
    ctx.rollback()
    assert ctx.scalar(select(func.count(Payment.id))) == 0 and balance(customer) == D("50.00")


def test_a_payment_needs_its_one_method_and_either_a_payment_or_a_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "50.00", (invoice, "50.00"), method_id="")
    assert "method_id" in errors_of(raised)
    ctx.rollback()
    credit = external(customer, "10.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "50.00", (invoice, "10.00"), source_id=credit.id)
    assert "amount" in errors_of(raised)
    ctx.rollback()
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, factories.user("finance"), customer.id, {"source_id": credit.id, "rows": "x"}, key())
    assert "rows" in errors_of(raised)


def test_rows_above_the_payment_or_the_credit_are_refused(ctx):
    customer = factories.customer()
    a, b = issued(customer, "50.00", 3), issued(customer, "50.00", 2)
    with pytest.raises(Invalid) as raised:
        pay(customer, "60.00", (a, "50.00"), (b, "20.00"))
    assert "amount" in errors_of(raised)
    ctx.rollback()
    credit = external(customer, "30.00")
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, factories.user("finance"), customer.id, {"source_id": credit.id, "rows": [
            {"invoice_id": a.id, "amount": "20.00"}, {"invoice_id": b.id, "amount": "20.00"}]}, key())
    assert "total" in errors_of(raised)
    ctx.rollback()
    assert fresh(credit).unallocated == D("30.00") and balance(customer) == D("70.00")


def test_the_same_invoice_twice_is_refused_on_the_second_row(ctx):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "50.00", (invoice, "20.00"), (invoice, "20.00"))
    assert "rows.1.invoice_id" in errors_of(raised) and "rows.0.invoice_id" not in errors_of(raised)


def test_another_customers_invoice_is_refused_on_its_row(ctx):
    mine, other = factories.customer(), factories.customer()
    invoice = issued(other, "50.00")
    with pytest.raises(Invalid) as raised:
        pay(mine, "50.00", (invoice, "50.00"))
    assert errors_of(raised)["rows.0.invoice_id"] == allocation.NO_INVOICE
    ctx.rollback()
    assert fresh(invoice).outstanding == D("50.00")


def test_an_invoice_out_of_scope_reads_as_missing_and_its_customer_is_not_found(ctx, finance_a):
    mine = factories.customer(reseller_id=factories.reseller_id("Reseller A"))
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    their_invoice = issued(theirs, "50.00")
    data = {"amount": "50.00", "method_id": cash(), "rows": [{"invoice_id": their_invoice.id, "amount": "50.00"}]}
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, finance_a, mine.id, data, key())
    missing = dict(data, rows=[{"invoice_id": 99999999, "amount": "50.00"}])
    with pytest.raises(Invalid) as raised_missing:
        allocation.save(ctx, finance_a, mine.id, missing, key())
    assert errors_of(raised) == errors_of(raised_missing)  # the same words: nothing leaks
    with pytest.raises(NotFound):
        allocation.save(ctx, finance_a, theirs.id, data, key())
    their_credit = external(theirs, "10.00")
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, finance_a, mine.id, {"source_id": their_credit.id, "rows": []}, key())
    assert "source_id" in errors_of(raised)
    ctx.rollback()
    assert fresh(their_invoice).outstanding == D("50.00")


def test_a_void_or_paid_invoice_is_refused_on_its_row(ctx):
    customer = factories.customer()
    voided, paid = issued(customer, "50.00"), issued(customer, "20.00")
    invoices.void(ctx, factories.user("finance"), voided.id, "Wrong", key())
    pay(customer, "20.00", (paid, "20.00"))
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, factories.user("finance"), customer.id, {"amount": "70.00", "method_id": cash(), "rows": [
            {"invoice_id": voided.id, "amount": "50.00"}, {"invoice_id": paid.id, "amount": "20.00"}]}, key())
    assert {"rows.0.invoice_id", "rows.1.invoice_id"} <= set(errors_of(raised))


def test_a_different_currency_is_refused(ctx):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "50.00", (invoice, "50.00"), currency="EUR")
    assert "currency" in errors_of(raised)


def test_a_double_submit_records_once(ctx):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    form_key = key()
    pay(customer, "60.00", (invoice, "50.00"), form_key=form_key)
    with pytest.raises(AlreadyDone):
        pay(customer, "60.00", (invoice, "50.00"), form_key=form_key)
    ctx.rollback()
    assert ctx.scalar(select(func.count(Payment.id))) == 1 and balance(customer) == D("-10.00")


@pytest.mark.parametrize("actor", ["staff", "readonly", "reseller_a"])
def test_only_who_posts_money_allocates_or_unallocates(ctx, actor):
    customer = factories.customer(reseller_id=factories.reseller_id("Reseller A"))
    invoice = issued(customer, "50.00")
    with pytest.raises(Forbidden):
        pay(customer, "50.00", (invoice, "50.00"), actor=actor)
    ctx.rollback()
    saved = pay(customer, "50.00", (invoice, "50.00"))
    with pytest.raises(Forbidden):
        allocation.unallocate(ctx, factories.user(actor), saved.allocations[0].id, key())


def test_a_row_changed_meanwhile_is_named_and_nothing_is_saved(ctx):
    customer = factories.customer()
    a, b = issued(customer, "50.00", 3), issued(customer, "50.00", 2)
    data = {"amount": "100.00", "method_id": cash(), "rows": [
        {"invoice_id": a.id, "amount": "50.00", "seen_outstanding": "50.00"},
        {"invoice_id": b.id, "amount": "50.00", "seen_outstanding": "50.00"}]}
    payments.record_payment(ctx, factories.user("admin"), b.id, {"amount": "10.00", "method_id": cash()}, key())
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, factories.user("finance"), customer.id, data, key())
    found = errors_of(raised)
    assert "changed" in found[allocation.CHANGED] and "rows.1.seen_outstanding" in found
    assert "rows.0.seen_outstanding" not in found
    ctx.rollback()
    assert fresh(a).outstanding == D("50.00") and ctx.scalar(select(func.count(Payment.id))) == 1


def test_a_credit_used_meanwhile_is_told_and_nothing_is_saved(ctx):
    customer = factories.customer()
    a, b = issued(customer, "30.00", 3), issued(customer, "30.00", 2)
    credit = external(customer, "30.00")
    data = {"source_id": credit.id, "seen_unallocated": "30.00", "rows": [{"invoice_id": a.id, "amount": "30.00"}]}
    payments.allocate(ctx, factories.user("admin"), credit.id, b.id, "10.00", key())
    with pytest.raises(Invalid) as raised:
        allocation.save(ctx, factories.user("finance"), customer.id, data, key())
    assert {allocation.CHANGED, "seen_unallocated"} <= set(errors_of(raised))
    ctx.rollback()
    assert fresh(a).outstanding == D("30.00") and fresh(credit).unallocated == D("20.00")


def test_an_invoice_voided_meanwhile_is_named(ctx):
    customer = factories.customer()
    invoice = issued(customer, "30.00")
    data = {"amount": "30.00", "method_id": cash(), "rows": [
        {"invoice_id": invoice.id, "amount": "30.00", "seen_outstanding": "30.00"}]}
    customer_id = customer.id
    real_lock = ledger.lock

    def voided_before_the_lock(session, locked_id):
        ledger.lock = real_lock  # the void's own lock, in a transaction of its own
        invoices.void(db.session, factories.user("admin"), invoice.id, "Wrong", key())
        return real_lock(session, locked_id)
    ledger.lock = voided_before_the_lock
    try:
        with pytest.raises(Invalid) as raised:
            allocation.save(ctx, factories.user("finance"), customer_id, data, key())
    finally:
        ledger.lock = real_lock
    assert "void now" in errors_of(raised)["rows.0.seen_outstanding"]
    ctx.rollback()
    assert ctx.scalar(select(func.count(Payment.id))) == 0


# --- small write-offs ------------------------------------------------------------------------------

def test_a_small_write_off_clears_the_last_units_and_is_posted(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00")
    saved = pay(customer, "99.60", (invoice, "99.60"),
                write_offs=[{"invoice_id": invoice.id, "reason": "Rounding by the bank"}])
    assert saved.message == "£99.60 allocated to 1 invoice; £0.40 written off"
    assert (fresh(invoice).status, fresh(invoice).outstanding, balance(customer)) == ("paid", 0, 0)
    off = saved.write_offs[0]
    assert (off.kind, off.amount, off.unallocated, off.reason, off.is_credit) == (
        "write_off", D("0.40"), 0, "Rounding by the bank", False)
    assert allocation.credit_available(ctx, customer.id) == 0
    assert ledger.check(ctx) == []


def test_a_write_off_above_the_limit_or_not_clearing_the_invoice_is_refused(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "90.00", (invoice, "90.00"), write_offs=[{"invoice_id": invoice.id, "reason": "Small"}])
    assert "At most £5.00" in errors_of(raised)["write_offs.0.amount"]
    ctx.rollback()
    assert ctx.scalar(select(func.count(Payment.id))) == 0 and fresh(invoice).outstanding == D("100.00")
    with pytest.raises(Invalid) as raised:
        pay(customer, "97.00", (invoice, "97.00"),
            write_offs=[{"invoice_id": invoice.id, "amount": "2.00", "reason": "Small"}])
    assert "clears what is left" in errors_of(raised)["write_offs.0.amount"]
    ctx.rollback()
    with pytest.raises(Invalid) as raised:
        pay(customer, "97.00", (invoice, "97.00"), write_offs=[{"invoice_id": invoice.id, "reason": ""}])
    assert "write_offs.0.reason" in errors_of(raised)
    ctx.rollback()
    ctx.add(CompanySettings(id=1, write_off_limit=D("10.00")))
    ctx.commit()
    pay(customer, "90.00", (invoice, "90.00"), write_offs=[{"invoice_id": invoice.id, "reason": "Small"}])
    assert fresh(invoice).status == "paid"


def test_a_write_off_in_another_currency_is_held_to_the_limit_at_the_invoices_rate(ctx):
    from app.services.billing import fx
    customer = factories.customer(currency="JPY")
    unrated = issued(customer, "1000")
    with pytest.raises(Invalid) as raised:
        pay(customer, "999", (unrated, "999"), write_offs=[{"invoice_id": unrated.id, "reason": "Small"}])
    assert "No rate from JPY to GBP" in errors_of(raised)["write_offs.0.amount"]
    ctx.rollback()
    fx.create_rate(ctx, factories.user("admin"), {"from_currency": "JPY", "to_currency": "GBP", "rate": "0.005",
                                                  "effective_on": (TODAY - timedelta(days=5)).isoformat()})
    rated = issued(customer, "5000")
    with pytest.raises(Invalid) as raised:  # ¥1,100 is £5.50
        pay(customer, "3900", (rated, "3900"), write_offs=[{"invoice_id": rated.id, "reason": "Small"}])
    assert "this is £5.50" in errors_of(raised)["write_offs.0.amount"]
    ctx.rollback()
    pay(customer, "4000", (rated, "4000"), write_offs=[{"invoice_id": rated.id, "reason": "Small"}])  # £5.00
    assert fresh(rated).status == "paid"


def test_only_who_may_write_off_writes_off(ctx, app):
    from flask_appbuilder.security.sqla.models import Role
    customer = factories.customer()
    invoice = issued(customer, "10.00")
    role = ctx.scalar(select(Role).where(Role.name == "Finance"))
    granted = [pv for pv in role.permissions
               if (pv.permission.name, pv.view_menu.name) == ("can_write_off_money", "InvoiceView")]
    assert granted  # the default Finance role holds it
    role.permissions.remove(granted[0])
    ctx.commit()
    try:
        with pytest.raises(Forbidden):
            pay(customer, "9.00", (invoice, "9.00"), write_offs=[{"invoice_id": invoice.id, "reason": "Small"}])
        ctx.rollback()
        pay(customer, "5.00", (invoice, "5.00"))  # allocating needs no more than posting money
        assert not allocation.screen(ctx, factories.user("finance"), customer.id).may_write_off
    finally:
        role = ctx.scalar(select(Role).where(Role.name == "Finance"))
        role.permissions.append(granted[0])
        ctx.commit()
    pay(customer, "4.00", (invoice, "4.00"), write_offs=[{"invoice_id": invoice.id, "reason": "Small"}])
    assert fresh(invoice).status == "paid"


def test_the_ledger_check_finds_a_write_off_left_with_a_rest(ctx):
    customer = factories.customer()
    invoice = issued(customer, "10.00")
    saved = pay(customer, "9.00", (invoice, "9.00"), write_offs=[{"invoice_id": invoice.id, "reason": "Small"}])
    off = saved.write_offs[0]
    ctx.execute(Payment.__table__.update().where(Payment.id == off.id).values(unallocated=D("1.00")))
    found = [str(d) for d in ledger.check(ctx)]
    assert f"payment {off.id}: a write-off with 1" in " ".join(found)
    ctx.rollback()


def test_a_write_off_is_not_unallocated_and_voiding_the_invoice_withdraws_it(ctx):
    customer = factories.customer()
    invoice = issued(customer, "100.00")
    saved = pay(customer, "98.00", (invoice, "98.00"), write_offs=[{"invoice_id": invoice.id, "reason": "Small"}])
    other = issued(customer, "10.00")
    credit = external(customer, "9.50")
    only_off = allocation.save(ctx, factories.user("finance"), customer.id, {
        "source_id": credit.id, "rows": [{"invoice_id": other.id, "amount": "9.50"}],
        "write_offs": [{"invoice_id": other.id, "reason": "Small"}]}, key())
    assert only_off.message == "£9.50 allocated to 1 invoice; £0.50 written off"
    off_allocation = ctx.scalar(select(Allocation).where(Allocation.payment_id == saved.write_offs[0].id))
    with pytest.raises(Invalid) as raised:
        allocation.unallocate(ctx, factories.user("finance"), off_allocation.id, key())
    assert "write-off" in errors_of(raised)["allocation_id"]
    ctx.rollback()
    invoices.void(ctx, factories.user("finance"), invoice.id, "Wrong", key())
    assert allocation.credit_available(ctx, customer.id) == D("98.00")  # the payment, not the write-off
    assert fresh(other).status == "paid"
    assert balance(customer) == D("-98.00")
    assert ctx.scalar(select(Release.amount).where(Release.payment_id == saved.write_offs[0].id)) == D("2.00")
    assert ledger.check(ctx) == []


# --- un-allocating ---------------------------------------------------------------------------------

def test_unallocate_reverses_only_that_allocation_and_is_audited(ctx):
    customer = factories.customer()
    a, b, c = issued(customer, "50.00", 30), issued(customer, "40.00", 20), issued(customer, "30.00", 10)
    saved = pay(customer, "120.00", (a, "50.00"), (b, "40.00"), (c, "30.00"))
    target = saved.allocations[1]
    before = ctx.scalar(select(func.coalesce(func.max(AuditEntry.id), 0)))
    reversal = allocation.unallocate(ctx, factories.user("finance"), target.id, key())
    assert (reversal.amount, reversal.reverses_id, reversal.allocated_on) == (D("-40.00"), target.id, TODAY)
    assert [fresh(i).status for i in (a, b, c)] == ["paid", "issued", "paid"]
    assert fresh(b).outstanding == D("40.00") and fresh(saved.source).unallocated == D("40.00")
    assert fresh(saved.source).is_credit and balance(customer) == D("0.00")
    entries = ctx.scalars(select(AuditEntry).where(AuditEntry.id > before).order_by(AuditEntry.id)).all()
    assert {e.entity for e in entries} == {"allocation", "invoice", "payment"}
    assert any(e.entity == "allocation" and e.entity_id == reversal.id for e in entries)
    assert any(e.entity == "invoice" and e.entity_id == b.id and "outstanding" in e.changes for e in entries)
    assert any(e.entity == "payment" and e.entity_id == saved.source.id and "unallocated" in e.changes
               for e in entries)
    with pytest.raises(Invalid) as raised:
        allocation.unallocate(ctx, factories.user("finance"), target.id, key())
    assert "already reversed" in errors_of(raised)["allocation_id"]
    ctx.rollback()
    with pytest.raises(Invalid) as raised:
        allocation.unallocate(ctx, factories.user("finance"), reversal.id, key())
    assert "itself an un-allocation" in errors_of(raised)["allocation_id"]


def test_unallocate_out_of_scope_or_missing_is_not_found(ctx, finance_a):
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    invoice = issued(theirs, "50.00")
    saved = pay(theirs, "50.00", (invoice, "50.00"))
    for value in (saved.allocations[0].id, 99999999, "abc", None, -1):
        with pytest.raises(NotFound):
            allocation.unallocate(ctx, finance_a, value, key())


def test_unallocate_twice_with_one_key_records_once(ctx):
    customer = factories.customer()
    invoice = issued(customer, "50.00")
    saved = pay(customer, "50.00", (invoice, "50.00"))
    form_key = key()
    allocation.unallocate(ctx, factories.user("finance"), saved.allocations[0].id, form_key)
    with pytest.raises(AlreadyDone):
        allocation.unallocate(ctx, factories.user("finance"), saved.allocations[0].id, form_key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(totals=st.lists(st.integers(1, 50_000), min_size=1, max_size=5),
       parts=st.lists(st.integers(0, 50_000), min_size=5, max_size=5),
       extra=st.integers(0, 10_000), undo=st.lists(st.booleans(), min_size=5, max_size=5))
def test_allocating_then_unallocating_any_subset_restores_everything(ctx, totals, parts, extra, undo):
    customer = factories.customer()
    made = [issued(customer, str(D(t).scaleb(-2)), days_ago=len(totals) - i) for i, t in enumerate(totals)]
    before = {i.id: (i.outstanding, i.status) for i in made}
    start = balance(customer)
    rows = [(i, str(D(min(p, t)).scaleb(-2))) for i, p, t in zip(made, parts, totals)]
    amount = sum((D(a) for _, a in rows), D(0)) + D(extra).scaleb(-2)
    if amount <= 0:
        return
    saved = pay(customer, str(amount), *rows)
    after_pay = balance(customer)
    assert after_pay == start - amount and ledger.check(ctx) == []
    undone = [a for a, flag in zip(saved.allocations, undo) if flag]
    for one in undone:
        allocation.unallocate(ctx, factories.user("finance"), one.id, key())
    assert balance(customer) == after_pay  # un-allocating moves money, never the balance
    back = sum((a.amount for a in undone), D(0))
    assert fresh(saved.source).unallocated == D(extra).scaleb(-2) + back
    for one in saved.allocations:
        invoice = fresh(ctx.get(Invoice, one.invoice_id))
        if one in undone:
            assert (invoice.outstanding, invoice.status) == before[invoice.id]
        else:
            assert invoice.outstanding == before[invoice.id][0] - one.amount
    for one in saved.allocations:
        if one not in undone:
            allocation.unallocate(ctx, factories.user("finance"), one.id, key())
    assert {i.id: (fresh(i).outstanding, i.status) for i in made} == before
    assert fresh(saved.source).unallocated == amount and ledger.check(ctx) == []


# --- account credit used when an invoice is issued ----------------------------------------------------

def test_automatic_use_of_credit_pays_a_new_invoice_oldest_credit_first(ctx):
    customer = factories.customer()
    customer.use_credit = "automatic"
    ctx.commit()
    older, newer = external(customer, "30.00"), external(customer, "30.00")
    invoice = issued(customer, "40.00")
    assert (invoice.outstanding, invoice.status) == (D("0.00"), "paid")
    assert (fresh(older).unallocated, fresh(newer).unallocated) == (0, D("20.00"))
    assert balance(customer) == D("-20.00")
    big = issued(customer, "50.00")
    assert (big.outstanding, big.status, fresh(newer).unallocated) == (D("30.00"), "part_paid", 0)


def test_the_company_default_applies_when_the_customer_has_no_choice(ctx):
    customer, own_off = factories.customer(), factories.customer()
    own_off.use_credit = "off"
    ctx.add(CompanySettings(id=1, use_credit_default="automatic"))
    ctx.commit()
    external(customer, "30.00")
    external(own_off, "30.00")
    assert issued(customer, "10.00").status == "paid"
    assert issued(own_off, "10.00").status == "issued"


@pytest.mark.parametrize("setting", [None, "off", "ask"])
def test_off_and_ask_leave_the_credit_alone(ctx, setting):
    customer = factories.customer()
    customer.use_credit = setting
    ctx.commit()
    external(customer, "30.00")
    invoice = issued(customer, "10.00")
    assert invoice.status == "issued" and allocation.credit_available(ctx, customer.id) == D("30.00")
    assert allocation.use_credit(ctx, customer) == (setting or "off")


def test_ask_uses_the_credit_only_when_the_issuer_says_so(ctx):
    customer = factories.customer()
    customer.use_credit = "ask"
    ctx.commit()
    external(customer, "30.00")
    assert allocation.credit_offer(ctx, customer) == D("30.00")
    draft = invoices.create_draft(db.session, factories.user("admin"), customer.id, {
        "lines": [{"description": "Work", "quantity": 1, "unit_price": "10.00", "tax_rate_id": zero_rate()}]}, key())
    kept = invoices.issue(db.session, factories.user("admin"), draft.id, key(), use_credit=False)
    assert kept.status == "issued" and allocation.credit_available(ctx, customer.id) == D("30.00")
    paid = invoices.create_draft(db.session, factories.user("admin"), customer.id, {
        "lines": [{"description": "Work", "quantity": 1, "unit_price": "12.00", "tax_rate_id": zero_rate()}]},
        key(), issue_now=True, use_credit="1")
    assert (paid.status, paid.outstanding) == ("paid", D("0.00"))
    assert allocation.credit_offer(ctx, customer) == D("18.00")


@pytest.mark.parametrize("setting", ["off", "automatic"])
def test_only_ask_offers_the_credit_and_only_ask_heeds_the_answer(ctx, setting):
    customer = factories.customer()
    customer.use_credit = setting
    ctx.commit()
    external(customer, "30.00")
    assert allocation.credit_offer(ctx, customer) is None
    invoice = invoices.create_draft(db.session, factories.user("admin"), customer.id, {
        "lines": [{"description": "Work", "quantity": 1, "unit_price": "10.00", "tax_rate_id": zero_rate()}]},
        key(), issue_now=True, use_credit=setting == "off")
    assert invoice.status == ("paid" if setting == "automatic" else "issued")


def test_ask_offers_nothing_without_credit(ctx):
    customer = factories.customer()
    customer.use_credit = "ask"
    ctx.commit()
    assert allocation.credit_offer(ctx, customer) is None
    invoice = issued(customer, "10.00")
    assert invoice.status == "issued"


MIXED = st.one_of(
    st.tuples(st.just("invoice"), st.integers(1, 20_000)),
    st.tuples(st.just("pay"), st.integers(0, 30_000), st.booleans()),
    st.tuples(st.just("credit"), st.integers(1, 20_000)),
    st.tuples(st.just("use_credit"), st.integers(0, 5), st.integers(0, 30_000)),
    st.tuples(st.just("unallocate"), st.integers(0, 20)),
    st.tuples(st.just("void"), st.integers(0, 5)),
)


def _mixed_step(session, customer, step, made):
    finance = factories.user("finance")
    kind = step[0]
    if kind == "invoice":
        made["invoices"].append(issued(customer, str(D(step[1]).scaleb(-2))).id)
    elif kind == "pay":  # with step[2]: all that is owed but a few units, which are written off
        amount = D(step[1]).scaleb(-2)
        if step[2]:
            owed = sum((i.outstanding for i in payments.open_invoices(session, customer.id)), D(0))
            amount = owed - D(step[1] % 501).scaleb(-2)
        plan = allocation.oldest_first(session, finance, customer.id, str(amount))
        rows = [{"invoice_id": i, "amount": str(a)} for i, a in plan.rows.items()]
        last = list(plan.rows)[-1] if plan.rows and plan.excess == 0 else None
        offs = [{"invoice_id": last, "reason": "Small"}] if step[2] and last else []
        if amount > 0:
            allocation.save(session, finance, customer.id, {"amount": str(amount), "method_id": cash(),
                                                            "rows": rows, "write_offs": offs}, key())
    elif kind == "credit":
        made["credits"].append(external(customer, str(D(step[1]).scaleb(-2))).id)
    elif kind == "use_credit" and made["credits"]:
        source = session.get(Payment, made["credits"][step[1] % len(made["credits"])])
        amount = min(source.unallocated, D(step[2]).scaleb(-2))
        plan = allocation.oldest_first(session, finance, customer.id, str(amount))
        allocation.save(session, finance, customer.id, {"source_id": source.id, "rows": [
            {"invoice_id": i, "amount": str(a)} for i, a in plan.rows.items()]}, key())
    elif kind == "unallocate":
        ids = session.scalars(select(Allocation.id).where(Allocation.customer_id == customer.id)
                              .order_by(Allocation.id)).all()
        if ids:
            allocation.unallocate(session, finance, ids[step[1] % len(ids)], key())
    elif kind == "void" and made["invoices"]:
        invoices.void(session, finance, made["invoices"][step[1] % len(made["invoices"])], "Wrong", key())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(MIXED, min_size=1, max_size=12))
def test_any_history_of_allocations_unallocations_write_offs_and_voids_leaves_books_that_agree(ctx, steps):
    customer = factories.customer()
    made = {"invoices": [], "credits": []}
    for step in steps:
        try:
            _mixed_step(ctx, customer, step, made)
        except (Invalid, AlreadyDone):
            ctx.rollback()  # refused: nothing written, the history goes on
        assert ledger.check(ctx) == []
    owed = ctx.scalar(select(func.coalesce(func.sum(Invoice.outstanding), 0)).where(Invoice.customer_id == customer.id))
    credit = allocation.credit_available(ctx, customer.id)
    assert balance(customer) == D(owed) - credit
    assert ctx.scalar(select(func.count(Payment.id)).where(Payment.kind == "write_off", Payment.unallocated != 0)) == 0
