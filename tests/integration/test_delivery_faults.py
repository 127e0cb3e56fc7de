"""Message delivery survives every fault (issue 11), each proven on PostgreSQL with Redis, real
`flask worker` processes and an SMTP server (tests/smtp_sink.py) that misbehaves on cue:

- a crash after a transient failure, or a retry job lost, or Redis refusing the enqueue: the
  messages wait in the database, due, and due work (run_due, a worker's maintenance) sends
  them, once;
- a late reply (after the server had the body): "uncertain", one copy, never tried again;
  a reply slower than MAIL_TIMEOUT but within MAIL_DATA_TIMEOUT: sent;
- a server that stalls before the body: a transient failure, retried, sent once;
- a slow send keeps its lease: recovery leaves it alone; a send whose claim was taken away
  records nothing but a "late" attempt;
- a worker killed mid-batch: only the message it was sending is in doubt ("uncertain"); the
  never-tried ones go out once with the next worker;
- opt-outs and status changes after queueing: skipped at send time, with the reason;
- an idle worker runs its maintenance as often as DELIVERY_MAINTENANCE_SECONDS says;
- RQ's scheduler stops when its worker is killed, and another worker takes its lock over;
- a soak: 10,000 messages through a killed worker, a stalling and late-answering server and an
  unsubscribe: nobody gets two copies, nothing is left queued or sending.
- a worker killed while running due work, or after taking it from the queue and before marking it
  started, does not keep the next from running it; a server that
  stalls at QUIT holds a worker no longer than MAIL_TIMEOUT.
"""
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta

import pytest
import redis
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, update

from app.extensions import db
from app.jobs import get_queue, tasks
from app.models import Contact, Customer, Message, MessageAttempt
from app.models.resellers import utcnow
from app.services.customers import contacts
from app.services.db import insert_rows
from app.services.messages import delivery
from tests import factories as f
from tests.conftest import Browser, make_app
from tests.integration.test_jobs_and_mail import customers_with_email, drain, queue_email
from tests.smtp_sink import mail_settings, smtp  # noqa: F401  (smtp: a fixture)

SECRET = "test-secret-key-that-is-long-enough-for-jwt"
# The settings a `flask worker` process is given from the test app's config (config.py reads them).
SHARED = ("REDIS_URL", "RQ_QUEUE", "MAIL_TRANSPORT", "MAIL_SERVER", "MAIL_PORT", "MAIL_DEFAULT_SENDER",
          "MAIL_TIMEOUT", "MAIL_DATA_TIMEOUT", "MESSAGE_RETRY_DELAYS", "DELIVERY_LEASE_SECONDS",
          "DELIVERY_MAINTENANCE_SECONDS")
FAST = dict(MAIL_TIMEOUT=1, MAIL_DATA_TIMEOUT=1, DELIVERY_LEASE_SECONDS=2, DELIVERY_MAINTENANCE_SECONDS=1,
            MESSAGE_RETRY_DELAYS=[0, 1])


# ---- helpers ------------------------------------------------------------------------------

def wait_for(condition, timeout=20, interval=0.05, what="the condition", show=None):
    """Poll `condition` until it returns something true (returned), or fail after `timeout` s
    saying `what`, and what `show()` returns then (the workers' logs, say)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}" + (f"\n{show()}" if show else ""))
        time.sleep(interval)


@pytest.fixture
def make_worker_app(app, redis_url, smtp):
    """Builds the app as a worker sees it (Redis on a queue of its own, SMTP to the sink, short
    timeouts); `make_worker_app(**settings)` overrides settings. Cleans the queue's keys after."""
    made = []

    def build(**settings):
        config = {"REDIS_URL": redis_url, "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}", **mail_settings(smtp),
                  **FAST, **settings}
        built = make_app(app.config["SQLALCHEMY_DATABASE_URI"], **config)
        made.append(built)
        return built
    yield build
    connection = redis.Redis.from_url(redis_url)
    for built in made:
        with built.app_context():
            db.session.remove()
            db.engine.dispose()
        for key in connection.scan_iter(match=f"*{built.config['RQ_QUEUE']}*"):
            connection.delete(key)


