"""Periodic jobs: what runs on a schedule, and the record that makes each run happen once.

A periodic job is declared once (app/jobs/schedule.py) as a `Periodic`: a name, a task, and an
interval or a cron string. Whoever schedules it (RQ's cron in `flask worker`, `flask jobs run-due`
from the system's cron, the dev server's thread) runs it through `run`, which

- claims its row (`periodic_job`): one UPDATE that finds it due (next_due_at <= now) and moves
  next_due_at to the first slot AFTER now. Two schedulers at once: one gets the row, the other
  nothing. After days of downtime: one run, and the next slot is in the future again;
- runs the task, and records how it went (its counts, or its error) on the row, as that run only.

"now" is a parameter everywhere (time-travel tests). A failed run waits for its next slot, or
for `make_due` (the job monitor's Run now / Retry now, for any job not running). A run still "running"
after RUNNING_FOR_AT_MOST lost its process (`state`: "lost"): nothing will record its outcome, and it
may be run again at once. The task itself must do its work once when run twice
(each kind keys its work: messages by id, reminders by episode), since a run that dies half-way
is not run again before its next slot.
"""
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import PeriodicJob
from app.models.resellers import utcnow
from app.services.errors import NotFound, ServiceError

log = logging.getLogger(__name__)
ERROR_LENGTH = 2000
# A run "running" for longer than this (RQ's job timeout, RQ_JOB_TIMEOUT's default) lost its process.
RUNNING_FOR_AT_MOST = timedelta(hours=1)
EARLY = timedelta(seconds=2)  # clocks of machines that agree (NTP) differ by less


@dataclass(frozen=True)
class Periodic:
    """A job run on a schedule: `every` seconds (slots aligned on the clock: every 3600 runs on the
    hour) or a `cron` string (read in the server's local time, as RQ's cron reads it). `task` takes
    no arguments and returns what it did (counts by name: the monitor and `flask jobs run-due` show
    them). Interval jobs are first due at once; cron jobs at their first slot."""

    name: str
    label: str
    task: Callable[[], dict | None] = field(compare=False)
    every: int | None = None
    cron: str | None = None

    def __post_init__(self):
        if (self.every is None) == (self.cron is None):
            raise ValueError(f"periodic job {self.name}: give either every (seconds) or cron")
        if self.every is not None and self.every <= 0:
            raise ValueError(f"periodic job {self.name}: every must be a positive number of seconds")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"periodic job {self.name}: {self.cron!r} is not a cron string")

    @property
    def schedule(self) -> str:
        """The schedule in words ("every 5 minutes", "cron 0 6 * * *")."""
        if self.cron:
            return f"cron {self.cron}"
        for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
            if self.every % seconds == 0:
                n = self.every // seconds
                return f"every {unit}" if n == 1 else f"every {n} {unit}s"
        return f"every {self.every} seconds"  # pragma: no cover  (1 divides everything)


@dataclass
class Outcome:
    """One run: "done" with the task's counts, or "failed" with its error."""

    name: str
    status: str
    result: dict = field(default_factory=dict)
    error: str | None = None


