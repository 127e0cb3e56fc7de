"""The job monitor (/job-monitor/): the Admin's alone (every other role 403); periodic jobs with their
last and next run and each failure's error, and Retry (made due now and run); without Redis it says
RQ is not in use; with a queue (fakeredis) the queued, failed and finished RQ jobs, Retry of a failed
one and Cancel of a waiting one."""
import pytest
from fakeredis import FakeStrictRedis
from rq import Queue, SimpleWorker
from sqlalchemy import select

from app.jobs import monitor, schedule
from app.models import PeriodicJob
from app.services import periodic
from tests import factories as f


def broken(reason):
    """An RQ job that fails (importable, so a worker can run it)."""
    raise RuntimeError(reason)


def fine(n):
    return n * 2


class Flaky:
    def __init__(self):
        self.runs, self.fail = 0, "the mail server refused us"

    def __call__(self):
        self.runs += 1
        if self.fail:
            raise RuntimeError(self.fail)
        return {"sent": 2}


@pytest.fixture
def flaky(monkeypatch):
    task = Flaky()
    monkeypatch.setattr(schedule, "PERIODIC", (*schedule.PERIODIC,
                                               periodic.Periodic("test-flaky", "Flaky test job", task, every=3600)))
    return task


@pytest.fixture
def fake_queue(app, monkeypatch):
    queue = Queue("monitor-test", connection=FakeStrictRedis())
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://fake")
    monkeypatch.setattr(monitor, "get_queue", lambda app=None: queue)
    return queue


@pytest.mark.parametrize("username", ["finance", "staff", "readonly", "reseller_a"])
def test_only_the_admin_sees_the_monitor_or_retries(login, username, flaky):
    browser = login(username)
    assert browser.get("/job-monitor/").status_code == 403
    assert browser.post("/job-monitor/periodic/test-flaky/retry").status_code == 403
    assert browser.post("/job-monitor/rq/abc/cancel").status_code == 403
    assert flaky.runs == 0


