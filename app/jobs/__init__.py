"""Background work: RQ on Redis when REDIS_URL is set; without it, a thread of the app's process.

Callers commit what a job needs first, then `enqueue(task, *ids)`. A task is a
function of app.jobs.tasks taking plain ids; it runs inside an app context, with a
session of its own, in a worker (`flask worker`) or in a thread beside the request,
and delivers or acts by id, so running it twice does the work once.

Without Redis the task runs in a daemon thread of this process (JOBS_IN_THREAD, on by
default; off when TESTING, so tests see the work done when the request returns): the
request answers at once and the job page follows the job, as with a worker. A job whose
process ends before it is done is seen as such (app/jobs/runner.py, services/jobs.reap).

Work that is due at a time (a message's first send or its retry) keeps that time in the
database; `run_due` (tasks.run_due) sends what is due. A worker's maintenance queues it when
something has waited too long; without Redis the web process runs it every few seconds
(`watch_due_work`), and `flask jobs run-due` runs it once, for cron. The periodic jobs
(app/jobs/schedule.py) run the same ways: RQ's cron in `flask worker`, or `flask jobs run-due`.
"""
import logging
import threading
from datetime import timedelta

from flask import current_app

QUEUE_NAME = "default"
log = logging.getLogger(__name__)


def redis_connection(app=None):
    from redis import Redis
    app = app or current_app
    return Redis.from_url(app.config["REDIS_URL"])


def get_queue(app=None):
    """The RQ queue, or None when jobs run in this process."""
    app = app or current_app
    if not app.config.get("REDIS_URL"):
        return None
    from rq import Queue
    return Queue(app.config.get("RQ_QUEUE", QUEUE_NAME), connection=redis_connection(app),
                 default_timeout=app.config.get("RQ_JOB_TIMEOUT", 3600))


def in_thread(app=None) -> bool:
    """Whether, without Redis, tasks run in a thread (else in the caller, before enqueue returns)."""
    app = app or current_app
    return bool(app.config.get("JOBS_IN_THREAD", not app.testing))


def enqueue(task, *args, delay: float = 0, size: int | None = None) -> str | None:
    """Run `task(*args)` in a worker (returns the RQ job id), or without Redis in a thread.

    `size`: how many customers the work is for; work for at most BULK_SYNC_LIMIT of them is
    quick and is done in the caller at once, Redis or not. `delay`: seconds to wait first; with
    Redis, RQ's scheduler waits; without, a timer thread of this process, or (tasks run in the
    caller: tests, commands) nobody: pass a delay only for work whose due time the database
    keeps, which `flask jobs run-due` finds.
    """
    app = current_app._get_current_object()
    if size is not None and size <= app.config.get("BULK_SYNC_LIMIT", 0):
        task(*args)
        return None
    queue = get_queue(app)
    if queue is None:
        if delay > 0:
            if in_thread(app):
                start_thread(app, task, *args, delay=delay)
            return None
        if in_thread(app):
            start_thread(app, task, *args)
        else:
            task(*args)
        return None
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), task, *args).id
    return queue.enqueue(task, *args).id


def start_thread(app, task, *args, delay: float = 0) -> threading.Thread:
    """Run `task(*args)` in a daemon thread with its own app context and session (after `delay` s)."""
    def work():
        from app.extensions import db
        if delay:
            threading.Event().wait(delay)
        with app.app_context():
            try:
                task(*args)
            except Exception:  # noqa: BLE001  the task recorded it on its job; a thread has no one to tell
                app.logger.exception("background task %s%r failed", getattr(task, "__name__", task), args)
            finally:
                db.session.remove()

    thread = threading.Thread(target=work, name=f"job-{getattr(task, '__name__', 'task')}", daemon=True)
    thread.start()
    return thread


def enqueue_many(task, arg_lists: list[tuple]) -> int:
    """One job per argument tuple, sent to Redis in one round trip (without Redis: as enqueue)."""
    app = current_app._get_current_object()
    queue = get_queue(app)
    if queue is None:
        def each():
            for args in arg_lists:
                task(*args)
        if in_thread(app) and arg_lists:
            start_thread(app, each)  # one thread works through them all, not a thread each
        else:
            each()
        return len(arg_lists)
    from rq import Queue
    jobs = queue.enqueue_many([Queue.prepare_data(task, args) for args in arg_lists])
    return len(jobs)


def watch_due_work(app) -> None:
    """Without Redis, the web process runs due work itself: a daemon thread started with the
    first request (so commands such as `flask db upgrade` start none) runs tasks.run_scheduled
    (the due work, and the periodic jobs that are due: app/jobs/schedule.py) every
    DUE_WORK_SECONDS (5). With Redis, workers do it (app/jobs/worker.py)."""
    if app.config.get("REDIS_URL") or not in_thread(app):
        return
    started, stopped = threading.Lock(), threading.Event()
    app.extensions["due_work_stop"] = stopped  # set it to end the thread (tests)

    def start():
        if not started.acquire(blocking=False):
            return
        from app.jobs import tasks
        interval = float(app.config.get("DUE_WORK_SECONDS", 5))

        def loop():
            from app.extensions import db
            while not stopped.is_set():
                with app.app_context():
                    try:
                        tasks.run_scheduled()
                    except Exception:  # noqa: BLE001  logged; the next turn tries again
                        app.logger.exception("running due work failed")
                    finally:
                        db.session.remove()
                stopped.wait(interval)
        threading.Thread(target=loop, name="due-work", daemon=True).start()

    app.before_request(start)
