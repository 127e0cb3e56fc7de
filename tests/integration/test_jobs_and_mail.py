"""Background work for real: Redis, an RQ worker and an SMTP server (aiosmtpd) in this process.

Delivery is by id and at most once: a job run twice sends once; a worker killed mid-send sends
nothing twice (only the message it was sending is in doubt, "uncertain"; the others go out with
the next run); a failing server gets retries, then "failed" with its reply.
(More faults, one by one: test_delivery_faults.py.)
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
from app.jobs import get_queue, tasks
from app.jobs.worker import AppWorker
from app.models import Customer, Message, MessageAttempt
from app.models.resellers import utcnow
from app.services.messages import delivery, outbox
from tests import factories as f
from tests.conftest import PASSWORD, csrf_from, make_app
from tests.smtp_sink import mail_settings, smtp  # noqa: F401  (smtp: a fixture)


@pytest.fixture
def worker_app(app, redis_url, smtp):
    """The app as a worker sees it: Redis for jobs, SMTP for mail, retries without waiting."""
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL=redis_url, RQ_QUEUE=queue_name,
                     **mail_settings(smtp), MESSAGE_RETRY_DELAYS=[0, 0], BULK_SYNC_LIMIT=2)
    yield other
    with other.app_context():
        get_queue().empty()
        db.session.remove()
        db.engine.dispose()


def customers_with_email(n, prefix="r"):
    return [f.customer(email=f"{prefix}{i}@example.com").id for i in range(n)]


def queue_email(app, ids, body="Hello {first_name}"):
    """Write e-mails to the outbox as the compose screen does; returns the queued message ids."""
    job = outbox.start(db.session, f.user("admin"), outbox.clean("email", {"subject": "Hi", "body": body}), ids=ids)
    queued = outbox.write(db.session, job, app.config)
    db.session.commit()
    return queued


def drain(app):
    queue = get_queue()
    AppWorker([queue], connection=queue.connection).work(burst=True)
    failed = [queue.fetch_job(i) for i in queue.failed_job_registry.get_job_ids()]
    assert not failed, [job.latest_result().exc_string for job in failed if job]


def test_a_worker_delivers_queued_e_mail_by_smtp_and_logs_each_attempt(worker_app, smtp):
    with worker_app.app_context():
        ids = customers_with_email(3)
        queued = queue_email(worker_app, ids)
        assert tasks.queue_delivery(queued) == 1 and get_queue().count == 1
        assert {m.status for m in db.session.scalars(select(Message))} == {"queued"}
        drain(worker_app)
        db.session.expire_all()
        messages = db.session.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.status, m.transport, m.attempts) for m in messages] == [("sent", "smtp", 1)] * 3
        assert sorted(r for r, _, _ in smtp.received) == ["r0@example.com", "r1@example.com", "r2@example.com"]
        content = {r: content for r, content, _ in smtp.received}["r0@example.com"]
        assert content.count("Message-ID:") == 1 and f"Message-ID: <message-{messages[0].id}@example.com>" in content
        assert db.session.scalar(select(MessageAttempt.outcome).where(MessageAttempt.message_id == messages[0].id)) \
            == "sent"


def test_the_same_delivery_job_run_twice_sends_once(worker_app, smtp):
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(2, "twice"))
        tasks.queue_delivery(queued)
        tasks.queue_delivery(queued)
        drain(worker_app)
        assert sorted(r for r, _, _ in smtp.received) == ["twice0@example.com", "twice1@example.com"]


def test_a_failing_server_gets_retries_then_the_message_fails_with_its_reply(worker_app, smtp):
    smtp.reply = "451 4.3.0 Mailbox busy, try later"
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(1, "busy"))
        tasks.queue_delivery(queued)
        drain(worker_app)
        db.session.expire_all()
        message = db.session.get(Message, queued[0])
        assert (message.status, message.attempts) == ("failed", 3)
        assert "451" in message.error and "Mailbox busy" in message.error
        outcomes = db.session.scalars(select(MessageAttempt.outcome).where(MessageAttempt.message_id == message.id)
                                      .order_by(MessageAttempt.id)).all()
        assert outcomes == ["retry", "retry", "failed"]


def test_a_permanent_refusal_fails_at_once(worker_app, smtp):
    smtp.reply = "550 5.1.1 No such user"
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(1, "nouser"))
        tasks.queue_delivery(queued)
        drain(worker_app)
        db.session.expire_all()
        message = db.session.get(Message, queued[0])
        assert (message.status, message.attempts) == ("failed", 1) and "550" in message.error


def test_a_worker_killed_mid_send_sends_nothing_twice_and_leaves_only_that_message_in_doubt(
        worker_app, smtp, redis_url):
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(3, "killed"))
        tasks.queue_delivery(queued)
        url = worker_app.config["SQLALCHEMY_DATABASE_URI"]
        queue_name = worker_app.config["RQ_QUEUE"]
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "RQ_QUEUE": queue_name,
           "SECRET_KEY": "test-secret-key-that-is-long-enough-for-jwt", "FLASK_APP": "app:create_app",
           "MAIL_TRANSPORT": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp.port),
           "MAIL_DEFAULT_SENDER": "office@example.com", "MESSAGE_RETRY_DELAYS": "0,0",
           "DELIVERY_LEASE_SECONDS": "1"}
    smtp.hold_from = 2  # the first message goes through; the worker is killed sending the second
    smtp.hold = True
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--burst"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert smtp.holding.wait(60), "the worker never reached the SMTP server"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert smtp.dropped.wait(10), "the server never saw the killed worker go"
    finally:
        if worker.poll() is None:
            worker.kill()
        smtp.release()
    assert [r for r, _, _ in smtp.received] == ["killed0@example.com"] and smtp.seen == 2
    with worker_app.app_context():
        db.session.expire_all()
        # One message at a time: the first is recorded sent, the second was being sent, the third never tried.
        assert [db.session.get(Message, i).status for i in queued] == ["sent", "sending", "queued"]
        # Its lease (1 s) lapses, as no worker renews it: recover() gives it up as uncertain, once.
        deadline = time.monotonic() + 10
        while not delivery.recover(db.session, worker_app.config):
            assert time.monotonic() < deadline, "the killed worker's lease never lapsed"
            time.sleep(0.1)
        assert delivery.recover(db.session, worker_app.config) == 0
        # The killed worker's job is gone with it; the next run of due work sends the one never tried.
        tasks.run_due()
        db.session.expire_all()
        assert [r for r, _, _ in smtp.received] == ["killed0@example.com", "killed2@example.com"]
        assert smtp.seen == 3  # nothing twice
        messages = [db.session.get(Message, i) for i in queued]
        assert [(m.status, m.attempts) for m in messages] == [("sent", 1), ("uncertain", 1), ("sent", 1)]
        assert messages[1].error.startswith("Interrupted while sending")
        assert [a.outcome for a in messages[1].attempt_log] == ["interrupted"]


def test_a_large_bulk_action_runs_in_the_worker_and_its_page_shows_the_progress(worker_app, redis_url):
    with worker_app.app_context():
        ids = [f.customer().id for _ in range(5)]
    client = worker_app.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    client.post("/login/", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    page = client.post("/customers/action_post", data={"action": "disable", "rowid": [str(i) for i in ids],
                                                       "csrf_token": token}).get_data(as_text=True)
    import re
    key = re.search(r'name="form_key" value="([^"]+)"', page).group(1)
    r = client.post("/customers/bulk/disable", data={"rowid": [str(i) for i in ids], "form_key": key,
                                                     "csrf_token": token})
    progress_url = r.headers["Location"] + "/progress"
    assert client.get(progress_url).get_json()["status"] == "queued"  # over BULK_SYNC_LIMIT: a job
    assert "Waiting for a worker" in client.get(r.headers["Location"]).get_data(as_text=True)
    with worker_app.app_context():
        assert [db.session.get(Customer, i).status for i in ids] == ["active"] * 5
        drain(worker_app)
        db.session.expire_all()
        assert [db.session.get(Customer, i).status for i in ids] == ["disabled"] * 5
    done = client.get(progress_url).get_json()
    assert done["status"] == "done" and done["result"]["changed"] == 5 and done["percent"] == 100


def test_the_worker_command_refuses_to_start_without_redis(app):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(FLASK_APP="app:create_app", SECRET_KEY="test-secret-key-that-is-long-enough-for-jwt",
               DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"])
    r = subprocess.run([sys.executable, "-m", "flask", "worker", "--burst"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "Set REDIS_URL" in r.stderr


def test_redis_is_the_queue(worker_app, redis_url):
    with worker_app.app_context():
        assert get_queue().connection.ping()
        assert isinstance(get_queue().connection, redis.Redis)


def test_a_mailbox_with_accents_gets_its_mail_and_one_that_cannot_be_built_fails_alone(worker_app, smtp):
    with worker_app.app_context():
        ids = [f.customer(email="zoë.ó'súilleabháin@example.com").id, f.customer(email="plain@example.com").id]
        queued = queue_email(worker_app, ids)
        broken = db.session.get(Message, queued[0])
        broken.recipient = "not an address\r\nBcc: victim@example.com"
        copy = Message(customer_id=ids[0], channel="email", subject="S", body="B", status="queued",
                       recipient="zoë.ó'súilleabháin@example.com")
        db.session.add(copy)
        db.session.commit()
        ids = [*queued, copy.id]
        tasks.queue_delivery(ids)
        drain(worker_app)
        db.session.expire_all()
        statuses = [db.session.get(Message, i).status for i in ids]
        assert statuses == ["failed", "sent", "sent"]
        assert sorted((r, utf8) for r, _, utf8 in smtp.received) == [
            ("plain@example.com", False), ("zoë.ó'súilleabháin@example.com", True)]  # SMTPUTF8 only when needed
        assert "victim" not in " ".join(content for _, content, _ in smtp.received)


def test_the_worker_marks_messages_a_dead_worker_left_sending_as_uncertain(worker_app):
    with worker_app.app_context():
        [customer_id] = customers_with_email(1)
        stuck = Message(customer_id=customer_id, channel="email", subject="S", body="B", status="sending",
                        recipient="stuck@example.com", attempts=1, claimed_by="elsewhere:1:1",
                        claimed_at=utcnow() - timedelta(minutes=5), lease_until=utcnow() - timedelta(minutes=1))
        held = Message(customer_id=customer_id, channel="email", subject="S", body="B", status="sending",
                       recipient="held@example.com", attempts=1, claimed_by="elsewhere:2:1",
                       claimed_at=utcnow() - timedelta(minutes=5), lease_until=utcnow() + timedelta(minutes=1))
        db.session.add_all([stuck, held])
        db.session.commit()
        stuck_id, held_id = stuck.id, held.id
        drain(worker_app)  # a worker's maintenance runs when it starts, then every DELIVERY_MAINTENANCE_SECONDS
        db.session.expire_all()
        assert db.session.get(Message, stuck_id).status == "uncertain"
        assert db.session.get(Message, held_id).status == "sending"  # its worker still renews its lease
