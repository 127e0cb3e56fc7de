"""The money core through its services: invoices, payments, account credit, refunds, voids,
adjustments, all posted through one ledger (the suite runs `flask ledger check` after each test)."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Allocation, Customer, DocumentSequence, Invoice, LedgerEntry, Payment, PaymentMethod, TaxRate
from app.models import CustomerBalance
from app.services.billing import finances, invoices, ledger, payments
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from tests import factories

D = Decimal


def key():
    return str(uuid.uuid4())


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def rate(name):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def issued(customer, *lines, actor="admin", **data):
    admin = factories.user(actor)
    rows = [{"description": f"Line {i}", "quantity": q, "unit_price": p, "tax_rate_id": rate("Zero rate")}
            for i, (q, p) in enumerate(lines)]
    draft = invoices.create_draft(db.session, admin, customer.id, {"lines": rows, **data}, key())
    return invoices.issue(db.session, admin, draft.id, key())


def pay(invoice, amount, actor="admin", **data):
    return payments.record_payment(db.session, factories.user(actor), invoice.id,
                                   {"amount": amount, "method_id": cash(), **data}, key())


def balance(customer):
    return db.session.scalar(select(Customer.balance).where(Customer.id == customer.id))


def test_a_line_is_rounded_once_and_totals_are_sums_of_rounded_lines(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    lines = [{"description": "Widget", "quantity": "3", "unit_price": "0.335", "tax_rate_id": rate("Standard rate")}]
    with pytest.raises(Invalid) as error:  # GBP has two decimals
        invoices.create_draft(ctx, admin, customer.id, {"lines": lines}, key())
    assert "lines.0.unit_price" in error.value.errors
    lines = [{"description": "Widget", "quantity": "3", "unit_price": "0.33", "tax_rate_id": rate("Standard rate")},
             {"description": "Bolt", "quantity": "1.5", "unit_price": "0.05", "tax_rate_id": rate("Standard rate")}]
    draft = invoices.create_draft(ctx, admin, customer.id, {"lines": lines}, key())
    # 3 × 0.33 = 0.99, tax 0.198 -> 0.20; 1.5 × 0.05 = 0.075 -> 0.08, tax 0.016 -> 0.02
    assert [(l.net, l.tax) for l in draft.lines] == [(D("0.99"), D("0.20")), (D("0.08"), D("0.02"))]
    assert (draft.net_total, draft.tax_total, draft.total) == (D("1.07"), D("0.22"), D("1.29"))
    assert draft.number is None and draft.status == "draft"
    assert balance(customer) == 0  # a draft posts nothing


@pytest.mark.parametrize("currency, price, total", [("JPY", "1001", D("1201")), ("BHD", "1.005", D("1.206"))])
def test_each_currency_rounds_to_its_own_minor_units(ctx, currency, price, total):
    customer = factories.customer(currency=currency)
    invoice = invoices.create_draft(ctx, factories.user("admin"), customer.id, {"lines": [
        {"description": "Item", "quantity": 1, "unit_price": price, "tax_rate_id": rate("Standard rate")}]}, key())
    assert invoice.total == total


def test_a_jpy_amount_with_decimals_is_refused(ctx):
    customer = factories.customer(currency="JPY")
    with pytest.raises(Invalid) as error:
        invoices.create_draft(ctx, factories.user("admin"), customer.id, {"lines": [
            {"description": "Item", "quantity": 1, "unit_price": "10.5"}]}, key())
    assert "no decimals in JPY" in str(error.value)


def test_issuing_numbers_gap_free_posts_the_total_and_keeps_the_billing_address(ctx):
    customer = factories.customer(first_name="Ada", surname="Lovelace")
    first = issued(customer, (1, "100.00"))
    second = issued(customer, (2, "10.00"))
    assert int(second.number.split("-")[-1]) == int(first.number.split("-")[-1]) + 1
    assert first.billing_address.startswith("Ada Lovelace")
    assert (first.status, first.outstanding) == ("issued", D("100.00"))
    assert balance(customer) == D("120.00")
    entries = ctx.scalars(select(LedgerEntry).where(LedgerEntry.customer_id == customer.id)).all()
    assert [(e.kind, e.amount, e.source_table) for e in entries] == [("invoice", D("100.00"), "invoice"),
                                                                      ("invoice", D("20.00"), "invoice")]


def test_an_invoice_with_no_lines_is_not_issued_and_takes_no_number(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    draft = invoices.create_draft(ctx, admin, customer.id, {"lines": []}, key())
    with pytest.raises(Invalid) as error:
        invoices.issue(ctx, admin, draft.id, key())
    assert "at least one line" in str(error.value)
    ctx.rollback()
    assert ctx.get(Invoice, draft.id).number is None


def test_due_date_defaults_from_creditor_days_and_cannot_be_before_the_issue_date(ctx):
    customer = factories.customer(creditor_days=30)
    admin = factories.user("admin")
    draft = invoices.create_draft(ctx, admin, customer.id, {"issue_date": "2026-01-31", "lines": []}, key())
    assert draft.due_date == date(2026, 3, 2)
    with pytest.raises(Invalid) as error:
        invoices.create_draft(ctx, admin, customer.id, {"issue_date": "2026-01-31", "due_date": "2026-01-30",
                                                        "lines": []}, key())
    assert "before the issue date" in error.value.errors["due_date"][0]


def test_a_part_payment_then_an_overpayment_leaves_account_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, (1, "100.00"))
    pay(invoice, "30.00")
    ctx.refresh(invoice)
    assert (invoice.status, invoice.outstanding) == ("part_paid", D("70.00"))
    over = pay(invoice, "100.00")
    ctx.refresh(invoice)
    assert (invoice.status, invoice.outstanding) == ("paid", D("0.00"))
    assert over.unallocated == D("30.00") and over.is_credit
    figures = finances.figures(ctx, ctx.get(Customer, customer.id))
    assert (figures.credit, figures.debt, figures.balance) == (D("30.00"), D("0.00"), D("-30.00"))


@pytest.mark.parametrize("amount, message", [("0", "more than zero"), ("-5", "more than zero"),
                                             ("abc", "must be an amount"), ("1.234", "at most 2 decimals")])
def test_a_bad_payment_amount_is_refused_and_nothing_written(ctx, amount, message):
    customer = factories.customer()
    invoice = issued(customer, (1, "10.00"))
    with pytest.raises(Invalid) as error:
        pay(invoice, amount)
    assert message in error.value.errors["amount"][0]
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_payment_in_another_currency_is_a_422_naming_both(ctx):
    customer = factories.customer(currency="GBP")
    invoice = issued(customer, (1, "10.00"))
    with pytest.raises(Invalid) as error:
        pay(invoice, "5.00", currency="EUR")
    assert "GBP" in str(error.value) and "EUR" in str(error.value)


def test_the_same_key_twice_records_once(ctx):
    customer = factories.customer()
    invoice = issued(customer, (1, "10.00"))
    same = key()
    admin = factories.user("admin")
    payments.record_payment(ctx, admin, invoice.id, {"amount": "4.00", "method_id": cash()}, same)
    with pytest.raises(AlreadyDone):
        payments.record_payment(ctx, admin, invoice.id, {"amount": "4.00", "method_id": cash()}, same)
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Payment)) == 1
    assert balance(customer) == D("6.00")


def test_a_form_that_saw_another_outstanding_is_told_the_invoice_changed_meanwhile(ctx):
    customer = factories.customer()
    invoice = issued(customer, (1, "10.00"))
    pay(invoice, "4.00")
    with pytest.raises(Invalid) as error:
        pay(invoice, "10.00", seen_outstanding="10.00")
    assert "changed meanwhile" in error.value.errors["seen_outstanding"][0]


def test_void_releases_allocations_as_credit_keeps_the_number_and_posts_the_reversal(ctx):
    customer = factories.customer()
    invoice = issued(customer, (1, "50.00"))
    pay(invoice, "20.00")
    number = invoice.number
    invoices.void(ctx, factories.user("admin"), invoice.id, "Raised in error", key())
    ctx.refresh(invoice)
    assert (invoice.status, invoice.number, invoice.outstanding) == ("void", number, D("0"))
    assert finances.figures(ctx, ctx.get(Customer, customer.id)).credit == D("20.00")
    assert balance(customer) == D("-20.00")
    reversal = ctx.scalar(select(Allocation).where(Allocation.amount < 0))
    assert reversal.amount == D("-20.00") and reversal.reverses_id is not None
    assert ctx.scalar(select(Payment.is_credit)) is True  # listed with the credits now


def test_an_issued_invoice_is_never_deleted_a_draft_is(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    invoice = issued(customer, (1, "5.00"))
    with pytest.raises(Invalid) as error:
        invoices.delete_draft(ctx, admin, invoice.id)
    assert "Void it" in str(error.value)
    ctx.rollback()
    draft = invoices.create_draft(ctx, admin, customer.id, {"lines": []}, key())
    invoices.delete_draft(ctx, admin, draft.id)
    assert ctx.get(Invoice, draft.id) is None


def test_external_payment_and_manual_credit_are_account_credit_applied_to_oldest_invoices(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    old = issued(customer, (1, "30.00"), issue_date="2026-01-01", due_date="2026-01-15")
    new = issued(customer, (1, "30.00"), issue_date="2026-02-01", due_date="2026-02-15")
    external = payments.record_external(ctx, admin, customer.id, {"amount": "40.00", "method_id": cash()}, key())
    with pytest.raises(Invalid) as error:
        payments.add_credit(ctx, admin, customer.id, {"amount": "5.00"}, key())
    assert "reason" in error.value.errors
    ctx.rollback()
    goodwill = payments.add_credit(ctx, admin, customer.id, {"amount": "5.00", "reason": "Late visit"}, key())
    used, totals = payments.apply_to_oldest(ctx, admin, [external.id, goodwill.id], key())
    assert used == 2 and totals == {"GBP": D("45.00")}
    ctx.refresh(old), ctx.refresh(new)
    assert (old.status, new.status, new.outstanding) == ("paid", "part_paid", D("15.00"))


def test_refund_never_more_than_the_rest_and_void_takes_only_the_rest(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    credit = payments.record_external(ctx, admin, customer.id, {"amount": "40.00", "method_id": cash()}, key())
    with pytest.raises(Invalid) as error:
        payments.refund(ctx, admin, credit.id, {"amount": "41.00", "method_id": cash()}, key())
    assert "At most £40.00" in error.value.errors["amount"][0]
    ctx.rollback()
    payments.refund(ctx, admin, credit.id, {"amount": "15.00", "method_id": cash()}, key())
    payments.void_credit(ctx, admin, credit.id, "Customer left", key())
    ctx.refresh(credit)
    assert credit.unallocated == 0
    assert balance(customer) == 0


def test_edit_balance_is_an_adjustment_with_a_reason(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    with pytest.raises(Invalid):
        payments.adjust_balance(ctx, admin, customer.id, {"amount": "12.00"}, key())
    ctx.rollback()
    payments.adjust_balance(ctx, admin, customer.id, {"amount": "-12.00", "reason": "Opening balance"}, key())
    assert balance(customer) == D("-12.00")


def test_staff_and_resellers_post_no_money_and_another_resellers_invoice_is_not_found(ctx):
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    invoice = issued(theirs, (1, "10.00"))
    with pytest.raises(Forbidden):
        pay(invoice, "1.00", actor="staff")
    ctx.rollback()
    with pytest.raises((NotFound, Forbidden)):
        pay(invoice, "1.00", actor="reseller_a")
    ctx.rollback()
    with pytest.raises(NotFound):
        invoices.get_invoice(ctx, factories.user("reseller_a"), invoice.id)


def test_tax_precedence_exempt_then_special_rate_then_the_lines(ctx):
    admin = factories.user("admin")
    line = {"description": "Work", "quantity": 1, "unit_price": "100.00", "tax_rate_id": rate("Standard rate")}
    plain = factories.customer()
    special = factories.customer()
    exempt = factories.customer()
    ctx.get(Customer, special.id).tax_rate_id = rate("Reduced rate")
    ctx.get(Customer, exempt.id).tax_exempt = True
    ctx.get(Customer, exempt.id).tax_rate_id = rate("Reduced rate")
    ctx.commit()
    totals = [invoices.create_draft(ctx, admin, c.id, {"lines": [line]}, key()) for c in (plain, special, exempt)]
    assert [(i.total, i.lines[0].tax_name) for i in totals] == [
        (D("120.00"), "Standard rate"), (D("105.00"), "Reduced rate"), (D("100.00"), "Exempt")]


def test_charge_customer_is_a_one_line_invoice_issued_at_once(ctx):
    customer = factories.customer()
    invoice = invoices.charge(ctx, factories.user("admin"), customer.id,
                              {"description": "Call-out", "amount": "60.00", "tax_rate_id": rate("Standard rate")},
                              key())
    assert (invoice.status, invoice.total, len(invoice.lines)) == ("issued", D("72.00"), 1)
    assert balance(customer) == D("72.00")


def test_annual_value_and_debt_age(ctx):
    customer = factories.customer()
    today = date.today()
    old = issued(customer, (1, "10.00"), issue_date=str(today - timedelta(days=400)),
                 due_date=str(today - timedelta(days=390)))
    issued(customer, (1, "25.00"), issue_date=str(today - timedelta(days=20)), due_date=str(today - timedelta(days=6)))
    figures = finances.figures(ctx, ctx.get(Customer, customer.id))
    assert figures.annual_value == D("25.00") and figures.debt_days == 390 and figures.debt == D("35.00")
    assert old.number


def test_the_ledger_check_finds_a_balance_written_outside_the_ledger(ctx):
    customer = factories.customer()
    issued(customer, (1, "10.00"))
    assert ledger.check(ctx) == []
    ctx.get(Customer, customer.id).balance = D("99.00")
    ctx.flush()
    problems = ledger.check(ctx)
    assert [p.what for p in problems] == ["customer"] and "balance 99" in problems[0].problem
    ctx.rollback()


def test_every_posting_moves_the_balances_copy_the_sort_walks_and_the_check_finds_it_apart(ctx):
    customer = factories.customer()
    copy = select(CustomerBalance.balance).where(CustomerBalance.customer_id == customer.id)
    assert ctx.scalar(copy) == 0  # made with the customer (a trigger)
    issued(customer, (1, "10.00"))
    locked = ledger.lock(ctx, customer.id)
    ledger.post_many(ctx, [ledger.Posting(customer.id, locked.currency, D("2.50"), "adjustment", "adjustment", 1,
                                          date.today())])
    ledger.post(ctx, locked, D("-1.25"), "adjustment", Payment(id=2), date.today())
    assert ctx.scalar(copy) == ctx.scalar(select(Customer.balance).where(Customer.id == customer.id)) == D("11.25")
    ctx.rollback()
    ctx.execute(update(CustomerBalance).where(CustomerBalance.customer_id == customer.id).values(balance=D("3")))
    problems = ledger.check(ctx)
    assert [p.what for p in problems] == ["customer"] and problems[0].problem.endswith("customer_balance 3.0000")
    ctx.rollback()


def test_seeded_money_passes_the_ledger_check(ctx):
    from app.services.demo_data import generate
    counts = generate(ctx, 300, resellers=2, tags=3, seed=5)
    assert counts["invoice"] > 600 and counts["payment"] > 300 and counts["ledger_entry"] > counts["invoice"]
    assert ledger.check(ctx) == []
    before = ctx.get(DocumentSequence, "invoice").next_number
    customer = ctx.scalar(select(Customer).where(Customer.currency == "GBP").limit(1))
    invoice = issued(customer, (1, "10.00"))
    assert invoice.number == f"INV-{before}"  # numbering goes on after the seeded invoices


def test_save_and_issue_is_one_transaction(ctx):
    customer = factories.customer()
    admin = factories.user("admin")
    with pytest.raises(Invalid):
        invoices.create_draft(ctx, admin, customer.id, {"lines": []}, key(), issue_now=True)
    ctx.rollback()
    assert ctx.scalar(select(func.count()).select_from(Invoice)) == 0  # not even the draft
    invoice = invoices.create_draft(ctx, admin, customer.id, {"lines": [
        {"description": "Visit", "quantity": 1, "unit_price": "10.00", "tax_rate_id": rate("Zero rate")}]}, key(),
        issue_now=True)
    assert invoice.status == "issued" and invoice.number and balance(customer) == D("10.00")
