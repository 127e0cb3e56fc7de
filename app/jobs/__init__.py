"""Background work: RQ on Redis when REDIS_URL is set; without it, a thread of the app's process.

Callers commit what a job needs first, then `enqueue(task, *ids)`. A task is a
function of app.jobs.tasks taking plain ids; it runs inside an app context, with a
session of its own, in a worker (`flask worker`) or in a thread beside the request,
and delivers or acts by id, so running it twice does the work once.

Without Redis the task runs in a daemon thread of this process (JOBS_IN_THREAD, on by
default; off when TESTING, so tests see the work done when the request returns): the
request answers at once and the job page follows the job, as with a worker. A job whose
process ends before it is done is seen as such (app/jobs/runner.py, services/jobs.reap).
"""
import threading
from datetime import timedelta

from flask import current_app

QUEUE_NAME = "default"


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
    quick and is done in the caller at once, Redis or not. (Without Redis, `delay` is not
    waited for: a retry runs at once.)
    """
    app = current_app._get_current_object()
    if size is not None and size <= app.config.get("BULK_SYNC_LIMIT", 0):
        task(*args)
        return None
    queue = get_queue(app)
    if queue is None:
        if in_thread(app):
            start_thread(app, task, *args)
        else:
            task(*args)
        return None
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), task, *args).id
    return queue.enqueue(task, *args).id


def start_thread(app, task, *args) -> threading.Thread:
    """Run `task(*args)` in a daemon thread with its own app context and session."""
    def work():
        from app.extensions import db
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
