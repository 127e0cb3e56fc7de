"""Delivery survives every fault (issue 11), proven with a scripted transport on the database:

- a transient failure is tried again after 30, 120 and 600 seconds (the message's due time, not
  a job, says when), then the message fails after its 4th attempt;
- a permanent failure fails at once; a failure after the server had the message ("uncertain")
  is never tried again by itself;
- each message goes out at most once, delivered twice or by two workers at once;
- a message queued before its recipient opted out, or its customer was blocked, archived or
  made dormant, is skipped with the reason and never handed to the transport;
- a worker stopped while sending leaves only that message in doubt (uncertain at once, or once
  its lease lapses if it was killed); the rest go out once; a job timeout before the server had
  the message queues it again;
- an outcome that comes after the message was taken from the worker is logged as "late" and
  changes nothing;
- a queue that refuses the delivery jobs loses nothing: due work sends them (`flask jobs run-due`).
"""
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import jobs as background
from app.extensions import db
from app.jobs import tasks
from app.models import Contact, Customer, Message, MessageAttempt
from app.models.resellers import utcnow
from app.services.customers import contacts
from app.services.messages import delivery, transports
from app.services.messages.preferences import skip_reason
from tests import factories as f

T0 = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)  # when the messages were written (and first due)


def at(seconds: float):
    """A clock for `now=`: T0 plus `seconds`."""
    return lambda: T0 + timedelta(seconds=seconds)


def aware(value: datetime) -> datetime:
    """A time read back from the database, in UTC (SQLite gives it back without its zone)."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class FakeTransport:
    """What the transport does with each message: `script(message)` returns None (it goes out)
    or raises. Counts every hand-over (`tries`) and every message that went out (`sent`)."""

    name = "fake"

    def __init__(self):
        self.script = lambda message: None
        self.tries, self.sent = Counter(), Counter()
        self.headers = {}
        self.closed = 0
        self.had_it = False  # what may_have_it() says when send() is cut short

    def may_have_it(self):
        return self.had_it

    def send(self, message, headers):
        self.tries[message.id] += 1
        self.headers[message.id] = headers
        self.script(message)
        self.sent[message.id] += 1

    def close(self):
        self.closed += 1


@pytest.fixture
def transport(monkeypatch):
    fake = FakeTransport()
    monkeypatch.setattr(transports, "for_channel", lambda channel, config: fake)
    return fake


@pytest.fixture
def config(app):
    """The app's settings, as a worker reads them (retry delays: the defaults)."""
    return dict(app.config)


def queued(session, customer, n=1, *, due=T0, channel="email", purpose="service", contact=None) -> list[int]:
    """`n` queued messages to `customer` (or its `contact`), due at `due`, committed."""
    address = (contact or customer).email if channel == "email" else (contact or customer).mobile
    rows = [Message(customer_id=customer.id, contact_id=contact.id if contact else None, channel=channel,
                    purpose=purpose, recipient=address, subject="S" if channel == "email" else None,
                    body=f"Body {i}", status="queued", attempts=0, created_at=due, due_at=due) for i in range(n)]
    session.add_all(rows)
    session.commit()
    return [m.id for m in rows]


def state(session, message_id):
    """(status, attempts, the attempts' outcomes) of a message, as the database has it now."""
    session.expire_all()
    m = session.get(Message, message_id)
    return m.status, m.attempts, [a.outcome for a in m.attempt_log]


def due_at(session, message_id) -> datetime:
    session.expire_all()
    return aware(session.get(Message, message_id).due_at)


