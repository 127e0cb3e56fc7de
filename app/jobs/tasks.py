"""The functions RQ runs. Thin: each loads what it needs by id and calls a service."""
from app.extensions import db


def run_bulk_action(job_id: int) -> None:
    """Do a confirmed bulk action (app/services/customers/bulk.py)."""
    from app.models import Job
    from app.services.customers import bulk
    job = db.session.get(Job, job_id)
    if job is None or job.status == "done":
        return
    try:
        bulk.run(db.session, job)
    except Exception as e:  # record it on the job for the page, then let RQ see the failure too
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status, job.error = "failed", f"{type(e).__name__}: {e}"[:2000]
        db.session.commit()
        raise


def deliver_messages(message_ids: list[int]) -> None:
    """Deliver queued messages by id (app/services/messages/delivery.py)."""
    from app.services.messages import delivery
    delivery.deliver(db.session, message_ids)
