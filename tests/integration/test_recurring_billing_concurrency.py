"""Billing runs at once on PostgreSQL: each period is billed once whoever gets there first, whether the
second run waits at the customers' lock or (that lock taken away) only the period's claim stands in its way."""
import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, CustomerService, Invoice, InvoiceLine, TaxRate
from app.models.recurring import ServicePeriod
from app.services.billing import ledger, recurring
from tests import factories as f

JAN = date(2027, 1, 1)


@pytest.fixture
def customers(app):
    with app.app_context():
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        ids = []
        for _ in range(6):
            owner = f.customer()
            for name in ("Broadband", "Static IP"):
                db.session.add(CustomerService(customer_id=owner.id, name=name, price=Decimal("10.00"),
                                               billing_cycle="monthly", status="active", started_on=JAN,
                                               next_billing_on=JAN, billing_day=1, tax_rate_id=zero))
            ids.append(owner.id)
        db.session.commit()
        db.session.remove()
        return ids


def _two_runs(app, monkeypatch, module, name, before=None):
    """Two runs, each in its own thread and connection, meeting at `module.name` (ledger.lock_many: both
    past their choice of customers; recurring._billed_before: both past their reading of what is due) before
    either goes on; `before` stands in for what runs first there (default: the real one). The reports,
    or the errors."""
    barrier = threading.Barrier(2)
    original = getattr(module, name)

    met = threading.local()

    def together(*args):
        if not getattr(met, "done", False):  # each run's first time there (a chunk read again goes on alone)
            met.done = True
            barrier.wait(timeout=10)
        return (before or original)(*args)
    monkeypatch.setattr(module, name, together)
    outcomes = [None, None]

    def run(i):
        with app.app_context():
            try:
                report = recurring.run(db.session, date(2027, 3, 5), f"run {i}", {**app.config}, chunk=4)
                outcomes[i] = (report.invoices, report.lines)
            except Exception as error:  # noqa: BLE001  reported by the test
                outcomes[i] = error
            finally:
                db.session.remove()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    return outcomes


def _each_period_once(app, customer_ids):
    with app.app_context():
        lines = db.session.scalar(select(func.count()).select_from(InvoiceLine))
        periods = db.session.execute(select(ServicePeriod.service_id, ServicePeriod.starts_on,
                                            ServicePeriod.invoice_line_id)).all()
        assert lines == len(periods) == len(customer_ids) * 2 * 3  # two services, Jan to Mar
        assert all(line_id is not None for _, _, line_id in periods)
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == len(customer_ids)
        assert [b for b in db.session.scalars(select(Customer.balance).where(Customer.id.in_(customer_ids)))] == \
            [Decimal("60.00")] * len(customer_ids)
        assert set(db.session.scalars(select(CustomerService.next_billing_on))) == {date(2027, 4, 1)}
        assert ledger.check(db.session) == []


def test_two_runs_at_once_bill_each_period_once(app, monkeypatch, customers):
    outcomes = _two_runs(app, monkeypatch, ledger, "lock_many")
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert sum(o[0] for o in outcomes) == len(customers)
    _each_period_once(app, customers)


def test_without_the_customers_lock_the_periods_claim_alone_bills_each_once(app, monkeypatch, customers):
    def no_lock(session, ids):  # the claim is the backstop: the second run's insert waits, fails, reads again
        session.info.setdefault(ledger.LOCKED, set()).update(ids)
        return set(ids)
    monkeypatch.setattr(ledger, "lock_many", no_lock)
    outcomes = _two_runs(app, monkeypatch, recurring, "_billed_before")
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert sum(o[0] for o in outcomes) == len(customers)
    _each_period_once(app, customers)