# ---- retries ---------------------------------------------------------------------------------
def test_a_transient_failure_is_tried_again_after_30_120_and_600_seconds_then_the_message_fails(ctx, transport,
                                                                                              config):
    assert delivery.retry_delays(config) == (30, 120, 600) == delivery.DEFAULT_RETRY_DELAYS
    [mid] = queued(ctx, f.customer(email="ada@example.com"))

    def refused(message):
        raise transports.Transient("421 try again later")
    transport.script = refused

    assert delivery.deliver(ctx, [mid], config, runner="w1", now=at(0)) == Counter(retry=1)
    assert state(ctx, mid) == ("queued", 1, ["retry"])
    assert due_at(ctx, mid) == T0 + timedelta(seconds=30)

    # (a second before it is due: nothing; a second after: tried, and put back for the next delay)
    for attempt, (too_soon, tried_at, next_delay) in enumerate([(29, 31, 120), (150, 152, 600), (751, 753, None)],
                                                                start=2):
        assert delivery.deliver_due(ctx, config, runner="w1", now=at(too_soon)) == Counter()
        assert transport.tries[mid] == attempt - 1
        done = delivery.deliver_due(ctx, config, runner="w1", now=at(tried_at))
        assert transport.tries[mid] == attempt
        if next_delay:
            assert done == Counter(retry=1)
            assert state(ctx, mid) == ("queued", attempt, ["retry"] * attempt)
            assert due_at(ctx, mid) == T0 + timedelta(seconds=tried_at + next_delay)
        else:
            assert done == Counter(failed=1)

    ctx.expire_all()
    message = ctx.get(Message, mid)
    assert (message.status, message.attempts, message.error) == ("failed", 4, "421 try again later")
    assert [a.outcome for a in message.attempt_log] == ["retry", "retry", "retry", "failed"]
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(86_400)) == Counter()
    assert transport.tries[mid] == 4 and transport.sent[mid] == 0


def test_the_retry_delays_are_the_settings(ctx, transport, config):
    config["MESSAGE_RETRY_DELAYS"] = [5]
    [mid] = queued(ctx, f.customer(email="ada@example.com"))

    def refused(message):
        raise transports.Transient("421")
    transport.script = refused
    delivery.deliver(ctx, [mid], config, runner="w1", now=at(0))
    assert due_at(ctx, mid) == T0 + timedelta(seconds=5)
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(5)) == Counter(failed=1)
    assert state(ctx, mid) == ("failed", 2, ["retry", "failed"])


def test_a_message_that_goes_out_on_a_retry_is_sent_and_not_tried_again(ctx, transport, config):
    [mid] = queued(ctx, f.customer(email="ada@example.com"))
    failures = [transports.Transient("connection refused")]

    def once_refused(message):
        if failures:
            raise failures.pop()
    transport.script = once_refused
    assert delivery.deliver(ctx, [mid], config, runner="w1", now=at(0)) == Counter(retry=1)
    assert delivery.deliver_due(ctx, config, runner="w2", now=at(31)) == Counter(sent=1)
    ctx.expire_all()
    message = ctx.get(Message, mid)
    assert (message.status, message.attempts, message.error, message.claimed_by) == ("sent", 2, None, None)
    assert aware(message.sent_at) == T0 + timedelta(seconds=31) and message.transport == "fake"
    assert [a.outcome for a in message.attempt_log] == ["retry", "sent"]
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(10_000)) == Counter()
    assert transport.sent[mid] == 1


def test_the_retry_callback_is_told_of_the_messages_put_back_and_their_delay(ctx, transport, config):
    ids = queued(ctx, f.customer(email="ada@example.com"), 3)

    def second_refused(message):
        if message.id == ids[1]:
            raise transports.Transient("451")
    transport.script = second_refused
    told = []
    done = delivery.deliver(ctx, ids, config, runner="w1", retry=lambda i, d: told.append((i, d)), now=at(0))
    assert done == Counter(sent=2, retry=1) and told == [([ids[1]], 30)]


# ---- permanent and uncertain failures ---------------------------------------------------------
def test_a_permanent_failure_fails_at_once_and_is_never_tried_again(ctx, transport, config):
    [mid] = queued(ctx, f.customer(email="ada@example.com"))

    def refused(message):
        raise transports.Permanent("550 no such user")
    transport.script = refused
    assert delivery.deliver(ctx, [mid], config, runner="w1", now=at(0)) == Counter(failed=1)
    assert state(ctx, mid) == ("failed", 1, ["failed"])
    assert ctx.get(Message, mid).error == "550 no such user"
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(86_400)) == Counter()
    assert transport.tries[mid] == 1


def test_a_message_that_cannot_be_built_fails_and_the_others_go_out(ctx, transport, config):
    ids = queued(ctx, f.customer(email="ada@example.com"), 2)

    def broken(message):
        if message.id == ids[0]:
            raise ValueError("bad header")
    transport.script = broken
    assert delivery.deliver(ctx, ids, config, runner="w1", now=at(0)) == Counter(failed=1, sent=1)
    assert ctx.get(Message, ids[0]).error == "ValueError: bad header"