@pytest.fixture
def workers(tmp_path):
    """Starts `flask worker` processes for an app (`workers.start(app, burst=False)`); each one's
    output goes to a log file, shown when a test fails. Those left running are killed after."""
    class Workers:
        def __init__(self):
            self.started = []

        def start(self, app, burst=False, **settings) -> subprocess.Popen:
            env = {**os.environ, "FLASK_APP": "app:create_app", "SECRET_KEY": SECRET,
                   "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
            for name in SHARED:
                value = settings.get(name, app.config[name])
                env[name] = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            log = open(tmp_path / f"worker-{len(self.started)}.log", "wb")
            process = subprocess.Popen([sys.executable, "-m", "flask", "worker", *(["--burst"] if burst else [])],
                                       env=env, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            process.log = tmp_path / f"worker-{len(self.started)}.log"
            process.children = []  # its scheduler's pid, once seen (killed after the test if still there)
            self.started.append(process)
            return process

        def logs(self) -> str:
            return "\n".join(f"--- worker {p.pid}\n" + p.log.read_text(errors="replace")[-4000:]
                             for p in self.started)

    started = Workers()
    yield started
    for process in started.started:
        for pid in [*process.children, *children_of(process.pid)]:
            if alive(pid) and b"flask" in _cmdline(pid):  # a scheduler left behind (as RQ's own would be)
                os.kill(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait(10)


def stop(worker: subprocess.Popen) -> int:
    """SIGTERM, as a supervisor stops a worker; its return code."""
    worker.send_signal(signal.SIGTERM)
    return worker.wait(20)


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL, as the OOM killer stops a worker; its children are noted first (none is left after the test)."""
    worker.children += children_of(worker.pid)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].decode().split()
    except OSError:
        return None


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie nobody has reaped yet has ended)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def messages(ids) -> list[Message]:
    db.session.expire_all()
    return [db.session.get(Message, i) for i in ids]


def statuses(ids) -> list[str]:
    return [m.status for m in messages(ids)]


def outcomes(message_id) -> list[str]:
    return list(db.session.scalars(select(MessageAttempt.outcome).where(MessageAttempt.message_id == message_id)
                                   .order_by(MessageAttempt.id)))


def counts_by_status() -> dict:
    db.session.rollback()
    return dict(db.session.execute(select(Message.status, func.count()).group_by(Message.status)).all())


def recipients(ids) -> list[str]:
    return [m.recipient for m in messages(ids)]


def many_customers(n: int, prefix: str) -> list[int]:
    """`n` active customers with an e-mail address (service e-mail on), written at once."""
    today, now = date.today(), utcnow()
    insert_rows(db.session, Customer.__table__, [
        {"customer_type": "private", "first_name": "Soak", "surname": f"{prefix}{i}", "name": f"Soak {prefix}{i}",
         "sort_name": f"{prefix}{i}, soak", "email": f"{prefix}{i}@example.com", "currency": "GBP",
         "status": "active", "joined_on": today, "created_at": now} for i in range(n)])
    db.session.commit()
    return list(db.session.scalars(select(Customer.id).where(Customer.surname.like(f"{prefix}%"))
                                   .order_by(Customer.id)))


def scheduled_jobs_lost(app) -> int:
    """Redis loses the delayed jobs (the retries) of the app's queue; how many there were."""
    queue = get_queue(app)
    registry = ScheduledJobRegistry(queue=queue)
    lost = registry.get_job_ids()
    for job_id in lost:
        registry.remove(job_id, delete_job=True)
    return len(lost)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- 1. lost after a crash that follows a transient failure; Redis refusing the enqueue ------

def test_messages_back_in_the_queue_after_a_451_go_out_once_when_due_though_the_worker_died_and_the_retries_were_lost(
        make_worker_app, workers, smtp):
    worker_app = make_worker_app(MESSAGE_RETRY_DELAYS=[3])
    smtp.refuse("451 4.3.0 Try again later", times=3)
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(3, "busy"))
        tasks.queue_delivery(queued)
        first = workers.start(worker_app)
        wait_for(lambda: [(m.status, m.attempts) for m in messages(queued)] == [("queued", 1)] * 3,
                 what="the three 451s recorded")
        kill(first)  # before anything else happens
        scheduled_jobs_lost(worker_app)  # and Redis lost the retry jobs, if they were queued at all
        get_queue().empty()
        retries = messages(queued)
        assert [outcomes(i) for i in queued] == [["retry"]] * 3 and smtp.received == []
        due = min(m.due_at for m in retries)
        assert due > max(a.at for m in retries for a in m.attempt_log)  # the retry waits its delay (3 s)
        # Before its due time, due work leaves it alone...
        early = delivery.deliver_due(db.session, worker_app.config, runner="early",
                                     now=lambda: due - timedelta(milliseconds=500))
        assert not early and statuses(queued) == ["queued"] * 3
        # ... and once it is due, the next worker's maintenance sends it: nothing waits for good.
        second = workers.start(worker_app)
        wait_for(lambda: statuses(queued) == ["sent"] * 3, what="the retries sent", show=workers.logs)
        assert stop(second) == 0
        assert smtp.copies() == {f"busy{i}@example.com": 1 for i in range(3)}
        assert [(m.attempts, m.sent_at >= m.due_at) for m in messages(queued)] == [(2, True)] * 3
        assert [outcomes(i) for i in queued] == [["retry", "sent"]] * 3


def test_redis_refusing_the_enqueue_after_the_send_request_commits_loses_nothing_and_due_work_sends_each_once(
        make_worker_app, smtp):
    sending_app = make_worker_app(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")  # nobody listens there
    with sending_app.app_context():
        ids = customers_with_email(3, "noredis")
    browser = Browser(sending_app.test_client(), "admin")
    browser.login()
    page = browser.post("/customers/action_post", {"action": "send_email", "rowid": [str(i) for i in ids]})
    key = page.get_data(as_text=True).split('name="form_key" value="', 1)[1].split('"', 1)[0]
    r = browser.post("/customers/compose/send_email", {"rowid": [str(i) for i in ids], "form_key": key,
                                                       "subject": "S", "body": "B", "send": "1"})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]  # the request succeeded
    assert browser.get(r.headers["Location"]).status_code == 200
    worker_app = make_worker_app()
    with worker_app.app_context():
        queued = list(db.session.scalars(select(Message.id).where(Message.customer_id.in_(ids)).order_by(Message.id)))
        assert len(queued) == 3 and statuses(queued) == ["queued"] * 3  # waiting in the database, due now
        done = tasks.run_due()
        assert done["sent"] == 3
        assert tasks.run_due().get("sent", 0) == 0
        assert statuses(queued) == ["sent"] * 3
        assert smtp.copies() == {f"noredis{i}@example.com": 1 for i in range(3)}


# ---- 2. a late reply ------------------------------------------------------------------------

def test_a_reply_that_comes_after_the_body_and_after_mail_data_timeout_is_uncertain_and_never_sent_again(
        make_worker_app, smtp):
    worker_app = make_worker_app(MAIL_TIMEOUT=1, MAIL_DATA_TIMEOUT=1, MESSAGE_RETRY_DELAYS=[0, 0])
    smtp.answer_late(3)  # every body is received, and answered 3 s later: the client gave up after 1 s
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(5, "late"))
        tasks.queue_delivery(queued)
        drain(worker_app)
        assert len(smtp.received) == 5  # not 15: nothing is tried again once the server had it
        assert smtp.copies() == {f"late{i}@example.com": 1 for i in range(5)}
        assert [(m.status, m.attempts) for m in messages(queued)] == [("uncertain", 1)] * 5
        assert all("may have gone out" in m.error for m in messages(queued))
        assert [outcomes(i) for i in queued] == [["uncertain"]] * 5
        assert not tasks.run_due().get("sent")  # due work does not send an uncertain message again
        assert len(smtp.received) == 5 and statuses(queued) == ["uncertain"] * 5


def test_a_reply_slower_than_mail_timeout_but_within_mail_data_timeout_is_sent_once(make_worker_app, smtp):
    worker_app = make_worker_app(MAIL_TIMEOUT=1, MAIL_DATA_TIMEOUT=10)
    smtp.answer_late(2)  # longer than every other step may take, well within the wait for the final reply
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(2, "slow"))
        tasks.queue_delivery(queued)
        drain(worker_app)
        assert [(m.status, m.attempts) for m in messages(queued)] == [("sent", 1)] * 2
        assert smtp.copies() == {"slow0@example.com": 1, "slow1@example.com": 1}