def utc(moment: datetime) -> datetime:
    """An aware UTC time (SQLite gives back naive times: they are UTC, as stored)."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def next_due(job: Periodic, after: datetime) -> datetime:
    """The first slot of `job` strictly after `after` (UTC). Always after it: however long the
    schedulers were away, the job is then due once, at the next slot, not once per missed slot."""
    after = utc(after)
    if job.every:
        seconds = after.timestamp()
        return datetime.fromtimestamp(seconds - seconds % job.every + job.every, timezone.utc)
    # As rq.cron.CronJob: cron fields match local time; a repeated local hour maps to its first
    # occurrence, which may be before `after`, so skip those.
    slots = croniter(job.cron, after.astimezone().replace(tzinfo=None))
    while True:
        candidate = datetime.fromtimestamp(slots.get_next(datetime).replace(fold=0).timestamp(), timezone.utc)
        if candidate > after:
            return candidate


def first_due(job: Periodic, now: datetime) -> datetime:
    """When a job never run before is due: an interval job at once, a cron job at its first slot."""
    return utc(now) if job.every else next_due(job, now)


def find(jobs, name: str) -> Periodic:
    """The declared job called `name` (NotFound: an unknown name, or one no longer declared)."""
    for job in jobs:
        if job.name == name:
            return job
    raise NotFound(f"No periodic job is called {name!r}.")


def ensure(session: Session, jobs, now: datetime | None = None) -> None:
    """A row for every declared job (committed); rows that exist are left as they are. Two
    processes doing this at once insert each row once (ON CONFLICT DO NOTHING)."""
    now = utc(now or utcnow())
    known = set(session.scalars(select(PeriodicJob.name).where(PeriodicJob.name.in_([j.name for j in jobs]))))
    missing = [{"name": j.name, "next_due_at": first_due(j, now)} for j in jobs if j.name not in known]
    if not missing:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(PeriodicJob).values(missing).on_conflict_do_nothing(index_elements=["name"]))
    session.commit()


def due(session: Session, jobs, now: datetime | None = None) -> list[Periodic]:
    """The declared jobs due at `now` (rows made first for jobs new to the database)."""
    now = utc(now or utcnow())
    ensure(session, jobs, now)
    names = set(session.scalars(select(PeriodicJob.name).where(
        PeriodicJob.name.in_([j.name for j in jobs]), PeriodicJob.next_due_at <= now + EARLY)))
    return [j for j in jobs if j.name in names]


def claim(session: Session, job: Periodic, now: datetime, runner: str) -> bool:
    """Take this slot of `job` for `runner` (committed): True for one caller only. The same UPDATE
    that finds it due moves next_due_at past now (PostgreSQL: a second UPDATE waits for the
    first's commit, then finds the row no longer due; SQLite: writers take turns). A slot is
    taken up to EARLY before its time: the scheduler that enqueued it at its time may be on a
    machine whose clock is a little ahead of this one's."""
    now = utc(now)
    claimed = session.execute(
        update(PeriodicJob)
        .where(PeriodicJob.name == job.name, PeriodicJob.next_due_at <= now + EARLY)
        .values(next_due_at=next_due(job, now + EARLY), last_started_at=now, last_finished_at=None,
                last_status="running", last_error=None, last_result=None, runner=runner)
        .execution_options(synchronize_session=False))
    session.commit()
    return claimed.rowcount == 1


def _record(session: Session, outcome: Outcome, runner: str, now: datetime) -> None:
    """The outcome on the row, if this run still holds it (a later run's record is never overwritten)."""
    session.execute(
        update(PeriodicJob).where(PeriodicJob.name == outcome.name, PeriodicJob.runner == runner)
        .values(last_status=outcome.status, last_finished_at=utc(now), last_result=outcome.result or None,
                last_error=outcome.error)
        .execution_options(synchronize_session=False))
    session.commit()


def _summary(result) -> dict:
    """What a task returned, as JSON the row can keep (counts by name)."""
    if result is None:
        return {}
    if isinstance(result, dict):
        return {str(k): v if isinstance(v, (int, float, str, bool, type(None))) else str(v) for k, v in result.items()}
    return {"result": str(result)}


def run(session: Session, job: Periodic, runner: str, now: datetime | None = None) -> Outcome | None:
    """Run `job` if it is due at `now` and nobody else has this slot: its Outcome (a failure is
    recorded, not raised), or None when it was not due or another runner took it. With `now`
    given (tests), the run also finishes then."""
    injected = now is not None
    now = utc(now or utcnow())
    ensure(session, [job], now)
    if not claim(session, job, now, runner):
        return None
    try:
        outcome = Outcome(job.name, "done", _summary(job.task()))
    except Exception as e:  # noqa: BLE001  recorded on the row for the monitor; the next slot tries again
        session.rollback()
        log.exception("periodic job %s failed", job.name)
        outcome = Outcome(job.name, "failed", error=f"{type(e).__name__}: {e}"[:ERROR_LENGTH])
    _record(session, outcome, runner, now if injected else utcnow())
    return outcome


def run_due(session: Session, jobs, runner: str, now: datetime | None = None) -> dict[str, Outcome]:
    """Every declared job that is due at `now`, each run once (see `run`): their outcomes by name."""
    now = utc(now or utcnow())
    outcomes = {}
    for job in due(session, jobs, now):
        outcome = run(session, job, runner, now)
        if outcome is not None:
            outcomes[job.name] = outcome
    return outcomes


def state(row: PeriodicJob, now: datetime) -> str | None:
    """How the job's last run stands at `now`: "running", "lost" (running for longer than
    RUNNING_FOR_AT_MOST: its process died, so nothing will record its outcome), "done", "failed", or
    None (never run)."""
    if row.last_status == "running" and (row.last_started_at is None
                                         or utc(row.last_started_at) + RUNNING_FOR_AT_MOST <= utc(now)):
        return "lost"
    return row.last_status


def may_run_now(row: PeriodicJob, now: datetime) -> bool:
    """Whether the job may be made due now (`make_due`): any job whose run is not under way."""
    return state(row, now) != "running"


def make_due(session: Session, jobs, name: str, now: datetime | None = None) -> PeriodicJob:
    """Run now (Retry now for a failed one): the job is due at `now` (committed), so the next
    scheduler run takes it. NotFound for a name not declared; refused while a run of it is under way
    (a lost one is not: see `state`)."""
    job = find(jobs, name)
    now = utc(now or utcnow())
    ensure(session, [job], now)
    row = session.get(PeriodicJob, name, populate_existing=True)
    if not may_run_now(row, now):
        raise ServiceError(f"{job.label} is running; wait for it to finish.")
    row.next_due_at = now
    session.commit()
    return row


def rows(session: Session, jobs, now: datetime | None = None) -> list[tuple[Periodic, PeriodicJob]]:
    """Each declared job with its row (made for jobs new to the database), in declaration order."""
    ensure(session, jobs, now)
    found = {r.name: r for r in session.scalars(select(PeriodicJob).where(PeriodicJob.name.in_([j.name for j in jobs])))}
    return [(j, found[j.name]) for j in jobs]