def test_a_send_that_broke_off_after_the_server_had_it_is_uncertain_and_never_sent_again(ctx, transport, config):
    [mid, other] = queued(ctx, f.customer(email="ada@example.com"), 2)

    def no_final_reply(message):
        if message.id == mid:
            raise transports.Uncertain("No reply from the mail server after it had the message")
    transport.script = no_final_reply
    assert delivery.deliver(ctx, [mid, other], config, runner="w1", now=at(0)) == Counter(uncertain=1, sent=1)
    assert state(ctx, mid) == ("uncertain", 1, ["uncertain"])
    assert ctx.get(Message, mid).claimed_by is None
    for later in (31, 600, 86_400):
        assert delivery.deliver_due(ctx, config, runner="w2", now=at(later)) == Counter()
    assert delivery.deliver(ctx, [mid], config, runner="w2", now=at(86_400)) == Counter({"not due": 1})
    assert delivery.recover(ctx, config, now=T0 + timedelta(days=1)) == 0
    assert transport.tries == Counter({mid: 1, other: 1})


# ---- at most once ------------------------------------------------------------------------------
def test_messages_delivered_twice_go_out_once(ctx, transport, config):
    ids = queued(ctx, f.customer(email="ada@example.com"), 3)
    assert delivery.deliver(ctx, ids, config, runner="w1", now=at(0)) == Counter(sent=3)
    assert delivery.deliver(ctx, ids + ids, config, runner="w1", now=at(1)) == Counter({"not due": 3})
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(2)) == Counter()
    assert transport.sent == Counter({i: 1 for i in ids}) and transport.tries == transport.sent
    assert [state(ctx, i) for i in ids] == [("sent", 1, ["sent"])] * 3


def test_two_workers_given_the_same_messages_send_each_once(app, ctx, transport, config):
    ids = queued(ctx, f.customer(email="ada@example.com"), 3)
    with Session(db.engine) as other_session:
        first = delivery.Sender(ctx, config, "host-a:1:1", at(0))
        second = delivery.Sender(other_session, config, "host-b:2:2", at(0))
        seen_by_second = []

        def the_other_worker_tries_meanwhile(message):
            seen_by_second.append(second.one(message.id))  # while the first sends it
        transport.script = the_other_worker_tries_meanwhile
        for mid in ids:
            first.one(mid)
        transport.script = lambda message: None
        for mid in ids:  # and after
            second.one(mid)
    assert first.outcomes == Counter(sent=3)
    assert second.outcomes == Counter({"not due": 6}) and seen_by_second == ["not due"] * 3
    assert transport.sent == Counter({i: 1 for i in ids})
    assert {ctx.get(Message, i).status for i in ids} == {"sent"}


class ClaimHeldBack:
    """A worker's session that lets `meanwhile` run just before the worker's claim is written:
    both workers have read the message as queued; only one of their claims can land."""

    def __init__(self, session, meanwhile):
        self.session, self.meanwhile = session, meanwhile

    def __getattr__(self, name):
        return getattr(self.session, name)

    def connection(self):
        held_back = self

        class Connection:
            def __getattr__(self, name):
                return getattr(held_back.session.connection(), name)

            def execute(self, statement, *args, **kwargs):
                if statement is delivery.CLAIM and held_back.meanwhile:
                    meanwhile, held_back.meanwhile = held_back.meanwhile, None
                    meanwhile()
                return held_back.session.connection().execute(statement, *args, **kwargs)
        return Connection()


def test_of_two_workers_that_both_read_a_message_as_queued_only_the_first_claim_sends_it(app, ctx, transport,
                                                                                       config):
    [mid] = queued(ctx, f.customer(email="ada@example.com"))
    with Session(db.engine) as other_session:
        second = delivery.Sender(other_session, config, "host-b:2:2", at(0))
        first = delivery.Sender(ClaimHeldBack(ctx, lambda: second.one(mid)), config, "host-a:1:1", at(0))
        assert first.one(mid) == "not due"
    assert second.outcomes == Counter(sent=1)
    assert transport.tries == Counter({mid: 1})
    assert state(ctx, mid) == ("sent", 1, ["sent"])


def test_a_message_is_not_sent_before_it_is_due(ctx, transport, config):
    [mid] = queued(ctx, f.customer(email="ada@example.com"), due=T0 + timedelta(minutes=5))
    assert delivery.deliver(ctx, [mid], config, runner="w1", now=at(299)) == Counter({"not due": 1})
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(299)) == Counter()
    assert transport.tries == Counter()
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(300)) == Counter(sent=1)