# ---- 2b. a server that stalls ---------------------------------------------------------------

@pytest.mark.parametrize("command", ["MAIL", "RCPT"])
def test_a_server_that_stalls_before_the_body_is_a_transient_failure_retried_and_sent_once(
        make_worker_app, smtp, command):
    worker_app = make_worker_app(MAIL_TIMEOUT=1, MAIL_DATA_TIMEOUT=30, MESSAGE_RETRY_DELAYS=[0])
    smtp.stall(3, at=command, times=1)  # the client gives up after MAIL_TIMEOUT, before sending the body
    with worker_app.app_context():
        [message_id] = queue_email(worker_app, customers_with_email(1, "stall"))
        tasks.queue_delivery([message_id])
        drain(worker_app)
        [message] = messages([message_id])
        assert (message.status, message.attempts, smtp.stalled) == ("sent", 2, 1)
        assert outcomes(message_id) == ["retry", "sent"]
        assert smtp.copies() == {"stall0@example.com": 1}


def test_a_server_that_stalls_at_quit_holds_the_worker_no_longer_than_mail_timeout(make_worker_app, smtp):
    worker_app = make_worker_app(MAIL_TIMEOUT=1, MAIL_DATA_TIMEOUT=8)
    smtp.stall(30, at="QUIT")
    with worker_app.app_context():
        [message_id] = queue_email(worker_app, customers_with_email(1, "quit"))
        tasks.queue_delivery([message_id])
        started = time.monotonic()
        drain(worker_app)
        assert statuses([message_id]) == ["sent"] and smtp.copies() == {"quit0@example.com": 1}
        assert time.monotonic() - started < 5  # MAIL_TIMEOUT (1 s) for the QUIT, not MAIL_DATA_TIMEOUT (8 s)


