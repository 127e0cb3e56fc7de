"""Periodic jobs for real: Redis, RQ's CronScheduler and workers, PostgreSQL.

A periodic job fires through a worker once per slot, however many schedulers there are; a real
`flask worker` runs the declared due work on its schedule and gives its scheduler's lock up when
it stops; a job that failed is retried from the job monitor (a failed RQ job requeued, a failed
periodic job made due now) and runs.
"""
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from app.extensions import db
from app.jobs import get_queue, schedule, tasks
from app.jobs.worker import AppWorker, PeriodicScheduler
from app.models import Message, PeriodicJob
from app.models.resellers import utcnow
from app.services import periodic
from app.services.messages import outbox
from tests import factories as f
from tests.conftest import PASSWORD, csrf_from, make_app
from tests.smtp_sink import mail_settings, smtp  # noqa: F401  (smtp: a fixture)

FIXED = {"path": None}


def fails_until_fixed(path):
    """An RQ job that fails while the file at `path` says "broken"."""
    with open(path) as file:
        if file.read().strip() == "broken":
            raise RuntimeError("the remote end is broken")
    return "ok"


class Counting:
    def __init__(self):
        self.runs, self.fail = 0, None

    def __call__(self):
        self.runs += 1
        if self.fail:
            raise RuntimeError(self.fail)
        return {"done": self.runs}


@pytest.fixture
def worker_app(app, redis_url):
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url,
                     RQ_QUEUE=f"test-{uuid.uuid4().hex[:8]}")
    yield other
    with other.app_context():
        queue = get_queue()
        queue.empty()
        for registry in (queue.failed_job_registry, queue.finished_job_registry, queue.canceled_job_registry):
            for job_id in registry.get_job_ids():
                registry.remove(job_id, delete_job=True)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def hourly(monkeypatch):
    task = Counting()
    monkeypatch.setattr(schedule, "PERIODIC", (periodic.Periodic("test-hourly", "Test hourly", task, every=3600),))
    return task


def drain():
    queue = get_queue()
    AppWorker([queue], connection=queue.connection).work(burst=True)


def periodic_row(name):
    db.session.expire_all()
    return db.session.scalar(select(PeriodicJob).where(PeriodicJob.name == name))


def test_a_periodic_job_fires_through_the_worker_once_however_many_schedulers(worker_app, hourly):
    with worker_app.app_context():
        queue = get_queue()
        first, second = PeriodicScheduler(worker_app, queue), PeriodicScheduler(worker_app, queue)
        try:
            assert first.tick() == ["test-hourly"]  # new interval jobs run at once
            assert second.tick() == []  # the first holds the lock
            assert first.tick() == []  # its next slot is on the hour
            queue.enqueue(tasks.run_periodic, "test-hourly")  # a second copy (a lock taken over mid-turn)
            drain()
            assert hourly.runs == 1
            row = periodic_row("test-hourly")
            assert (row.last_status, row.last_result) == ("done", {"done": 1})
            assert row.next_due_at > utcnow() and row.next_due_at.minute == 0 and row.next_due_at.second == 0
            jobs = [queue.fetch_job(i) for i in queue.finished_job_registry.get_job_ids()]
            assert sorted(str(j.return_value().get("ran")) for j in jobs) == ["False", "True"]
        finally:
            first.release()
            second.release()
        assert second.tick() == []  # the lock is free again: the second takes it, nothing is due
        second.release()


def test_a_cron_job_missed_while_no_worker_ran_is_caught_up_once(worker_app, monkeypatch):
    task = Counting()
    daily = periodic.Periodic("test-daily", "Test daily", task, cron="0 6 * * *")
    monkeypatch.setattr(schedule, "PERIODIC", (daily,))
    with worker_app.app_context():
        periodic.ensure(db.session, [daily])
        db.session.execute(PeriodicJob.__table__.update().values(next_due_at=utcnow() - timedelta(days=3)))
        db.session.commit()
        scheduler = PeriodicScheduler(worker_app, get_queue())
        try:
            assert scheduler.tick() == ["test-daily"]  # RQ's cron waits for 06:00; the catch-up does not
            assert scheduler.tick() == []
        finally:
            scheduler.release()
        drain()
        assert task.runs == 1 and periodic_row("test-daily").next_due_at > utcnow()