def test_each_message_carries_a_message_id_made_from_its_own_id(ctx, transport, config):
    [mid] = queued(ctx, f.customer(email="ada@example.com"))
    delivery.deliver(ctx, [mid], config | {"MAIL_DEFAULT_SENDER": "Office <office@example.com>"}, runner="w1",
                     now=at(0))
    assert transport.headers[mid]["Message-ID"] == f"<message-{mid}@example.com>"
    assert transport.closed == 1


# ---- opted out, blocked, dormant or archived after the message was written ---------------------
def opt_out(field):
    def change(session, customer, contact):
        setattr(customer, field, False)
    return change


def status_of(value):
    def change(session, customer, contact):
        customer.status = value
    return change


@pytest.mark.parametrize("channel, purpose, change, reason", [
    ("email", "service", opt_out("service_email"), "opted out of service messages by e-mail"),
    ("sms", "service", opt_out("service_sms"), "opted out of service messages by text"),
    ("email", "marketing", opt_out("marketing_email"), "not opted in to marketing by e-mail"),
    ("sms", "marketing", opt_out("marketing_sms"), "not opted in to marketing by text"),
    ("email", "service", status_of("blocked"), "customer blocked"),
    ("email", "service", status_of("dormant"), "customer dormant"),
    ("email", "marketing", status_of("archived"), "customer archived"),
])
def test_a_message_queued_before_its_customer_opted_out_or_changed_status_is_skipped_with_the_reason(
        ctx, transport, config, channel, purpose, change, reason):
    customer = f.customer(email="ada@example.com")
    customer.mobile = "+447700900123"
    customer.marketing_email = customer.marketing_sms = True
    ctx.commit()
    [mid] = queued(ctx, customer, channel=channel, purpose=purpose)
    change(ctx, ctx.get(Customer, customer.id), None)
    ctx.commit()
    now_is = ctx.get(Customer, customer.id)
    assert reason == skip_reason(now_is.status, getattr(now_is, f"{purpose}_{channel}"), channel, purpose,
                                 "somewhere")  # the preferences' own wording

    assert delivery.deliver(ctx, [mid], config, runner="w1", now=at(0)) == Counter(skipped=1)
    ctx.expire_all()
    message = ctx.get(Message, mid)
    assert (message.status, message.skip_reason, message.attempts) == ("skipped", reason, 0)
    [attempt] = message.attempt_log
    assert (attempt.outcome, attempt.error, attempt.transport) == ("skipped", reason, None)
    assert transport.tries == Counter()
    assert delivery.deliver_due(ctx, config, runner="w1", now=at(86_400)) == Counter()


def test_a_message_to_a_contact_follows_the_contacts_preference_not_the_customers(ctx, transport, config):
    customer = f.customer(email="bob@example.com")
    contacts.create_contact(ctx, f.user("admin"), customer.id, {"first_name": "Wendy", "surname": "Works",
                                                                 "email": "wendy@example.com"})
    wendy = ctx.scalar(select(Contact).where(Contact.customer_id == customer.id, Contact.email == "wendy@example.com"))
    to_wendy, to_wendy_later = queued(ctx, customer, 2, contact=wendy)
    [to_customer] = queued(ctx, customer)
    ctx.get(Customer, customer.id).service_email = False  # the customer opts out; Wendy has not
    ctx.commit()
    assert delivery.deliver(ctx, [to_wendy, to_customer], config, runner="w1", now=at(0)) == Counter(
        sent=1, skipped=1)
    assert state(ctx, to_wendy)[0] == "sent"
    assert ctx.get(Message, to_customer).skip_reason == "opted out of service messages by e-mail"

    ctx.get(Contact, wendy.id).service_email = False  # now Wendy opts out
    ctx.get(Customer, customer.id).service_email = True
    ctx.commit()
    assert delivery.deliver(ctx, [to_wendy_later], config, runner="w1", now=at(1)) == Counter(skipped=1)
    ctx.expire_all()
    assert (ctx.get(Message, to_wendy_later).status, ctx.get(Message, to_wendy_later).skip_reason) == (
        "skipped", "opted out of service messages by e-mail")
    assert transport.tries == Counter({to_wendy: 1})