# ---- 3. recovery vs a slow send -------------------------------------------------------------

def test_recovery_leaves_a_send_slower_than_its_lease_alone_and_the_message_is_sent_once(
        make_worker_app, workers, smtp):
    worker_app = make_worker_app(DELIVERY_LEASE_SECONDS=2, MAIL_DATA_TIMEOUT=60)  # renewed every 0.5 s
    smtp.hold = True  # the server holds the body (and its reply) until released
    with worker_app.app_context():
        [message_id] = queue_email(worker_app, customers_with_email(1, "slow"))
        tasks.queue_delivery([message_id])
        worker = workers.start(worker_app, burst=True)
        assert smtp.holding.wait(60), f"the worker never reached the server\n{workers.logs()}"
        claimed = messages([message_id])[0]
        first_lease = claimed.lease_until
        assert claimed.status == "sending" and first_lease is not None
        # Three leases long, another process runs recovery and due work, over and over: it leaves it alone.
        until = time.monotonic() + 6
        while time.monotonic() < until:
            assert delivery.recover(db.session, worker_app.config) == 0
            assert not tasks.run_due().get("uncertain (worker stopped)")
            assert statuses([message_id]) == ["sending"]
            time.sleep(0.2)
        assert messages([message_id])[0].lease_until > first_lease + timedelta(seconds=3)  # renewed
        smtp.release()
        assert worker.wait(30) == 0
        [sent] = messages([message_id])
        assert (sent.status, sent.attempts, sent.claimed_by, sent.lease_until) == ("sent", 1, None, None)
        assert outcomes(message_id) == ["sent"]
        assert smtp.copies() == {"slow0@example.com": 1}


def test_a_send_whose_claim_was_taken_away_is_not_recorded_sent_but_logged_late(make_worker_app, workers, smtp):
    worker_app = make_worker_app(MAIL_DATA_TIMEOUT=60)
    smtp.hold = True
    with worker_app.app_context():
        [message_id] = queue_email(worker_app, customers_with_email(1, "frozen"))
        tasks.queue_delivery([message_id])
        worker = workers.start(worker_app, burst=True)
        assert smtp.holding.wait(60), f"the worker never reached the server\n{workers.logs()}"
        # As if the worker had been frozen past its lease: recovery gives the message up meanwhile.
        assert delivery.recover(db.session, worker_app.config, now=utcnow() + timedelta(minutes=5)) == 1
        assert statuses([message_id]) == ["uncertain"]
        smtp.release()
        assert worker.wait(30) == 0
        [given_up] = messages([message_id])
        assert (given_up.status, given_up.claimed_by) == ("uncertain", None)  # not flipped back to sent
        assert given_up.error.startswith("Interrupted while sending")
        assert outcomes(message_id) == ["interrupted", "late"]
        late = db.session.scalars(select(MessageAttempt).where(MessageAttempt.message_id == message_id)
                                  .order_by(MessageAttempt.id)).all()[-1]
        assert late.error.startswith("sent after the message was given up")
        assert not tasks.run_due().get("sent") and smtp.copies() == {"frozen0@example.com": 1}