def test_flask_worker_runs_the_declared_due_work_on_its_schedule_and_frees_its_lock(worker_app, smtp, redis_url):
    with worker_app.app_context():
        customer = f.customer(email="cron@example.com")
        job = outbox.start(db.session, f.user("admin"), outbox.clean("email", {"subject": "Hi", "body": "Hello"}),
                           ids=[customer.id])
        [message_id] = outbox.write(db.session, job, worker_app.config)  # queued, due now; no job queued for it
        db.session.commit()
        queue_name = worker_app.config["RQ_QUEUE"]
    env = {**os.environ, "DATABASE_URL": worker_app.config["SQLALCHEMY_DATABASE_URI"], "REDIS_URL": redis_url,
           "RQ_QUEUE": queue_name, "SECRET_KEY": "test-secret-key-that-is-long-enough-for-jwt",
           "FLASK_APP": "app:create_app", "MAIL_TRANSPORT": "smtp", "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp.port), "MAIL_DEFAULT_SENDER": "office@example.com"}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with worker_app.app_context():
            deadline = time.monotonic() + 60
            while True:
                row = periodic_row(schedule.DUE_WORK)
                if row is not None and row.last_status == "done":
                    break
                assert time.monotonic() < deadline, "the worker never ran the due work"
                time.sleep(0.2)
            assert row.last_result.get("sent") == 1 and row.next_due_at > utcnow()
            assert db.session.get(Message, message_id).status == "sent"
            lock = redis.Redis.from_url(redis_url).get(f"rq:periodic-lock:{queue_name}")
            assert lock is not None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    assert [r for r, _, _ in smtp.received] == ["cron@example.com"]
    assert redis.Redis.from_url(redis_url).get(f"rq:periodic-lock:{queue_name}") is None  # another may take over


def test_failed_jobs_are_retried_from_the_monitor_and_run(worker_app, hourly, tmp_path):
    switch = tmp_path / "remote"
    switch.write_text("broken")
    with worker_app.app_context():
        queue = get_queue()
        failed = queue.enqueue(fails_until_fixed, str(switch))
        hourly.fail = "no route to host"
        queue.enqueue(tasks.run_periodic, "test-hourly")
        drain()
        assert failed.id in queue.failed_job_registry
        assert periodic_row("test-hourly").last_error == "RuntimeError: no route to host"

    client = worker_app.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    client.post("/login/", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    html = client.get("/job-monitor/").get_data(as_text=True)
    assert "RuntimeError: the remote end is broken" in html and "RuntimeError: no route to host" in html
    assert "RQ is not in use" not in html

    switch.write_text("fixed")
    hourly.fail = None
    assert client.post(f"/job-monitor/rq/{failed.id}/retry", data={"csrf_token": token}).status_code == 302
    assert client.post("/job-monitor/periodic/test-hourly/retry", data={"csrf_token": token}).status_code == 302
    with worker_app.app_context():
        queue = get_queue()
        assert queue.count == 2  # both back in the queue, for a worker
        drain()
        assert queue.fetch_job(failed.id).return_value() == "ok"
        row = periodic_row("test-hourly")
        assert (row.last_status, row.last_error, hourly.runs) == ("done", None, 2)
    html = client.get("/job-monitor/").get_data(as_text=True)
    assert f'id="retry-{failed.id}"' not in html and "RuntimeError: no route to host" not in html


def test_periodic_runs_get_the_apps_job_timeout_not_rqs_default(worker_app, hourly):
    with worker_app.app_context():
        queue = get_queue()
        scheduler = PeriodicScheduler(worker_app, queue)
        try:
            scheduler.tick()
        finally:
            scheduler.release()
        [job] = [queue.fetch_job(i) for i in queue.get_job_ids()]
        assert job.func_name == "app.jobs.tasks.run_periodic" and job.args == ("test-hourly",)
        assert job.timeout == worker_app.config.get("RQ_JOB_TIMEOUT", 3600)
