"""The daily billing run for real: RQ's scheduler enqueues the "recurring-billing" periodic job, a worker
runs it on PostgreSQL, and a second slot (made due again) bills nothing more."""
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.extensions import db
from app.jobs import get_queue, schedule
from app.jobs.worker import PeriodicScheduler
from app.models import CustomerService, Invoice, PeriodicJob, TaxRate
from app.models.resellers import utcnow
from app.services import periodic
from tests import factories as f
from tests.integration.test_periodic_jobs import drain, periodic_row, worker_app  # noqa: F401  (a fixture)


def _fire(app):
    with app.app_context():
        db.session.execute(PeriodicJob.__table__.update().where(PeriodicJob.name == schedule.RECURRING_BILLING)
                           .values(next_due_at=utcnow() - timedelta(days=3)))  # missed while no worker ran
        db.session.commit()
        scheduler = PeriodicScheduler(app, get_queue())
        try:
            assert scheduler.tick() == [schedule.RECURRING_BILLING]
        finally:
            scheduler.release()
        drain()


def test_a_worker_runs_the_daily_billing_job_and_a_second_slot_bills_nothing(worker_app, monkeypatch):
    job = periodic.find(schedule.jobs(), schedule.RECURRING_BILLING)
    monkeypatch.setattr(schedule, "PERIODIC", (job,))
    with worker_app.app_context():
        owner = f.customer()
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        started = date.today() - timedelta(days=40)  # two periods due: a catch-up
        db.session.add(CustomerService(customer_id=owner.id, name="Broadband", price=Decimal("25.00"),
                                       billing_cycle="monthly", status="active", started_on=started,
                                       next_billing_on=started, billing_day=started.day, tax_rate_id=zero))
        db.session.commit()
        periodic.ensure(db.session, [job])
    _fire(worker_app)
    with worker_app.app_context():
        row = periodic_row(schedule.RECURRING_BILLING)
        assert (row.last_status, row.last_result["invoices"], row.last_result["lines"]) == ("done", 1, 2)
    _fire(worker_app)
    with worker_app.app_context():
        row = periodic_row(schedule.RECURRING_BILLING)
        assert (row.last_status, row.last_result["invoices"]) == ("done", 0)
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1