# ---- 4. crash ambiguity ---------------------------------------------------------------------

def test_a_worker_killed_mid_batch_leaves_one_message_uncertain_and_the_next_worker_sends_the_rest_once(
        make_worker_app, workers, smtp):
    worker_app = make_worker_app(DELIVERY_LEASE_SECONDS=1, DELIVERY_MAINTENANCE_SECONDS=1)
    smtp.hold, smtp.hold_from = True, 8  # killed while the 8th of 20 is being sent
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(20, "batch"))
        tasks.queue_delivery(queued)
        first = workers.start(worker_app, burst=True)
        assert smtp.holding.wait(60), f"the worker never reached the 8th message\n{workers.logs()}"
        kill(first)
        assert smtp.dropped.wait(10), "the server never saw the killed worker go"
        smtp.release()
        assert statuses(queued) == ["sent"] * 7 + ["sending"] + ["queued"] * 12
        # The next worker: its maintenance gives up the one in doubt once its lease lapses, and sends
        # the never-tried ones (their job died with the first worker).
        second = workers.start(worker_app)
        wait_for(lambda: counts_by_status() == {"sent": 19, "uncertain": 1}, timeout=30,
                 what="the batch finished", show=workers.logs)
        assert stop(second) == 0
        assert statuses(queued) == ["sent"] * 7 + ["uncertain"] + ["sent"] * 12
        assert smtp.copies() == {f"batch{i}@example.com": 1 for i in range(20) if i != 7}
        assert outcomes(queued[7]) == ["interrupted"]
        assert [m.attempts for m in messages(queued)] == [1] * 20


