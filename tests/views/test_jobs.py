"""Jobs without Redis: they run beside the request in a thread of the app's process, the job page
follows them, and a job whose process died is shown failed and can be started again."""
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from app.jobs import runner
from app.models import Customer, Job, Message
from app.models.resellers import utcnow
from app.services import jobs
from app.services.customers import bulk
from tests import factories as f


def make(app, n):
    with app.app_context():
        return [f.customer(email=f"c{i}@example.com").id for i in range(n)]


def statuses(app, ids):
    with app.app_context():
        db.session.expire_all()
        return [db.session.get(Customer, i).status for i in ids]


def wait_for(condition, timeout=20.0):
    """Poll `condition` until it holds (a thread's work is done), failing after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def start(browser, action, ids):
    page = browser.post("/customers/action_post", {"action": action, "rowid": [str(i) for i in ids]})
    key = re.search(r'name="form_key" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return browser.post(f"/customers/bulk/{action}", {"rowid": [str(i) for i in ids], "form_key": key})


@pytest.fixture
def in_thread(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_IN_THREAD", True)
    monkeypatch.setitem(app.config, "BULK_SYNC_LIMIT", 0)


def test_without_redis_a_bulk_action_runs_beside_the_request_and_its_page_follows_it(app, login, in_thread,
                                                                                      monkeypatch):
    ids = make(app, 3)
    go = threading.Event()
    real = bulk.ACT["disable"]

    def held_back(session, params, chunk_ids):
        go.wait(10)  # the job waits for the test: the request must have answered without it
        return real(session, params, chunk_ids)
    monkeypatch.setitem(bulk.ACT, "disable", held_back)
    browser = login("admin")
    r = start(browser, "disable", ids)
    assert r.status_code == 302
    job_url = r.headers["Location"]
    assert browser.get(job_url + "/progress").get_json()["status"] in ("queued", "running")
    assert statuses(app, ids) == ["active"] * 3
    go.set()
    wait_for(lambda: browser.get(job_url + "/progress").get_json()["status"] == "done")
    assert statuses(app, ids) == ["disabled"] * 3
    assert "3</strong> changed" in browser.get(job_url).get_data(as_text=True)


def test_without_redis_messages_are_delivered_beside_the_request(app, login, in_thread):
    [cid] = make(app, 1)
    browser = login("admin")
    page = browser.post("/customers/action_post", {"action": "send_email", "rowid": [str(cid)]})
    key = re.search(r'name="form_key" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    r = browser.post("/customers/compose/send_email", {"rowid": [str(cid)], "form_key": key, "subject": "S",
                                                       "body": "B", "send": "1"})
    assert r.status_code == 302

    def sent():
        with app.app_context():
            return db.session.scalar(db.select(Message.status).where(Message.customer_id == cid)) == "sent"
    wait_for(sent)


def test_a_job_whose_thread_is_gone_is_shown_failed_and_started_again_does_the_rest(app, login):
    ids = make(app, 4)
    with app.app_context():
        job_id = f.stopped_job(db.session, f.user("admin"), "disable", ids, chunk=2)
    assert statuses(app, ids) == ["disabled", "disabled", "active", "active"]
    browser = login("admin")
    page = browser.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert jobs.DIED in page and "Start again" in page
    with app.app_context():
        assert db.session.get(Job, job_id).status == "failed"
    r = browser.post(f"/jobs/{job_id}/again")
    assert r.status_code == 302
    assert statuses(app, ids) == ["disabled"] * 4
    with app.app_context():
        again = db.session.get(Job, job_id)
        assert (again.status, again.done, again.result["changed"]) == ("done", 4, 4)


def test_only_a_stopped_job_can_be_started_again_and_only_by_who_sees_it(app, login, resellers):
    ids = make(app, 1)
    r = start(login("admin"), "disable", ids)
    job_url = r.headers["Location"]
    assert login("admin").post(job_url + "/again").status_code == 422  # it is done
    assert login("reseller_a").post(job_url + "/again").status_code == 404


def test_a_runner_is_alive_while_its_process_runs():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        job = Job(id=1, runner=f"{runner.HOST}:{child.pid}:{runner._start_of(child.pid)}")
        assert runner.alive(job) is True
    finally:
        child.kill()
        child.wait()
    assert runner.alive(job) is False
    assert runner.alive(Job(id=1, runner=f"another-machine:{child.pid}:1")) is None
    with runner.running(7) as me:
        assert runner.alive(Job(id=7, runner=me)) is True
    assert runner.alive(Job(id=7, runner=me)) is False


def test_a_running_job_another_machine_runs_is_taken_for_dead_only_when_it_stops_reporting(ctx):
    [cid] = [f.customer().id]
    job = bulk.prepare(ctx, f.user("admin"), "disable", {}, ids=[cid])
    job.status, job.runner, job.heartbeat_at = "running", "another-machine:1:1", utcnow() - timedelta(minutes=1)
    ctx.commit()
    assert jobs.reap(ctx, job, runner.alive).status == "running"
    job.heartbeat_at = utcnow() - jobs.STALE_AFTER - timedelta(minutes=1)
    ctx.commit()
    assert jobs.reap(ctx, job, runner.alive).status == "failed"


def test_sqlite_connections_wait_for_a_writer_instead_of_failing(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite only")
    with app.app_context():
        assert db.session.scalar(text("PRAGMA busy_timeout")) >= 10_000


def test_without_redis_a_job_still_queued_long_after_it_was_started_lost_its_process(ctx):
    [cid] = [f.customer().id]
    job = bulk.prepare(ctx, f.user("admin"), "disable", {}, ids=[cid])
    ctx.commit()
    assert jobs.reap(ctx, job, runner.alive, queued_waits=False).status == "queued"
    later = utcnow() + jobs.STALE_AFTER + timedelta(minutes=1)
    assert jobs.reap(ctx, job, runner.alive, queued_waits=True, now=later).status == "queued"  # a worker will come
    assert jobs.reap(ctx, job, runner.alive, queued_waits=False, now=later).status == "failed"


def a_stopped_job(app, action, ids, params=None):
    """A job of `action` the admin confirmed, whose process died after its first chunk, as its
    page shows it: failed."""
    with app.app_context():
        job_id = f.stopped_job(db.session, f.user("admin"), action, ids, params)
        jobs.reap(db.session, db.session.get(Job, job_id), runner.alive)
        db.session.commit()
        return job_id


def test_staff_cannot_start_again_an_admins_bulk_delete_and_nothing_more_is_deleted(app, login):
    ids = make(app, 3)
    job_id = a_stopped_job(app, "delete", ids, {"confirm": "delete"})
    with app.app_context():
        assert db.session.get(Job, job_id).status == "failed"
        left = db.session.query(Customer.id).filter(Customer.id.in_(ids)).count()
    assert left == 2  # the first chunk went
    assert login("staff").post(f"/jobs/{job_id}/again").status_code == 404  # not in staff's jobs list (only its own)
    with app.app_context():
        assert db.session.query(Customer.id).filter(Customer.id.in_(ids)).count() == 2
        assert db.session.get(Job, job_id).status == "failed"


def test_a_stopped_job_started_again_twice_at_once_runs_once(app, login):
    from sqlalchemy.orm import Session
    ids = make(app, 3)
    job_id = a_stopped_job(app, "disable", ids)
    with app.app_context():
        admin = f.user("admin")
        with Session(db.engine) as second_click:
            seen = second_click.get(Job, job_id)  # read before the first click acts (and kept)
            assert seen.status == "failed"
            jobs.start_again(db.session, admin, job_id)
            with pytest.raises(jobs.Invalid, match="started again already"):
                jobs.start_again(second_click, admin, job_id)
        db.session.expire_all()
        again = db.session.get(Job, job_id)
        assert (again.status, again.done, again.result["changed"]) == ("done", 3, 3)


def test_a_queued_job_is_run_by_one_runner_only(app):
    ids = make(app, 2)
    with app.app_context():
        job = bulk.prepare(db.session, f.user("admin"), "disable", {}, ids=ids)
        db.session.commit()
        assert jobs.claim(db.session, job.id, "one") is True
        assert jobs.claim(db.session, job.id, "two") is False
        db.session.expire_all()
        assert db.session.get(Job, job.id).runner == "one"
