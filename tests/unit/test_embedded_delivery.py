"""Without Redis (the `./run` default), delivery runs in threads of the web process: a retry waits
its delay before it goes (not four tries in a few milliseconds), and a message due in the database
with no thread waiting for it (the process restarted) is sent by the due-work thread that the
first request starts. A real SMTP server (aiosmtpd) in this process answers."""
import time

import pytest

from app.extensions import db
from app.jobs import tasks
from app.models import Message
from app.models.resellers import utcnow
from app.services.messages import outbox
from tests import factories as f
from tests.conftest import make_app, on_postgresql
from tests.smtp_sink import mail_settings, smtp  # noqa: F401  (smtp: a fixture)

pytestmark = pytest.mark.skipif(on_postgresql(), reason="the embedded mode runs on SQLite")


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def embedded(tmp_path, smtp):
    from flask_migrate import upgrade

    from tests.conftest import _create_users
    app = make_app(f"sqlite:///{tmp_path / 'embedded.db'}", JOBS_IN_THREAD=True, MESSAGE_RETRY_DELAYS=[1, 1],
                   DUE_WORK_SECONDS=0.2, **mail_settings(smtp))
    with app.app_context():
        upgrade()
        app.appbuilder.sm.create_roles_and_permissions()
        _create_users(app)
        yield app
        app.extensions["due_work_stop"].set()
        db.session.remove()
        db.engine.dispose()


def statuses(ids):
    db.session.expire_all()
    return [(m.status, m.attempts) for m in (db.session.get(Message, i) for i in ids)]


def test_a_retry_waits_its_delay_then_goes_once(embedded, smtp):
    smtp.reply = "451 4.3.0 Mailbox busy, try later"
    ids = [f.customer(email=f"busy{i}@example.com").id for i in range(2)]
    job = outbox.start(db.session, f.user("admin"), outbox.clean("email", {"subject": "Hi", "body": "B"}), ids=ids)
    queued = outbox.write(db.session, job, embedded.config)
    db.session.commit()
    failed_at = time.monotonic()
    tasks.queue_delivery(queued)  # a thread sends them, and meets the 451
    assert wait_for(lambda: statuses(queued) == [("queued", 1)] * 2)
    smtp.reply = "250 OK"
    # Not tried again before its delay (1 s): the first try's thread has returned meanwhile.
    time.sleep(max(0.0, 0.6 - (time.monotonic() - failed_at)))
    assert statuses(queued) == [("queued", 1)] * 2 and smtp.received == []
    assert wait_for(lambda: statuses(queued) == [("sent", 2)] * 2)
    assert sorted(r for r, _, _ in smtp.received) == ["busy0@example.com", "busy1@example.com"]


def test_a_message_due_with_no_thread_waiting_is_sent_by_the_due_work_thread(embedded, smtp):
    customer = f.customer(email="restart@example.com")
    message = Message(customer_id=customer.id, channel="email", subject="S", body="B", recipient="restart@example.com",
                      status="queued", attempts=1, due_at=utcnow())  # its retry's timer died with the process
    db.session.add(message)
    db.session.commit()
    time.sleep(0.5)
    assert statuses([message.id]) == [("queued", 1)]  # nothing runs due work before a request
    embedded.test_client().get("/login/")  # the first request starts the due-work thread
    assert wait_for(lambda: statuses([message.id]) == [("sent", 2)])
    assert [r for r, _, _ in smtp.received] == ["restart@example.com"]