def test_a_worker_killed_after_taking_due_work_from_the_queue_does_not_keep_the_next_from_queueing_it(
        make_worker_app, workers, smtp):
    worker_app = make_worker_app(DELIVERY_MAINTENANCE_SECONDS=1)
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(2, "taken"))  # their job was lost: due work sends them
        db.session.execute(update(Message).where(Message.id.in_(queued)).values(due_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        queue = get_queue()
        queue.empty()
        queue.enqueue(tasks.run_due, job_id=f"run-due-{queue.name}")
        assert queue.connection.lpop(queue.key) is not None  # taken by a worker killed before it marked it started
        # The killed worker held the periodic scheduler's lock too: no periodic due work for a while, only the
        # next worker's maintenance is left to queue it.
        lock = queue.connection.lock(f"rq:periodic-lock:{queue.name}", timeout=60, thread_local=False)
        assert lock.acquire(blocking=False)
        try:
            second = workers.start(worker_app)
            wait_for(lambda: statuses(queued) == ["sent", "sent"], timeout=20, what="the next worker to queue due work",
                     show=lambda: f"{statuses(queued)}\n{workers.logs()}")
            assert stop(second) == 0
        finally:
            lock.release()
        assert smtp.copies() == {"taken0@example.com": 1, "taken1@example.com": 1}


def test_a_worker_killed_while_running_due_work_does_not_keep_the_next_worker_from_running_it(
        make_worker_app, workers, smtp):
    worker_app = make_worker_app(DELIVERY_LEASE_SECONDS=1, DELIVERY_MAINTENANCE_SECONDS=1)
    smtp.hold, smtp.hold_from = True, 2
    with worker_app.app_context():
        queued = queue_email(worker_app, customers_with_email(3, "due"))  # their job was lost: due work sends them
        db.session.execute(update(Message).where(Message.id.in_(queued)).values(due_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        first = workers.start(worker_app)  # its maintenance queues run_due, which it runs
        assert smtp.holding.wait(60), f"the worker never ran due work\n{workers.logs()}"
        kill(first)
        smtp.release()
        second = workers.start(worker_app)
        wait_for(lambda: statuses(queued) == ["sent", "uncertain", "sent"], timeout=10,
                 what="the next worker to run due work", show=lambda: f"{statuses(queued)}\n{workers.logs()}")
        assert stop(second) == 0
        assert smtp.copies() == {"due0@example.com": 1, "due2@example.com": 1}


# ---- 5. opt-outs after queueing -------------------------------------------------------------

def test_customers_who_opt_out_or_are_blocked_dormant_or_archived_after_queueing_are_skipped_at_send_time(
        make_worker_app, smtp):
    worker_app = make_worker_app()
    with worker_app.app_context():
        admin = f.user("admin")
        names = ("unsubscribed", "contact-unsubscribed", "blocked", "dormant", "archived", "still-in")
        ids = [f.customer(email=f"{name}@example.com").id for name in names]
        contacts.create_contact(db.session, admin, ids[1], {"first_name": "Wendy", "surname": "Works",
                                                            "email": "wendy@example.com"})
        queued = queue_email(worker_app, ids)
        assert recipients(queued) == ["unsubscribed@example.com", "wendy@example.com", "blocked@example.com",
                                      "dormant@example.com", "archived@example.com", "still-in@example.com"]
        # After the messages were queued, before they go:
        db.session.execute(update(Customer).where(Customer.id == ids[0]).values(service_email=False))
        db.session.execute(update(Contact).where(Contact.customer_id == ids[1]).values(service_email=False))
        for customer_id, status in zip(ids[2:5], ("blocked", "dormant", "archived")):
            db.session.execute(update(Customer).where(Customer.id == customer_id).values(status=status))
        db.session.commit()
        tasks.queue_delivery(queued)
        drain(worker_app)
        reasons = ["opted out of service messages by e-mail"] * 2 + [
            "customer blocked", "customer dormant", "customer archived"]
        assert [(m.status, m.skip_reason, m.attempts) for m in messages(queued)] == [
            *(("skipped", reason, 0) for reason in reasons), ("sent", None, 1)]
        attempts = [db.session.execute(select(MessageAttempt.outcome, MessageAttempt.error)
                                       .where(MessageAttempt.message_id == i)).all() for i in queued[:5]]
        assert attempts == [[("skipped", reason)] for reason in reasons]
        assert smtp.copies() == {"still-in@example.com": 1}  # nothing else received


# ---- 6. recovery timing settings ------------------------------------------------------------

def test_an_idle_worker_runs_its_maintenance_every_delivery_maintenance_seconds(make_worker_app, workers, smtp):
    worker_app = make_worker_app(DELIVERY_MAINTENANCE_SECONDS=1, DELIVERY_LEASE_SECONDS=1)
    with worker_app.app_context():
        from rq import Worker
        worker = workers.start(worker_app)
        wait_for(lambda: [w for w in Worker.all(queue=get_queue()) if w.get_state() == "idle"],
                 what="the worker idle", show=workers.logs)
        [customer_id] = customers_with_email(1, "idle")
        long_ago = utcnow() - timedelta(hours=1)
        stuck = Message(customer_id=customer_id, channel="email", subject="S", body="B",
                        recipient="stuck@example.com", status="sending", attempts=1, claimed_by="gone:1:1",
                        claimed_at=long_ago, lease_until=long_ago + timedelta(seconds=1), created_at=long_ago,
                        due_at=long_ago)
        lost = Message(customer_id=customer_id, channel="email", subject="S", body="B", recipient="lost@example.com",
                       status="queued", attempts=0, created_at=long_ago, due_at=long_ago)  # its job was lost
        db.session.add_all([stuck, lost])
        db.session.commit()
        ids = [stuck.id, lost.id]
        started = time.monotonic()
        wait_for(lambda: statuses(ids) == ["uncertain", "sent"], timeout=10, what="maintenance", show=workers.logs)
        assert time.monotonic() - started < 5  # a second's interval, not RQ's ten minutes
        assert stop(worker) == 0
        assert smtp.copies() == {"lost@example.com": 1}


# ---- 7. the scheduler after SIGKILL ---------------------------------------------------------

def test_the_scheduler_of_a_killed_worker_stops_by_itself_and_another_worker_takes_its_lock_over(
        make_worker_app, workers):
    worker_app = make_worker_app(DELIVERY_MAINTENANCE_SECONDS=1)
    connection = redis.Redis.from_url(worker_app.config["REDIS_URL"], decode_responses=True)
    lock = f"rq:scheduler-lock:{worker_app.config['RQ_QUEUE']}"

    def scheduler_of(name):
        pid = connection.hget(f"rq:scheduler:{name}", "pid") if name else None
        return int(pid) if pid else None

    first = workers.start(worker_app)
    first_name = wait_for(lambda: connection.get(lock), what="the first scheduler", show=workers.logs)
    first_scheduler = wait_for(lambda: scheduler_of(first_name), what="the first scheduler's pid")
    assert first_scheduler in children_of(first.pid)
    first.children.append(first_scheduler)
    second = workers.start(worker_app)
    with worker_app.app_context():
        from rq import Worker
        wait_for(lambda: len(Worker.all(queue=get_queue())) == 2, what="the second worker", show=workers.logs)
    assert connection.get(lock) == first_name and children_of(second.pid) == []  # it has no scheduler yet

    kill(first)
    wait_for(lambda: not alive(first_scheduler), timeout=10, what="the killed worker's scheduler to stop")
    second_name = wait_for(lambda: (connection.get(lock) or first_name) != first_name and connection.get(lock),
                           timeout=10, what="the second worker to take the lock", show=workers.logs)
    second_scheduler = wait_for(lambda: scheduler_of(second_name), what="the second scheduler's pid")
    assert second_scheduler in children_of(second.pid)
    second.children.append(second_scheduler)
    assert stop(second) == 0
    wait_for(lambda: connection.get(lock) is None, timeout=10, what="the lock released on a clean stop")
    assert not alive(second_scheduler)


# ---- 8. a soak ----------------------------------------------------------------------------

def test_a_soak_of_10000_messages_through_a_kill_a_stalling_server_late_replies_and_an_unsubscribe(
        make_worker_app, workers, smtp):
    seed = int(os.environ.get("SOAK_SEED") or time.time())
    rng = random.Random(seed)
    n, late_replies, stalls = 10_000, 3, 2
    worker_app = make_worker_app()  # FAST: 1 s timeouts, a 2 s lease, maintenance every second, retries 0, 1 s
    with worker_app.app_context():
        queued = queue_email(worker_app, many_customers(n, "soak"))
        assert len(queued) == n
        # The last message's customer unsubscribes in the middle (before its message's turn).
        unsubscriber = messages(queued[-1:])[0].customer_id
        late = {f"soak{i}@example.com" for i in rng.sample(range(n - 1), late_replies)}
        smtp.answer_late(3, to=late)  # received, answered after the client's MAIL_DATA_TIMEOUT (1 s)
        tasks.queue_delivery(queued)
        started = time.monotonic()
        first = workers.start(worker_app)
        events = sorted([(rng.randrange(1_000, 8_000), "kill"), (rng.randrange(500, 8_000), "stall"),
                         (rng.randrange(500, 5_000), "unsubscribe")])
        for at, event in events:
            wait_for(lambda: len(smtp.received) >= at, timeout=120, interval=0.01,
                     what=f"{at} messages received before the {event} (seed {seed})", show=workers.logs)
            if event == "kill":
                kill(first)
                workers.start(worker_app)  # the next worker: recovers the one in doubt, sends the rest
            elif event == "stall":
                smtp.stall(2, at="MAIL", times=stalls)  # the client gives up after MAIL_TIMEOUT (1 s): a retry
            else:
                db.session.execute(update(Customer).where(Customer.id == unsubscriber).values(service_email=False))
                db.session.commit()
        wait_for(lambda: not {"queued", "sending"} & counts_by_status().keys(), timeout=120, interval=0.5,
                 what=f"every message handled (seed {seed}): {counts_by_status()}", show=workers.logs)
        for worker in workers.started[1:]:
            assert stop(worker) == 0
        assert not tasks.run_due().get("sent")  # nothing was left for due work
        elapsed = time.monotonic() - started

        counts, copies = counts_by_status(), smtp.copies()
        by_status = {}
        for recipient, status in db.session.execute(select(Message.recipient, Message.status)):
            by_status.setdefault(status, set()).add(recipient)
        assert max(copies.values()) == 1, f"a recipient got two copies (seed {seed})"
        assert set(counts) <= {"sent", "uncertain", "skipped"}, counts
        assert counts["skipped"] == 1
        assert messages(queued[-1:])[0].skip_reason == "opted out of service messages by e-mail"
        assert counts.get("uncertain", 0) <= 1 + late_replies  # the one being sent when killed, and the late replies
        assert late <= by_status["uncertain"]
        assert {r for r, n in copies.items() if n} >= by_status["sent"]  # each sent one was received once
        assert not set(copies) & by_status["skipped"]
        assert smtp.stalled == stalls and counts["sent"] + counts.get("uncertain", 0) == n - 1
        print(f"soak (seed {seed}): {counts} in {elapsed:.0f} s; events {events}")
