"""The job monitor in a real browser, at 1440 and 1024 wide: periodic jobs with their last and next
run, a failed one's error and Retry now (which runs it: the page then shows it done); without Redis
it says RQ is not in use; with a queue, its jobs by state with Retry and Cancel."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def unreachable_host(host):
    raise ConnectionError(f"could not reach {host}")


def report(n):
    return {"pages": n}


class Nightly:
    def __init__(self):
        self.fail = "ConnectionError: the payment gateway did not answer"

    def __call__(self):
        if self.fail:
            raise RuntimeError(self.fail)
        return {"reminded": 12, "skipped": 3}


@pytest.fixture
def nightly(live_server, monkeypatch):
    from app.jobs import schedule, tasks
    from app.services import periodic
    task = Nightly()
    job = periodic.Periodic("test-nightly", "Nightly test job", task, cron="0 2 * * *")
    monkeypatch.setattr(schedule, "PERIODIC", (*schedule.PERIODIC, job))

    def ran_once(session):
        tasks.run_due()  # nothing is due in the demo data
        periodic.run(session, schedule.PERIODIC[0], "e2e")
        periodic.ensure(session, [job])
        session.execute(periodic.PeriodicJob.__table__.update().where(periodic.PeriodicJob.name == job.name)
                        .values(next_due_at=periodic.utcnow()))
        session.commit()
        periodic.run(session, job, "e2e")
    live_server.query(ran_once)
    yield task
    live_server.query(lambda s: (s.execute(periodic.PeriodicJob.__table__.delete()), s.commit()))


def test_the_monitor_shows_periodic_jobs_and_a_failure_and_retry_runs_it(page_as, nightly, screenshots):
    page = page_as("admin")
    page.goto("/job-monitor/")
    expect(page.locator("#rq-not-in-use")).to_contain_text("RQ is not in use")
    expect(page.locator("#periodic-due-work .periodic-status")).to_have_text("Done")
    expect(page.locator("#periodic-test-nightly .periodic-error")).to_contain_text("the payment gateway did not answer")
    shoot(page, screenshots, "job-monitor")

    nightly.fail = None
    with page.expect_navigation():
        page.locator("#retry-periodic-test-nightly button").click()
    expect(page.locator("#periodic-test-nightly .periodic-status")).to_have_text("Done")
    expect(page.locator("#periodic-test-nightly .periodic-result")).to_have_text("12 reminded, 3 skipped")
    expect(page.locator(".alert")).to_contain_text("Nightly test job: due now, and queued.")
    shoot(page, screenshots, "job-monitor-retried", widths=(1024,))


def test_with_a_queue_the_monitor_lists_its_jobs_and_cancels_a_waiting_one(page_as, live_server, monkeypatch,
                                                                          screenshots):
    from fakeredis import FakeStrictRedis
    from rq import Queue, SimpleWorker

    from app.jobs import monitor
    queue = Queue("default", connection=FakeStrictRedis())
    monkeypatch.setitem(live_server.app.config, "REDIS_URL", "redis://fake")
    monkeypatch.setattr(monitor, "get_queue", lambda app=None: queue)
    queue.enqueue(unreachable_host, "smtp.example.com")
    queue.enqueue(report, 4)
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    waiting = queue.enqueue(report, 7)

    page = page_as("admin")
    page.goto("/job-monitor/")
    expect(page.locator("#rq-counts")).to_contain_text("1 failed")
    expect(page.locator("#rq-failed")).to_contain_text("ConnectionError: could not reach smtp.example.com")
    expect(page.locator(f"#rq-job-{waiting.id}")).to_contain_text("report")
    shoot(page, screenshots, "job-monitor-rq")

    page.once("dialog", lambda dialog: dialog.accept())  # "Cancel this job? It will not run."
    with page.expect_navigation():
        page.locator(f"#cancel-{waiting.id} button").click()
    expect(page.locator(".alert")).to_contain_text(f"Job {waiting.id} is cancelled")
    expect(page.locator("#rq-cancelled")).to_contain_text(waiting.id)
