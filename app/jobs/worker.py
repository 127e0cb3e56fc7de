"""The RQ worker `flask worker` runs: jobs in this process, inside the app's context.

Its maintenance (on start, then every DELIVERY_MAINTENANCE_SECONDS, idle or not) marks the
messages of a worker that stopped while sending them "uncertain", and queues the sending of
due messages that have waited longer than that (their job was lost: a worker killed, Redis
down when they were queued). RQ's scheduler (delayed jobs: retries) runs in a child process
of one worker; here it stops when that worker is gone, so that another takes over.
"""
import logging
import os
from datetime import timedelta

from flask import current_app
from rq import SimpleWorker
from rq.job import JobStatus
from rq.scheduler import RQScheduler

from app.extensions import db
from app.models.resellers import utcnow
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
        """One run_due job per queue waiting at a time (a second maintenance finds it queued)."""
        from app.jobs import tasks
        queue = self.queues[0]
        job_id = f"run-due-{queue.name}"
        job = queue.fetch_job(job_id)
        if job is not None and job.get_status(refresh=False) in WAITING:
            return
        queue.enqueue(tasks.run_due, job_id=job_id)
