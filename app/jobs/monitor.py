"""What the job monitor (app/views/job_monitor.py) reads of RQ, and the two things an admin may do
to an RQ job: retry a failed one (requeued as it was), cancel one still waiting.

Only with Redis (REDIS_URL); without it `read` answers None and the monitor says RQ is not in use.
Redis not answering is shown, not raised: the monitor is where one looks when things are wrong.
"""
from dataclasses import dataclass, field
from datetime import datetime

from redis.exceptions import RedisError
from rq import Worker
from rq.cron import CronScheduler
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from app.jobs import get_queue
from app.services.errors import NotFound, ServiceError

SHOWN = 20  # jobs listed per state, newest first
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)  # what cancel may stop


@dataclass
class RqJob:
    """One RQ job as the monitor lists it."""

    id: str
    task: str
    args: str
    status: str
    enqueued_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    error: str | None = None  # the exception's last line
    traceback: str | None = None


@dataclass
class RqState:
    """The queue's jobs in one state: how many, and the newest SHOWN."""

    name: str
    count: int
    jobs: list[RqJob]


@dataclass
class RqSummary:
    queue: str
    states: list[RqState] = field(default_factory=list)
    workers: int = 0
    schedulers: list[tuple[str, datetime | None]] = field(default_factory=list)  # RQ cron: name, last heartbeat
    error: str | None = None  # Redis did not answer


def _shown(job: Job) -> RqJob:
    result = job.latest_result() if job.get_status(refresh=False) == JobStatus.FAILED else None
    trace = (result.exc_string or "").strip() if result is not None else ""
    args = ", ".join(repr(a) for a in job.args or ())
    return RqJob(id=job.id, task=(job.func_name or "").rsplit(".", 1)[-1], args=args[:120],
                 status=str(job.get_status(refresh=False) or ""), enqueued_at=job.enqueued_at,
                 started_at=job.started_at, ended_at=job.ended_at,
                 error=trace.splitlines()[-1] if trace else None, traceback=trace[-4000:] or None)


def _state(queue, name: str, ids: list[str], count: int) -> RqState:
    jobs = [job for job in Job.fetch_many(ids, connection=queue.connection, serializer=queue.serializer) if job]
    return RqState(name, count, [_shown(job) for job in jobs])


def read(app=None) -> RqSummary | None:
    """The queue's jobs by state (waiting, running, scheduled, failed, finished), its workers and
    the periodic schedulers; None without Redis."""
    queue = get_queue(app)
    if queue is None:
        return None
    summary = RqSummary(queue=queue.name)
    try:
        summary.states.append(_state(queue, "queued", queue.get_job_ids(0, SHOWN), queue.count))
        for name, registry in (("running", queue.started_job_registry), ("scheduled", queue.scheduled_job_registry),
                               ("failed", queue.failed_job_registry), ("finished", queue.finished_job_registry),
                               ("cancelled", queue.canceled_job_registry)):
            ids = registry.get_job_ids(0, SHOWN - 1, desc=name != "scheduled")
            summary.states.append(_state(queue, name, ids, registry.count))
        summary.workers = Worker.count(queue=queue)
        summary.schedulers = [(s.name, s.last_heartbeat) for s in CronScheduler.all(queue.connection)]
    except RedisError as e:
        summary.error = f"Redis did not answer: {e}"
    return summary


def _job(queue, job_id: str) -> Job:
    try:
        job = Job.fetch(job_id, connection=queue.connection, serializer=queue.serializer)
    except NoSuchJobError:
        raise NotFound("No such job (it may have expired).") from None
    if job.origin != queue.name:
        raise NotFound("No such job (it may have expired).")
    return job


def retry(job_id: str, app=None) -> Job:
    """Put a failed job back on its queue, as it was (NotFound: no such failed job)."""
    queue = _queue(app)
    job = _job(queue, job_id)
    if job_id not in queue.failed_job_registry:
        raise ServiceError("Only a failed job can be retried.")
    return queue.failed_job_registry.requeue(job)


def cancel(job_id: str, app=None) -> Job:
    """Cancel a job still waiting (queued, scheduled or deferred): it will not run. A running,
    finished or failed job is refused."""
    queue = _queue(app)
    job = _job(queue, job_id)
    if job.get_status() not in WAITING:
        raise ServiceError("Only a job still waiting can be cancelled.")
    try:
        job.cancel()
    except InvalidJobOperation as e:
        raise ServiceError(str(e)) from None
    return job


def _queue(app):
    queue = get_queue(app)
    if queue is None:
        raise NotFound("RQ is not in use.")
    return queue


def retry_periodic(session, name: str) -> None:
    """A failed (or any) periodic job made due now and queued at once (services/periodic.make_due:
    NotFound for a name not declared; refused while a run is under way). Its run claims the slot as
    any other, so a scheduler that also finds it due runs it once between them."""
    from app.jobs import enqueue, schedule, tasks
    from app.services import periodic
    periodic.make_due(session, schedule.jobs(), name)
    enqueue(tasks.run_periodic, name)
