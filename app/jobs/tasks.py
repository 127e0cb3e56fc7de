"""The functions RQ runs. Thin: each loads what it needs by id and calls a service."""
from app.extensions import db


def run_bulk_action(job_id: int) -> None:
    """Do a confirmed bulk action (app/services/customers/bulk.py), or go on with one started again."""
    from app.jobs import runner
    from app.models import Job
    from app.services import jobs
    from app.services.customers import bulk
    try:
        with runner.running(job_id) as me:
            if not jobs.claim(db.session, job_id, me):
                return  # done, failed, or another runner has it
            bulk.run(db.session, db.session.get(Job, job_id), runner=me)
    except Exception as e:  # record it on the job for the page, then let RQ see the failure too
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status, job.error = "failed", f"{type(e).__name__}: {e}"[:2000]
        db.session.commit()
        raise


def deliver_messages(message_ids: list[int]) -> dict:
    """Deliver queued messages by id (app/services/messages/delivery.py); a transient
    failure is tried again later, by a job of its own."""
    from flask import current_app

    from app.jobs import enqueue
    from app.services.messages import delivery
    return delivery.deliver(db.session, message_ids, current_app.config,
                            retry=lambda ids, delay: enqueue(deliver_messages, ids, delay=delay))


DELIVERY_BATCH = 100


def queue_delivery(message_ids: list[int]) -> int:
    """Jobs that deliver these messages, DELIVERY_BATCH a job; returns how many jobs."""
    from app.jobs import enqueue_many
    batches = [(message_ids[i:i + DELIVERY_BATCH],) for i in range(0, len(message_ids), DELIVERY_BATCH)]
    return enqueue_many(deliver_messages, batches) if batches else 0
