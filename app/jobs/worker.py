"""The RQ worker `flask worker` runs: jobs in this process, inside the app's context.

Its maintenance (on start, then every DELIVERY_MAINTENANCE_SECONDS, idle or not) marks the
messages of a worker that stopped while sending them "uncertain", and queues the sending of
due messages that have waited longer than that (their job was lost: a worker killed, Redis
down when they were queued). RQ's scheduler (delayed jobs: retries) runs in a child process
of one worker; here it stops when that worker is gone, so that another takes over.

The periodic jobs (app/jobs/schedule.py) run on RQ's CronScheduler, in a thread of each worker
(`PeriodicScheduler`); one worker's at a time enqueues (a lock in Redis), and each run claims its
slot in the database, so a slot runs once however many workers (and crons) there are.
"""
import logging
import os
import threading
from datetime import timedelta

from flask import current_app
from redis.exceptions import LockError, RedisError
from rq import SimpleWorker
from rq.cron import CronJob, CronScheduler
from rq.job import JobStatus
from rq.scheduler import RQScheduler
from rq.utils import now as rq_now

from app.extensions import db
from app.models.resellers import utcnow
from app.services import periodic
from app.services.messages import delivery

log = logging.getLogger(__name__)
DEFAULT_MAINTENANCE_SECONDS = 60
# Not STARTED: a worker killed while running due work leaves its job "started" for RQ_JOB_TIMEOUT;
# two runs at once are harmless (each message is claimed once).
WAITING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


class AppScheduler(RQScheduler):
    """RQ's scheduler, which a worker runs in a child process. RQ's goes on alone after its
    worker is killed, holding the scheduler's lock; this one stops (releasing the lock) once its
    worker is gone, and another worker's maintenance takes the lock over."""

    def start(self):
        self.worker_pid = os.getpid()  # the child is forked from the worker
        return super().start()

    def heartbeat(self):
        if getattr(self, "worker_pid", None) and os.getppid() != self.worker_pid:
            self.log.warning("Scheduler %s: its worker is gone; stopping", self.name)
            self._stop_requested = True  # work() stops at its next turn, releasing the lock
            return None
        return super().heartbeat()


class AppWorker(SimpleWorker):
    """An RQ worker that runs each job in the app context it was started in, with a fresh session."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", int(current_app.config.get(
            "DELIVERY_MAINTENANCE_SECONDS", DEFAULT_MAINTENANCE_SECONDS)))
        super().__init__(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        """RQ waits for a job up to its worker TTL (405 s) before it looks at maintenance again;
        an idle worker waits no longer than the maintenance interval."""
        return max(1, min(super().dequeue_timeout, int(self.maintenance_interval)))

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            db.session.remove()

    def _start_scheduler(self, burst=False, logging_level="INFO", date_format=None, log_format=None):
        """RQ's, with AppScheduler."""
        kwargs = {k: v for k, v in (("date_format", date_format), ("log_format", log_format)) if v is not None}
        self.scheduler = AppScheduler(self.queues, connection=self.connection, serializer=self.serializer,
                                      logging_level=logging_level if logging_level is not None else self.log.level,
                                      **kwargs)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def run_maintenance_tasks(self):
        """RQ's own, and the delivery's (see the module's docstring)."""
        super().run_maintenance_tasks()
        try:
            config = current_app.config
            recovered = delivery.recover(db.session, config)
            if recovered:
                log.warning("%d message(s) left sending by a stopped worker were marked uncertain", recovered)
            if delivery.overdue(db.session, utcnow(), timedelta(seconds=self.maintenance_interval)):
                self.queue_due_work()
        except Exception:  # noqa: BLE001  maintenance must not stop the worker
            log.exception("delivery maintenance failed")
            db.session.rollback()
        finally:
            db.session.remove()

    def queue_due_work(self):
        """One run_due job per queue waiting at a time (a second maintenance finds it queued). A job marked
        queued that is not in the queue (a worker killed after taking it and before marking it started)
        waits for nothing: it is queued again."""
        from app.jobs import tasks
        queue = self.queues[0]
        job_id = f"run-due-{queue.name}"
        job = queue.fetch_job(job_id)
        status = job.get_status(refresh=False) if job is not None else None
        lost = status == JobStatus.QUEUED and queue.connection.lpos(queue.key, job_id) is None
        if status in WAITING and not lost:
            return
        queue.enqueue(tasks.run_due, job_id=job_id)


