"""Money under concurrency on PostgreSQL: two connections at once, both past their checks before
either takes the customer's lock. The totals stay right and the loser is told what changed."""
import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Invoice, Payment, PaymentMethod, TaxRate
from app.services.billing import finances, invoices, ledger, payments
from app.services.errors import AlreadyDone, Invalid
from tests import factories as f


def _key():
    return str(uuid.uuid4())


@pytest.fixture
def invoice(app):
    with app.app_context():
        admin = f.user("admin")
        customer = f.customer()
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        draft = invoices.create_draft(db.session, admin, customer.id, {"lines": [
            {"description": "Service", "quantity": 1, "unit_price": "100.00", "tax_rate_id": zero}]}, _key())
        issued = invoices.issue(db.session, admin, draft.id, _key())
        ids = issued.id, customer.id, db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
        db.session.remove()
        return ids


def _race(app, monkeypatch, *commands):
    """Run each command in its own thread and connection; each reaches the customer's lock only
    when all have passed their checks. Returns what each one ended with."""
    barrier = threading.Barrier(len(commands))
    original = ledger.lock

    def lock_together(session, customer_id):
        barrier.wait(timeout=10)
        return original(session, customer_id)
    monkeypatch.setattr(ledger, "lock", lock_together)
    outcomes = [None] * len(commands)

    def run(i, command):
        with app.app_context():
            try:
                outcomes[i] = command(db.session, f.user("finance"))
            except (Invalid, AlreadyDone) as error:
                db.session.rollback()
                outcomes[i] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(commands)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    monkeypatch.setattr(ledger, "lock", original)
    return outcomes


def test_two_payments_of_the_whole_invoice_at_once_record_one_and_tell_the_other(app, monkeypatch, invoice):
    invoice_id, customer_id, cash = invoice

    def pay(session, actor):
        return payments.record_payment(session, actor, invoice_id, {
            "amount": "100.00", "method_id": cash, "seen_outstanding": "100.00"}, _key()).id
    outcomes = _race(app, monkeypatch, pay, pay)
    errors = [o for o in outcomes if isinstance(o, Invalid)]
    assert len(errors) == 1 and "changed meanwhile" in errors[0].messages
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.session.get(Invoice, invoice_id).outstanding == 0
        assert db.session.scalar(select(Customer.balance).where(Customer.id == customer_id)) == 0
        assert ledger.check(db.session) == []


def test_a_void_racing_a_payment_leaves_the_money_as_credit_or_refuses_the_payment(app, monkeypatch, invoice):
    invoice_id, customer_id, cash = invoice

    def pay(session, actor):
        return payments.record_payment(session, actor, invoice_id, {"amount": "60.00", "method_id": cash}, _key()).id

    def void(session, actor):
        return invoices.void(session, actor, invoice_id, "Raised twice", _key()).id
    paid, voided = _race(app, monkeypatch, pay, void)
    assert voided == invoice_id  # the void always goes through
    with app.app_context():
        customer = db.session.get(Customer, customer_id)
        figures = finances.figures(db.session, customer)
        assert db.session.get(Invoice, invoice_id).status == "void"
        if isinstance(paid, Invalid):  # the void went first: the payment is refused, nothing written
            assert "changed meanwhile" in paid.messages
            assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
            assert figures.balance == 0 and figures.credit == 0
        else:  # the payment went first: the void gave it back as account credit
            assert figures.credit == Decimal("60.00") and figures.balance == Decimal("-60.00")
        assert ledger.check(db.session) == []


def test_two_refunds_of_the_whole_credit_at_once_refund_it_once(app, monkeypatch, invoice):
    _, customer_id, cash = invoice
    with app.app_context():
        credit = payments.record_external(db.session, f.user("finance"), customer_id,
                                          {"amount": "40.00", "method_id": cash}, _key()).id
        db.session.remove()

    def refund(session, actor):
        return payments.refund(session, actor, credit, {"amount": "40.00", "method_id": cash}, _key()).id
    outcomes = _race(app, monkeypatch, refund, refund)
    assert sum(isinstance(o, Invalid) for o in outcomes) == 1
    with app.app_context():
        assert db.session.get(Payment, credit).unallocated == 0
        assert ledger.check(db.session) == []
