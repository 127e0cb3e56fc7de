"""Send statement for real (services/billing/statement_batch.py): a `flask worker` on Redis and
PostgreSQL is killed (SIGKILL, its whole process group) in the middle of a batch, the job is started
again from its page (the job's restart path) and a new worker finishes it: each customer gets exactly
one statement (message.send_key), none twice, none lost.

Deterministic without sleeps or timing: the test holds a row lock (FOR UPDATE) on one customer before
the worker starts, so the worker's INSERT of that customer's message (its foreign key takes FOR KEY
SHARE) waits there: every chunk before it is committed, the one it is in is not. The worker is killed
while it waits, then the lock is let go.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from app.extensions import db
from app.jobs import get_queue
from app.models import Customer, Job, Message, TaxRate
from app.services.billing import invoices, statement_batch
from tests import factories as f
from tests.conftest import PASSWORD, csrf_from, make_app

CUSTOMERS = 24  # a first chunk of statement_batch.CHUNK (20) committed; the worker waits in the second
LOCKED = 22  # the customer (by position) whose row the test holds
OLD = date.today() - timedelta(days=40)


@pytest.fixture
def worker_app(app, redis_url):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("needs PostgreSQL")
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url,
                     RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}", BULK_SYNC_LIMIT=0)
    yield other
    with other.app_context():
        queue = get_queue()
        queue.empty()
        for registry in (queue.failed_job_registry, queue.finished_job_registry, queue.canceled_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
        db.session.remove()
        db.engine.dispose()


def owing_customers(n: int) -> list[int]:
    """`n` customers with an e-mail address and an invoice 40 days overdue, in id order."""
    zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    ids = []
    for i in range(n):
        c = f.customer(first_name="Batch", surname=f"Payer{i}", email=f"batch{i}-{uuid.uuid4().hex[:6]}@example.com")
        invoices.create_draft(db.session, f.user("finance"), c.id, {
            "issue_date": OLD.isoformat(), "due_date": OLD.isoformat(),
            "lines": [{"description": "Work", "quantity": 1, "unit_price": "50.00", "tax_rate_id": zero}]},
            str(uuid.uuid4()), issue_now=True)
        ids.append(c.id)
    return ids


def start_worker(app, redis_url) -> subprocess.Popen:
    """A `flask worker` in a process group of its own (RQ's scheduler runs beside it: killed together)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "RQ_QUEUE": app.config["RQ_QUEUE"],
           "SECRET_KEY": "test-secret-key-that-is-long-enough-for-jwt", "FLASK_APP": "app:create_app",
           "MAIL_TRANSPORT": "outbox"}
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(what: str, check, seconds: float = 40):
    deadline = time.monotonic() + seconds
    while True:
        db.session.rollback()
        db.session.expire_all()
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.1)


def messages_of(job_id: int) -> list[tuple[int, str]]:
    return [tuple(r) for r in db.session.execute(select(Message.customer_id, Message.send_key)
                                                 .where(Message.batch_id == job_id))]


def waiting_on_the_lock(engine) -> bool:
    with engine.connect() as connection:
        return bool(connection.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
            "AND query ILIKE 'INSERT INTO message%'")))


def test_a_statement_batch_killed_mid_way_and_started_again_sends_each_customer_exactly_once(worker_app, redis_url):
    with worker_app.app_context():
        ids = owing_customers(CUSTOMERS)
        job = statement_batch.start(db.session, f.user("finance"), {"attach": "none"}, str(uuid.uuid4()), ids=ids)
        job_id = job.id
        assert job.status == "queued" and job.total == CUSTOMERS
        url = worker_app.config["SQLALCHEMY_DATABASE_URI"]
    holder = create_engine(url)
    lock = holder.connect()
    lock.begin()
    lock.execute(select(Customer.id).where(Customer.id == ids[LOCKED - 1]).with_for_update())
    worker = start_worker(worker_app, redis_url)
    try:
        with worker_app.app_context():
            wait_for("the first chunk", lambda: len(messages_of(job_id)) >= statement_batch.CHUNK)
            wait_for("the worker to wait on the held customer", lambda: waiting_on_the_lock(holder))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
            lock.rollback()
            lock.close()
            written = messages_of(job_id)
            assert len(written) == statement_batch.CHUNK  # the chunk it was in never committed
            db.session.expire_all()
            stopped = db.session.get(Job, job_id)
            assert stopped.status == "running" and stopped.done == statement_batch.CHUNK  # as the dead worker left it
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        holder.dispose()

    client = worker_app.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    client.post("/login/", data={"username": "finance", "password": PASSWORD, "csrf_token": token})
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)  # the page sees its runner is gone: stopped
    assert "Start again" in page
    assert client.post(f"/jobs/{job_id}/again", data={"csrf_token": token}).status_code == 302
    worker = start_worker(worker_app, redis_url)
    try:
        with worker_app.app_context():
            done = wait_for("the batch to finish", lambda: (lambda j: j if j.status in ("done", "failed") else None)(
                db.session.get(Job, job_id)))
            assert (done.status, done.done, done.error) == ("done", CUSTOMERS, None)
            written = messages_of(job_id)
            assert sorted(c for c, _ in written) == sorted(ids)  # each customer once
            assert {k for _, k in written} == {statement_batch.send_key(job_id, c) for c in ids}
            assert done.result["sent"] == CUSTOMERS and not done.result.get("skipped")
            wait_for("the statements to be delivered", lambda: db.session.scalar(
                select(func.count()).select_from(Message).where(Message.batch_id == job_id,
                                                                Message.status == "sent")) == CUSTOMERS)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