# ---- a worker that dies while sending ------------------------------------------------------------
@pytest.mark.parametrize("death", [KeyboardInterrupt, SystemExit])
def test_a_worker_stopped_while_sending_leaves_only_that_message_in_doubt_and_the_rest_go_out_once(
        ctx, transport, config, death):
    ids = queued(ctx, f.customer(email="ada@example.com"), 5)

    def stopped_on_the_third(message):
        if message.id == ids[2]:
            transport.had_it = True  # the server had the body when the worker was stopped
            raise death()
    transport.script = stopped_on_the_third
    with pytest.raises(death):
        delivery.deliver(ctx, ids, config, runner="host-a:1:1", now=at(0))
    assert [state(ctx, i)[0] for i in ids] == ["sent", "sent", "uncertain", "queued", "queued"]
    assert state(ctx, ids[2]) == ("uncertain", 1, ["interrupted"])
    assert ctx.get(Message, ids[2]).error.startswith(f"Interrupted while sending ({death.__name__})")

    transport.script = lambda message: None
    assert delivery.deliver_due(ctx, config, runner="host-b:2:2", now=at(1)) == Counter(sent=2)
    assert delivery.deliver_due(ctx, config, runner="host-b:2:2", now=at(1)) == Counter()
    assert transport.tries == Counter({i: 1 for i in ids})


def test_a_job_timeout_before_the_server_had_the_message_queues_it_again_and_stops_the_batch(
        ctx, transport, config):
    from rq.timeouts import JobTimeoutException
    ids = queued(ctx, f.customer(email="ada@example.com"), 3)

    def times_out_on_the_second(message):
        if message.id == ids[1]:
            raise JobTimeoutException("Task exceeded maximum timeout value (3600 seconds)")
    transport.script = times_out_on_the_second
    with pytest.raises(JobTimeoutException):
        delivery.deliver(ctx, ids, config, runner="host-a:1:1", now=at(0))
    assert [state(ctx, i)[0] for i in ids] == ["sent", "queued", "queued"]
    assert state(ctx, ids[1]) == ("queued", 1, ["interrupted"])

    transport.script = lambda message: None
    assert delivery.deliver_due(ctx, config, runner="host-b:2:2", now=at(1)) == Counter(sent=2)
    assert transport.sent == Counter({i: 1 for i in ids})


def test_a_worker_killed_while_sending_leaves_that_message_sending_until_its_lease_lapses(
        ctx, transport, config):
    ids = queued(ctx, f.customer(email="ada@example.com"), 5)

    def killed(self, message_id, *args, **kwargs):  # the process ends before it writes anything more
        raise SystemExit(-9)
    with pytest.MonkeyPatch.context() as patch:
        transport.script = lambda message: patch.setattr(delivery.Sender, "_record", killed) \
            if message.id == ids[2] else None
        with pytest.raises(SystemExit):
            delivery.deliver(ctx, ids, config, runner="host-a:1:1", now=at(0))
    ctx.rollback()
    assert [state(ctx, i)[0] for i in ids] == ["sent", "sent", "sending", "queued", "queued"]
    third = ctx.get(Message, ids[2])
    assert third.claimed_by == "host-a:1:1"
    assert aware(third.lease_until) == T0 + delivery.lease_of(config)

    transport.script = lambda message: None
    assert delivery.recover(ctx, config, now=T0 + timedelta(seconds=60)) == 0  # its lease holds: maybe slow
    assert state(ctx, ids[2])[0] == "sending"
    later = T0 + delivery.lease_of(config) + timedelta(seconds=1)
    assert delivery.recover(ctx, config, now=later) == 1
    assert state(ctx, ids[2]) == ("uncertain", 1, ["interrupted"])
    assert ctx.get(Message, ids[2]).error == delivery.INTERRUPTED

    assert delivery.deliver_due(ctx, config, runner="host-b:2:2", now=lambda: later) == Counter(sent=2)
    assert delivery.deliver_due(ctx, config, runner="host-b:2:2", now=lambda: later) == Counter()
    assert transport.tries == Counter({i: 1 for i in ids})


# ---- an outcome that comes too late -----------------------------------------------------------------
def given_up(session, message_id):
    """What recover does to a message whose worker stopped."""
    session.execute(update(Message).where(Message.id == message_id)
                    .values(status="uncertain", claimed_by=None, lease_until=None, error=delivery.INTERRUPTED))


def taken_by_another_worker(session, message_id):
    session.execute(update(Message).where(Message.id == message_id).values(claimed_by="host-b:2:2"))


@pytest.mark.parametrize("taken, left", [(given_up, ("uncertain", None)),
                                         (taken_by_another_worker, ("sending", "host-b:2:2"))])
@pytest.mark.parametrize("result", [None, transports.Transient("421"), transports.Permanent("550"),
                                    transports.Uncertain("no reply")])
