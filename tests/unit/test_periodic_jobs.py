"""Periodic jobs (services/periodic.py, app/jobs/schedule.py), with an injected "now": a slot is
claimed once; a second claim at the same time gets nothing; after days of downtime a job runs once
and its next slot is in the future; a failure is recorded with its error and retried when made due;
`flask jobs run-due` runs what is due and says so."""
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app.jobs import schedule, tasks
from app.models import PeriodicJob
from app.services import periodic
from app.services.errors import NotFound, ServiceError

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # on the hour


class Counter:
    """A task that counts its runs (and fails while told to)."""

    def __init__(self):
        self.runs, self.fail = 0, None

    def __call__(self):
        self.runs += 1
        if self.fail:
            raise RuntimeError(self.fail)
        return {"sent": 1, "skipped": 0}


@pytest.fixture
def hourly():
    counter = Counter()
    return periodic.Periodic("test-hourly", "Test hourly", counter, every=3600), counter


def row(session, name) -> PeriodicJob:
    return session.scalar(select(PeriodicJob).where(PeriodicJob.name == name).execution_options(populate_existing=True))


def utc(moment):
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def test_a_new_interval_job_is_due_at_once_and_its_next_slot_is_on_the_clock(ctx, hourly):
    job, counter = hourly
    outcome = periodic.run(ctx, job, "me", now=T0 + timedelta(minutes=10))
    assert (outcome.status, outcome.result, counter.runs) == ("done", {"sent": 1, "skipped": 0}, 1)
    saved = row(ctx, job.name)
    assert utc(saved.next_due_at) == T0 + timedelta(hours=1)
    assert (saved.last_status, saved.last_result, saved.last_error) == ("done", {"sent": 1, "skipped": 0}, None)
    assert utc(saved.last_started_at) == utc(saved.last_finished_at) == T0 + timedelta(minutes=10)


def test_a_slot_is_claimed_once_and_a_second_claim_at_the_same_time_gets_nothing(ctx, hourly):
    job, counter = hourly
    periodic.ensure(ctx, [job], T0)
    assert periodic.claim(ctx, job, T0, "first") is True
    assert periodic.claim(ctx, job, T0, "second") is False
    assert periodic.run(ctx, job, "third", now=T0 + timedelta(minutes=59)) is None
    assert counter.runs == 0 and row(ctx, job.name).runner == "first"


def test_running_twice_at_the_same_moment_runs_the_task_once(ctx, hourly):
    job, counter = hourly
    assert periodic.run(ctx, job, "a", now=T0) is not None
    assert periodic.run(ctx, job, "b", now=T0) is None
    assert periodic.run_due(ctx, [job], "c", now=T0) == {}
    assert counter.runs == 1


def test_after_days_of_downtime_the_job_runs_once_and_is_next_due_after_now(ctx, hourly):
    job, counter = hourly
    periodic.run(ctx, job, "a", now=T0)
    back = T0 + timedelta(days=3, minutes=25)
    outcomes = periodic.run_due(ctx, [job], "b", now=back)
    assert list(outcomes) == [job.name] and counter.runs == 2
    assert utc(row(ctx, job.name).next_due_at) == T0 + timedelta(days=3, hours=1)
    assert periodic.run_due(ctx, [job], "c", now=back + timedelta(minutes=1)) == {}
    assert counter.runs == 2


def test_a_cron_job_waits_for_its_first_slot_then_runs_once_per_slot(ctx):
    counter = Counter()
    job = periodic.Periodic("test-daily", "Test daily", counter, cron="0 6 * * *")
    first = periodic.first_due(job, T0)
    assert first > T0 and first - T0 <= timedelta(days=1)
    assert periodic.run_due(ctx, [job], "a", now=T0) == {} and counter.runs == 0
    assert list(periodic.run_due(ctx, [job], "a", now=first)) == [job.name]
    assert periodic.run_due(ctx, [job], "a", now=first + timedelta(hours=23)) == {}
    assert list(periodic.run_due(ctx, [job], "a", now=first + timedelta(days=10))) == [job.name]
    assert counter.runs == 2
    assert utc(row(ctx, job.name).next_due_at) == periodic.next_due(job, first + timedelta(days=10))


def test_a_failure_is_recorded_with_its_error_and_retried_once_made_due(ctx, hourly):
    job, counter = hourly
    counter.fail = "the SMTP server said no"
    outcome = periodic.run(ctx, job, "a", now=T0)
    assert (outcome.status, outcome.error) == ("failed", "RuntimeError: the SMTP server said no")
    saved = row(ctx, job.name)
    assert (saved.last_status, saved.last_error) == ("failed", "RuntimeError: the SMTP server said no")
    assert utc(saved.next_due_at) == T0 + timedelta(hours=1)  # not again before its next slot...
    assert periodic.run(ctx, job, "b", now=T0 + timedelta(minutes=5)) is None

    counter.fail = None
    periodic.make_due(ctx, [job], job.name, now=T0 + timedelta(minutes=6))  # ...unless retried
    outcome = periodic.run(ctx, job, "c", now=T0 + timedelta(minutes=7))
    assert outcome.status == "done" and counter.runs == 2
    saved = row(ctx, job.name)
    assert (saved.last_status, saved.last_error, utc(saved.next_due_at)) == ("done", None, T0 + timedelta(hours=1))


