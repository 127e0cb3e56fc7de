"""Cash allocation under concurrency on PostgreSQL: two users at once, both past their checks before
either takes the customer's lock. Never over-allocated; the loser is told what changed."""
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Allocation, Customer, Invoice, Payment, PaymentMethod, TaxRate
from app.services.billing import allocation, invoices, ledger, payments
from app.services.errors import Invalid
from tests import factories as f
from tests.integration.test_money_concurrency import _race


def _key():
    return str(uuid.uuid4())


@pytest.fixture
def customer_with_invoices(app):
    """A customer with two issued invoices of 100.00 and an external payment of 100.00 as credit."""
    with app.app_context():
        admin = f.user("admin")
        customer = f.customer()
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        made = [invoices.create_draft(db.session, admin, customer.id, {"lines": [
            {"description": "Service", "quantity": 1, "unit_price": "100.00", "tax_rate_id": zero}]}, _key(),
            issue_now=True).id for _ in range(2)]
        cash = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
        credit = payments.record_external(db.session, admin, customer.id, {"amount": "100.00", "method_id": cash},
                                          _key()).id
        ids = customer.id, made, credit, cash
        db.session.remove()
        return ids


def test_two_users_allocating_the_same_credit_at_once_never_over_allocate_it(app, monkeypatch, customer_with_invoices):
    customer_id, (first, second), credit, _ = customer_with_invoices

    def allocate_to(invoice_id):
        def command(session, actor):
            return allocation.save(session, actor, customer_id, {
                "source_id": credit, "seen_unallocated": "100.00",
                "rows": [{"invoice_id": invoice_id, "amount": "100.00", "seen_outstanding": "100.00"}]}, _key())
        return command
    outcomes = _race(app, monkeypatch, allocate_to(first), allocate_to(second))
    losers = [o for o in outcomes if isinstance(o, Invalid)]
    assert len(losers) == 1 and "seen_unallocated" in losers[0].errors and allocation.CHANGED in losers[0].errors
    with app.app_context():
        assert db.session.get(Payment, credit).unallocated == 0
        assert sorted(i.outstanding for i in db.session.scalars(select(Invoice))) == [Decimal(0), Decimal(100)]
        assert db.session.scalar(select(func.count(Allocation.id))) == 1
        assert ledger.check(db.session) == []


def test_two_users_paying_the_same_invoice_at_once_pay_it_once_and_the_loser_is_told(app, monkeypatch,
                                                                                    customer_with_invoices):
    customer_id, (first, _), _, cash = customer_with_invoices

    def pay(session, actor):
        return allocation.save(session, actor, customer_id, {
            "amount": "100.00", "method_id": cash,
            "rows": [{"invoice_id": first, "amount": "100.00", "seen_outstanding": "100.00"}]}, _key())
    outcomes = _race(app, monkeypatch, pay, pay)
    losers = [o for o in outcomes if isinstance(o, Invalid)]
    assert len(losers) == 1 and "rows.0.seen_outstanding" in losers[0].errors
    assert "changed" in losers[0].errors[allocation.CHANGED][0]
    with app.app_context():
        assert db.session.get(Invoice, first).outstanding == 0
        assert db.session.scalar(select(func.count(Payment.id)).where(Payment.kind == "payment")) == 1
        assert db.session.scalar(select(Customer.balance).where(Customer.id == customer_id)) == Decimal("0")
        assert ledger.check(db.session) == []


def test_an_unallocation_racing_an_allocation_of_the_same_invoice_keeps_the_figures_right(app, monkeypatch,
                                                                                       customer_with_invoices):
    customer_id, (first, _), credit, cash = customer_with_invoices
    with app.app_context():
        done = allocation.save(db.session, f.user("finance"), customer_id, {
            "source_id": credit, "rows": [{"invoice_id": first, "amount": "60.00"}]}, _key())
        allocated = done.allocations[0].id
        db.session.remove()

    def unallocate(session, actor):
        return allocation.unallocate(session, actor, allocated, _key()).id

    def pay_the_rest(session, actor):
        return allocation.save(session, actor, customer_id, {
            "amount": "40.00", "method_id": cash,
            "rows": [{"invoice_id": first, "amount": "40.00", "seen_outstanding": "40.00"}]}, _key()).source.id
    undone, paid = _race(app, monkeypatch, unallocate, pay_the_rest)
    assert not isinstance(undone, Exception)
    with app.app_context():
        invoice = db.session.get(Invoice, first)
        if isinstance(paid, Invalid):  # the un-allocation went first: 100.00 outstanding, not the 40.00 seen
            assert invoice.outstanding == Decimal(100) and "rows.0.seen_outstanding" in paid.errors
        else:
            assert invoice.outstanding == Decimal(60) and invoice.status == "part_paid"
        assert db.session.get(Payment, credit).unallocated == Decimal(100)
        assert ledger.check(db.session) == []