def test_an_outcome_that_comes_after_the_claim_was_taken_away_is_logged_late_and_changes_nothing(
        app, ctx, transport, config, taken, left, result):
    [mid] = queued(ctx, f.customer(email="ada@example.com"))

    def claim_lost_while_sending(message):
        with Session(db.engine) as elsewhere:
            taken(elsewhere, message.id)
            elsewhere.commit()
        if result is not None:
            raise result
    transport.script = claim_lost_while_sending
    assert delivery.deliver(ctx, [mid], config, runner="host-a:1:1", now=at(0)) == Counter(late=1)
    ctx.expire_all()
    message = ctx.get(Message, mid)
    assert (message.status, message.claimed_by) == left
    assert message.sent_at is None and message.transport is None
    [attempt] = message.attempt_log
    assert attempt.outcome == "late" and "after the message was given up" in attempt.error
    assert delivery.deliver_due(ctx, config, runner="host-a:1:1", now=at(86_400)) == Counter()
    assert transport.tries == Counter({mid: 1})


# ---- a queue that refuses the work ------------------------------------------------------------------
class RefusingQueue:
    def enqueue_many(self, *args, **kwargs):
        raise RedisConnectionError("Error 111 connecting to localhost:6379. Connection refused.")

    def enqueue(self, *args, **kwargs):
        raise RedisConnectionError("Connection refused.")

    def enqueue_in(self, *args, **kwargs):
        raise RedisConnectionError("Connection refused.")


@pytest.fixture
def redis_down(app, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://localhost:6379/0")
    monkeypatch.setattr(background, "get_queue", lambda app=None: RefusingQueue())


def test_when_redis_refuses_the_delivery_jobs_the_messages_stay_queued_for_due_work(ctx, transport, redis_down,
                                                                                     config):
    ids = queued(ctx, f.customer(email="ada@example.com"), 3, due=utcnow())
    assert tasks.queue_delivery(ids) == 0  # no exception: the request that wrote them answers
    assert [state(ctx, i) for i in ids] == [("queued", 0, [])] * 3
    assert transport.tries == Counter()
    assert tasks.run_due() == {"uncertain (worker stopped)": 0, "sent": 3, "card charges settled": 0}
    assert transport.sent == Counter({i: 1 for i in ids})


def test_when_redis_refuses_a_retry_the_message_keeps_its_due_time(ctx, transport, redis_down):
    [mid] = queued(ctx, f.customer(email="ada@example.com"), due=utcnow())

    def refused(message):
        raise transports.Transient("421")
    transport.script = refused
    before = utcnow()
    assert tasks.deliver_messages([mid]) == {"retry": 1}  # the retry's job could not be queued: no matter
    assert state(ctx, mid) == ("queued", 1, ["retry"])
    assert before + timedelta(seconds=30) <= due_at(ctx, mid) <= utcnow() + timedelta(seconds=30)


def test_without_redis_or_threads_a_delayed_task_is_not_run_its_due_time_is_what_counts(app, ctx):
    ran = []
    assert background.enqueue(lambda *a: ran.append(a), 1, delay=30) is None
    assert ran == []


# ---- flask jobs run-due -------------------------------------------------------------------------------
def test_flask_jobs_run_due_sends_what_is_due_marks_stopped_sends_uncertain_and_says_so(app, ctx, transport):
    customer = f.customer(email="ada@example.com")
    now = utcnow()
    due = queued(ctx, customer, 2, due=now - timedelta(seconds=1))
    [later] = queued(ctx, customer, due=now + timedelta(hours=1))
    [stopped] = queued(ctx, customer, due=now - timedelta(hours=1))
    ctx.execute(update(Message).where(Message.id == stopped).values(
        status="sending", attempts=1, claimed_by="gone:1:1", claimed_at=now - timedelta(hours=1),
        lease_until=now - timedelta(minutes=10)))
    ctx.commit()

    result = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 uncertain (worker stopped), 2 sent"
    assert [state(ctx, i)[0] for i in (*due, later, stopped)] == ["sent", "sent", "queued", "uncertain"]
    assert transport.tries == Counter({i: 1 for i in due})

    again = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert again.exit_code == 0 and again.output.strip() == "Nothing was due."
    assert transport.tries == Counter({i: 1 for i in due})
    ctx.expire_all()
    assert ctx.scalar(select(MessageAttempt.outcome).where(MessageAttempt.message_id == stopped)) == "interrupted"