def test_retry_names_a_declared_job_and_waits_for_a_run_under_way(ctx, hourly):
    job, _ = hourly
    with pytest.raises(NotFound):
        periodic.make_due(ctx, [job], "no-such-job", now=T0)
    periodic.ensure(ctx, [job], T0)
    periodic.claim(ctx, job, T0, "a")
    with pytest.raises(ServiceError, match="is running"):
        periodic.make_due(ctx, [job], job.name, now=T0 + timedelta(minutes=1))
    # A run "running" for longer than a job may is taken for stopped: retry is allowed.
    periodic.make_due(ctx, [job], job.name, now=T0 + periodic.RUNNING_FOR_AT_MOST + timedelta(minutes=1))


def test_a_run_running_for_longer_than_a_job_may_is_lost_and_any_job_not_running_may_run_now(ctx, hourly):
    job, counter = hourly
    periodic.ensure(ctx, [job], T0)
    assert (periodic.state(row(ctx, job.name), T0), periodic.may_run_now(row(ctx, job.name), T0)) == (None, True)
    periodic.claim(ctx, job, T0, "died")  # its process dies: nothing records an outcome
    soon, late = T0 + timedelta(minutes=30), T0 + periodic.RUNNING_FOR_AT_MOST + timedelta(seconds=1)
    assert (periodic.state(row(ctx, job.name), soon), periodic.may_run_now(row(ctx, job.name), soon)) == \
        ("running", False)
    assert (periodic.state(row(ctx, job.name), late), periodic.may_run_now(row(ctx, job.name), late)) == \
        ("lost", True)
    periodic.make_due(ctx, [job], job.name, now=late)
    assert periodic.run(ctx, job, "fresh", now=late).status == "done"
    done = row(ctx, job.name)
    assert (periodic.state(done, late), periodic.may_run_now(done, late)) == ("done", True)
    periodic.make_due(ctx, [job], job.name, now=late + timedelta(minutes=1))  # a job that ran fine: run again now
    assert periodic.run(ctx, job, "again", now=late + timedelta(minutes=1)).status == "done" and counter.runs == 2


def test_a_run_that_lost_its_slot_does_not_overwrite_the_later_runs_record(ctx, hourly):
    job, _ = hourly
    periodic.ensure(ctx, [job], T0)
    periodic.claim(ctx, job, T0, "slow")
    periodic.make_due(ctx, [job], job.name, now=T0 + timedelta(hours=2))
    periodic.claim(ctx, job, T0 + timedelta(hours=2), "fresh")
    periodic._record(ctx, periodic.Outcome(job.name, "failed", error="late"), "slow", T0 + timedelta(hours=2))
    assert (row(ctx, job.name).last_status, row(ctx, job.name).runner) == ("running", "fresh")


def test_two_threads_claiming_at_once_run_it_once(app, hourly):
    job, counter = hourly
    with app.app_context():
        from app.extensions import db
        periodic.ensure(db.session, [job], T0)
        db.session.remove()
    barrier, outcomes = threading.Barrier(2), []

    def go(name):
        with app.app_context():
            from app.extensions import db
            barrier.wait(10)
            try:
                outcomes.append(periodic.run(db.session, job, name, now=T0 + timedelta(minutes=1)))
            finally:
                db.session.remove()
    threads = [threading.Thread(target=go, args=(n,)) for n in ("a", "b")]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(o is None for o in outcomes) == [False, True] and counter.runs == 1


def test_a_declaration_needs_one_schedule():
    with pytest.raises(ValueError):
        periodic.Periodic("x", "X", Counter())
    with pytest.raises(ValueError):
        periodic.Periodic("x", "X", Counter(), every=60, cron="* * * * *")
    with pytest.raises(ValueError):
        periodic.Periodic("x", "X", Counter(), cron="every tuesday")
    assert periodic.Periodic("x", "X", Counter(), every=300).schedule == "every 5 minutes"
    assert periodic.Periodic("x", "X", Counter(), every=3600).schedule == "every hour"
    assert periodic.Periodic("x", "X", Counter(), cron="0 6 * * *").schedule == "cron 0 6 * * *"


def test_the_due_work_is_declared_once_with_a_task_rq_can_import():
    names = [job.name for job in schedule.PERIODIC]
    assert len(names) == len(set(names)) and schedule.DUE_WORK in names
    for job in schedule.PERIODIC:
        assert job.task.__module__ == "app.jobs.tasks" and getattr(tasks, job.task.__name__) is job.task


# ---- flask jobs run-due -----------------------------------------------------------------------------
def test_flask_jobs_run_due_runs_each_due_periodic_job_once_and_says_what_it_did(app, ctx, hourly, monkeypatch):
    job, counter = hourly
    monkeypatch.setattr(schedule, "PERIODIC", (*schedule.PERIODIC, job))
    first = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "test-hourly: 1 sent" and counter.runs == 1
    again = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert (again.exit_code, again.output.strip(), counter.runs) == (0, "Nothing was due.", 1)
    assert row(ctx, schedule.DUE_WORK).last_status == "done"  # the due work's slot was run and recorded


def test_flask_jobs_run_due_reports_a_failed_periodic_job_and_exits_1(app, ctx, hourly, monkeypatch):
    job, counter = hourly
    counter.fail = "no connection"
    monkeypatch.setattr(schedule, "PERIODIC", (job,))
    result = app.test_cli_runner().invoke(args=["jobs", "run-due"])
    assert result.exit_code == 1
    assert "test-hourly failed: RuntimeError: no connection" in result.output  # stderr, with stdout
    assert row(ctx, job.name).last_error == "RuntimeError: no connection"