def test_without_redis_the_monitor_says_rq_is_not_in_use_and_shows_periodic_and_app_jobs(app, ctx, login):
    admin = f.user("admin")
    from app.services import jobs
    job = jobs.new_job(ctx, admin, "disable", {}, ids=[f.customer().id])
    job.status, job.error = "failed", "RuntimeError: the database went away"
    ctx.commit()
    page = login("admin").get("/job-monitor/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="rq-not-in-use"' in html and "RQ is not in use" in html
    assert 'id="periodic-due-work"' in html and "every minute" in html and "Never run" in html
    assert "RuntimeError: the database went away" in html and f"/jobs/{job.id}" in html


def test_a_failed_periodic_job_shows_its_error_and_retry_runs_it_now(app, ctx, login, flaky):
    periodic.run(ctx, periodic.find(schedule.jobs(), "test-flaky"), "test")
    browser = login("admin")
    html = browser.get("/job-monitor/").get_data(as_text=True)
    assert "RuntimeError: the mail server refused us" in html and 'id="retry-periodic-test-flaky"' in html

    flaky.fail = None
    r = browser.post("/job-monitor/periodic/test-flaky/retry")
    assert r.status_code == 302 and r.headers["Location"].endswith("/job-monitor/")
    assert flaky.runs == 2  # without Redis or threads (tests), queued work runs at once
    row = ctx.scalar(select(PeriodicJob).where(PeriodicJob.name == "test-flaky").execution_options(populate_existing=True))
    assert (row.last_status, row.last_error, row.last_result) == ("done", None, {"sent": 2})
    html = browser.get("/job-monitor/").get_data(as_text=True)
    assert "Flaky test job: due now, and queued." in html and "2 sent" in html


def test_retrying_an_unknown_periodic_job_is_404(login):
    assert login("admin").post("/job-monitor/periodic/no-such-job/retry").status_code == 404


def test_with_a_queue_the_monitor_lists_failed_and_finished_jobs_and_retries_a_failed_one(login, fake_queue):
    failed = fake_queue.enqueue(broken, "disk full")
    done = fake_queue.enqueue(fine, 21)
    SimpleWorker([fake_queue], connection=fake_queue.connection).work(burst=True)
    waiting = fake_queue.enqueue(fine, 1)
    browser = login("admin")
    html = browser.get("/job-monitor/").get_data(as_text=True)
    assert 'id="rq-not-in-use"' not in html
    assert "1 queued" in html and "1 failed" in html and "1 finished" in html
    assert f'id="rq-job-{failed.id}"' in html and "RuntimeError: disk full" in html
    assert f'id="retry-{failed.id}"' in html and f'id="cancel-{waiting.id}"' in html
    assert f'id="rq-job-{done.id}"' in html and f'id="retry-{done.id}"' not in html

    assert browser.post(f"/job-monitor/rq/{failed.id}/retry").status_code == 302
    assert failed.id in fake_queue.get_job_ids() and failed.id not in fake_queue.failed_job_registry
    assert browser.post(f"/job-monitor/rq/{done.id}/retry").status_code == 400  # only a failed job
    assert browser.post("/job-monitor/rq/no-such-job/retry").status_code == 404


def test_cancel_stops_a_waiting_job_and_refuses_a_finished_one(login, fake_queue):
    waiting = fake_queue.enqueue(fine, 1)
    browser = login("admin")
    assert browser.post(f"/job-monitor/rq/{waiting.id}/cancel").status_code == 302
    assert waiting.id not in fake_queue.get_job_ids() and waiting.get_status() == "canceled"
    SimpleWorker([fake_queue], connection=fake_queue.connection).work(burst=True)
    assert waiting.get_status() == "canceled"  # it never ran
    assert browser.post(f"/job-monitor/rq/{waiting.id}/cancel").status_code == 400


def test_a_periodic_job_long_past_its_time_is_shown_overdue(ctx, login, flaky):
    from datetime import timedelta

    from app.models.resellers import utcnow
    periodic.ensure(ctx, schedule.jobs())
    ctx.execute(PeriodicJob.__table__.update().where(PeriodicJob.name == "test-flaky")
                .values(next_due_at=utcnow() - timedelta(hours=2)))
    ctx.commit()
    html = login("admin").get("/job-monitor/").get_data(as_text=True)
    row = html[html.index('id="periodic-test-flaky"'):]
    assert "overdue: is a scheduler running?" in row[:row.index("</tr>")]
    due_work = html[html.index('id="periodic-due-work"'):]
    assert "overdue" not in due_work[:due_work.index("</tr>")]  # due now: not yet overdue


def test_a_run_whose_process_died_shows_lost_and_run_now_runs_it_again(ctx, login, flaky):
    from datetime import timedelta

    from app.models.resellers import utcnow
    periodic.ensure(ctx, schedule.jobs())
    job = periodic.find(schedule.jobs(), "test-flaky")
    periodic.claim(ctx, job, utcnow(), "dead-host:1:1")
    ctx.execute(PeriodicJob.__table__.update().where(PeriodicJob.name == "test-flaky")
                .values(last_started_at=utcnow() - periodic.RUNNING_FOR_AT_MOST - timedelta(minutes=5)))
    ctx.commit()
    browser = login("admin")
    html = browser.get("/job-monitor/").get_data(as_text=True)
    row = html[html.index('id="periodic-test-flaky"'):]
    row = row[:row.index("</tr>")]
    assert "Lost" in row and "its process died?" in row and "Running" not in row
    assert 'id="retry-periodic-test-flaky"' in row and "Run now" in row and "data-confirm" in row
    flaky.fail = None
    r = browser.post("/job-monitor/periodic/test-flaky/retry")
    assert r.status_code == 302 and flaky.runs == 1
    saved = ctx.scalar(select(PeriodicJob).where(PeriodicJob.name == "test-flaky")
                       .execution_options(populate_existing=True))
    assert (saved.last_status, saved.last_result) == ("done", {"sent": 2})


def test_run_now_is_offered_on_a_job_that_ran_fine_and_refused_while_one_really_runs(ctx, login, flaky):
    from app.models.resellers import utcnow
    flaky.fail = None
    periodic.run(ctx, periodic.find(schedule.jobs(), "test-flaky"), "test")
    browser = login("admin")
    html = browser.get("/job-monitor/").get_data(as_text=True)
    row = html[html.index('id="periodic-test-flaky"'):]
    assert "Run now" in row[:row.index("</tr>")]
    assert browser.post("/job-monitor/periodic/test-flaky/retry").status_code == 302 and flaky.runs == 2
    periodic.make_due(ctx, schedule.jobs(), "test-flaky")
    periodic.claim(ctx, periodic.find(schedule.jobs(), "test-flaky"), utcnow(), "busy")  # running now
    html = browser.get("/job-monitor/").get_data(as_text=True)
    row = html[html.index('id="periodic-test-flaky"'):]
    row = row[:row.index("</tr>")]
    assert "Running" in row and 'id="retry-periodic-test-flaky"' not in row
    refused = browser.post("/job-monitor/periodic/test-flaky/retry")
    assert refused.status_code == 400 and "is running; wait for it to finish" in refused.get_data(as_text=True)
    assert flaky.runs == 2
