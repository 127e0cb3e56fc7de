"""Background work: RQ on Redis when REDIS_URL is set; without it, at once, in-process.

Callers commit what a job needs first, then `enqueue(task, *ids)`. A task is a
function of app.jobs.tasks taking plain ids; it runs inside an app context here
or in a worker (`flask worker`), and delivers or acts by id, so running it twice
does the work once.
"""
from datetime import timedelta

from flask import current_app

QUEUE_NAME = "default"


def redis_connection(app=None):
    from redis import Redis
    app = app or current_app
    return Redis.from_url(app.config["REDIS_URL"])


def get_queue(app=None):
    """The RQ queue, or None when jobs run in-process."""
    app = app or current_app
    if not app.config.get("REDIS_URL"):
        return None
    from rq import Queue
    return Queue(app.config.get("RQ_QUEUE", QUEUE_NAME), connection=redis_connection(app),
                 default_timeout=app.config.get("RQ_JOB_TIMEOUT", 3600))


def enqueue(task, *args, delay: float = 0) -> str | None:
    """Run `task(*args)` in a worker (returns the RQ job id), or now when there is no Redis."""
    queue = get_queue()
    if queue is None:
        task(*args)
        return None
    if delay > 0:
        return queue.enqueue_in(timedelta(seconds=delay), task, *args).id
    return queue.enqueue(task, *args).id


def enqueue_many(task, arg_lists: list[tuple]) -> int:
    """One job per argument tuple, sent to Redis in one round trip."""
    queue = get_queue()
    if queue is None:
        for args in arg_lists:
            task(*args)
        return len(arg_lists)
    from rq import Queue
    jobs = queue.enqueue_many([Queue.prepare_data(task, args) for args in arg_lists])
    return len(jobs)