class SlotCronJob(CronJob):
    """RQ's CronJob for a declared periodic job: it enqueues tasks.run_periodic(name). Its interval
    runs fall on the clock's slots (every 3600: on the hour), the slots periodic_job counts
    (services/periodic.next_due), so each one it enqueues finds its slot due; cron runs are RQ's."""

    def __init__(self, job: periodic.Periodic, queue_name: str, job_timeout: int):
        from app.jobs import tasks
        self.periodic = job  # before RQ's __init__, which asks for the first cron time
        # RQ's cron enqueues through a Queue of its own, whose default timeout (180 s) is not ours.
        super().__init__(queue_name, func=tasks.run_periodic, args=(job.name,), interval=job.every, cron=job.cron,
                         name=job.name, job_timeout=job_timeout)

    def get_next_enqueue_time(self):
        if self.interval:
            return periodic.next_due(self.periodic, self.latest_enqueue_time or rq_now())
        return super().get_next_enqueue_time()


class PeriodicScheduler:
    """The declared periodic jobs on RQ's CronScheduler, in a daemon thread of `flask worker`.

    Each turn, the worker holding the lock (`LOCK_SECONDS`, renewed each turn; another takes it
    over when this one stops) lets RQ's cron enqueue what is due. On taking the lock it starts
    each job's schedule at its next due time in the database, so a slot missed while no
    scheduler ran is enqueued at once, once. Runs claim their slot in the database, so a job
    enqueued twice (a lock taken over mid-turn, a worker that was slow) still runs once.
    """

    LOCK_SECONDS = 90

    def __init__(self, app, queue, jobs=None):
        from app.jobs import schedule
        self.app, self.queue = app, queue
        self.jobs = tuple(schedule.jobs() if jobs is None else jobs)
        self.cron = CronScheduler(connection=queue.connection)
        timeout = int(app.config.get("RQ_JOB_TIMEOUT", 3600))
        self.cron._cron_jobs.extend(SlotCronJob(job, queue.name, timeout) for job in self.jobs)  # RQ's register() makes CronJobs
        self.lock = queue.connection.lock(f"rq:periodic-lock:{queue.name}", timeout=self.LOCK_SECONDS,
                                          thread_local=False)
        self.holding = False
        self.stopped = threading.Event()

    def tick(self) -> list[str]:
        """One turn: hold the lock (or try to take it), and if held enqueue what is due; the names enqueued."""
        if self.holding:
            try:
                self.lock.reacquire()
            except LockError:  # it lapsed (this process stalled) and another worker has it now
                self.holding = False
                self.cron.register_death()
                return []
        else:
            self.holding = self.lock.acquire(blocking=False)
            if not self.holding:
                return []
            try:
                self.follow_database()
            except Exception:  # the database away: give the lock back, try again next turn
                self.release()
                raise
            self.cron.register_birth()
        enqueued = [job.name for job in self.cron.enqueue_jobs()]
        self.cron.save()
        self.cron.heartbeat()
        return enqueued

    def follow_database(self) -> None:
        """Each job's next run as the database has it (the scheduler that had the lock before may
        have run it; a slot missed while no scheduler ran is due now, and is enqueued once)."""
        with self.app.app_context():
            try:
                rows = {job.name: row for job, row in periodic.rows(db.session, self.jobs)}
            finally:
                db.session.remove()
        for cron_job in self.cron.get_jobs():
            row = rows[cron_job.name]
            cron_job.latest_enqueue_time = periodic.utc(row.last_started_at or row.next_due_at)
            cron_job.next_enqueue_time = periodic.utc(row.next_due_at)

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001  Redis or the database away: the next turn tries again
                log.exception("periodic scheduler turn failed")
            wait = self.cron.calculate_sleep_interval() if self.holding else self.LOCK_SECONDS / 3
            self.stopped.wait(min(max(wait, 0.2), self.LOCK_SECONDS / 3))
        self.release()

    def release(self) -> None:
        if self.holding:
            self.holding = False
            try:
                self.lock.release()
                self.cron.register_death()
            except (LockError, RedisError):
                log.warning("could not release the periodic scheduler's lock", exc_info=True)

    def start(self) -> "PeriodicScheduler":
        self.thread = threading.Thread(target=self.run, name="periodic-scheduler", daemon=True)
        self.thread.start()
        return self

    def stop(self, wait: float = 5) -> None:
        """End the thread (it releases the lock, so another worker's scheduler takes over at once)."""
        self.stopped.set()
        self.thread.join(wait)
