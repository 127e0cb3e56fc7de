"""The functions RQ runs. Thin: each loads what it needs by id and calls a service."""
import logging

from redis.exceptions import RedisError

from app.extensions import db

log = logging.getLogger(__name__)
QUEUE_ERRORS = (RedisError, OSError)  # the queue could not take a job


def _run_job(job_id: int, work) -> None:
    """Claim the job and do `work(job, runner)` under the runner's heartbeat (a job done, failed, or held
    by another runner is left alone); a failure is recorded on the job for its page, then raised for RQ."""
    from app.jobs import runner
    from app.models import Job
    from app.services import jobs
    try:
        with runner.running(job_id) as me:
            if not jobs.claim(db.session, job_id, me):
                return
            work(db.session.get(Job, job_id), me)
    except Exception as e:
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.status, job.error = "failed", f"{type(e).__name__}: {e}"[:2000]
        db.session.commit()
        raise


def run_bulk_action(job_id: int) -> None:
    """Do a confirmed bulk action (app/services/customers/bulk.py), or go on with one started again."""
    from app.services.customers import bulk
    _run_job(job_id, lambda job, me: bulk.run(db.session, job, runner=me))


def deliver_messages(message_ids: list[int]) -> dict:
    """Deliver queued messages by id (app/services/messages/delivery.py); a transient failure
    is tried again when it is due, by a job of its own (and by run_due if that job is lost)."""
    from flask import current_app

    from app.jobs import runner
    from app.services.messages import delivery
    return dict(delivery.deliver(db.session, message_ids, current_app.config, runner=runner.sender(),
                                 retry=_retry_later))


def _retry_later(message_ids: list[int], delay: float) -> None:
    from app.jobs import enqueue
    try:
        enqueue(deliver_messages, message_ids, delay=delay)
    except QUEUE_ERRORS:  # Redis refused: their due time is kept; run_due sends them
        log.warning("could not queue the retry of %d message(s); due work will send them", len(message_ids),
                    exc_info=True)


def run_due() -> dict:
    """Due work: messages whose worker stopped while sending them are marked uncertain; every
    queued message whose time has come is sent; card charges a stopped process left pending are
    settled from the processor's answer. Returns what came of it."""
    from flask import current_app

    from app.jobs import runner
    from app.services.billing import cards
    from app.services.messages import delivery
    config = current_app.config
    recovered = delivery.recover(db.session, config)
    if recovered:
        log.warning("%d message(s) left sending by a stopped worker were marked uncertain", recovered)
    outcomes = delivery.deliver_due(db.session, config, runner=runner.sender())
    outcomes.pop("not due", None)
    settled = cards.settle_all_pending(db.session)
    return {"uncertain (worker stopped)": recovered, **outcomes, "card charges settled": settled}


def payment_reminders(today=None) -> dict:
    """The daily payment reminders (app/services/billing/reminders.py) as at `today` (default: today in
    the company's time zone): the highest step due for each overdue customer, once per episode."""
    from datetime import datetime

    from flask import current_app

    from app.services import company
    from app.services.billing import reminders
    config = current_app.config
    today = today or datetime.now(company.read(db.session, config).time_zone).date()
    return reminders.run(db.session, today, config)


def recurring_billing(today=None) -> dict:
    """The daily billing run (app/services/billing/recurring.py) as at `today` (default: today in the
    company's time zone): every service period due, billed once. Its report (billing_run) as counts."""
    from datetime import datetime

    from flask import current_app

    from app.services import company
    from app.services.billing import recurring
    config = current_app.config
    today = today or datetime.now(company.read(db.session, config).time_zone).date()
    billing_run = recurring.run(db.session, today, None, config)
    return {"billing run": billing_run.id, "invoices": billing_run.invoices, "lines": billing_run.lines,
            **{f"total {currency}": amount for currency, amount in (billing_run.totals or {}).items()},
            **{f"skipped: {reason}": n for reason, n in (billing_run.skipped or {}).items()}}


def run_billing(job_id: int) -> None:
    """Finance's "Bill due services now" (app/services/billing/recurring.py start), or a failed one
    started again: the billing run linked to the job, with its progress on the job."""
    from flask import current_app

    from app.services.billing import recurring
    _run_job(job_id, lambda job, me: recurring.run_job(db.session, job, current_app.config, runner=me))


def run_periodic(name: str) -> dict:
    """One periodic job (app/jobs/schedule.py) if it is due and no other runner has its slot: what
    RQ's cron in `flask worker` enqueues at each slot (app/jobs/worker.py). Its outcome, a failure
    too, is recorded on its row (services/periodic.py), where the job monitor shows it and its
    Retry makes it due again; it is not raised, so RQ keeps no second copy of the same failure."""
    from app.jobs import runner, schedule
    from app.services import periodic
    outcome = periodic.run(db.session, periodic.find(schedule.jobs(), name), runner.sender())
    if outcome is None:
        return {"ran": False}  # not due: another scheduler (or cron) had this slot
    return {"ran": True, "status": outcome.status, "error": outcome.error, **outcome.result}


def run_scheduled(now=None) -> dict:
    """What `flask jobs run-due` and the dev server's thread run: every periodic job that is due at
    `now` (each claimed, run once, recorded), and the due work in any case, its slot due or not (it
    keeps each message's own due time, so it may run as often as anyone likes). Outcomes by name."""
    from app.jobs import runner, schedule
    from app.services import periodic
    outcomes = periodic.run_due(db.session, schedule.jobs(), runner.sender(), now)
    if schedule.DUE_WORK not in outcomes:
        outcomes[schedule.DUE_WORK] = periodic.Outcome(schedule.DUE_WORK, "done", run_due())
    return outcomes


DELIVERY_BATCH = 100


def queue_delivery(message_ids: list[int]) -> int:
    """Jobs that deliver these messages, DELIVERY_BATCH a job; returns how many jobs. If the
    queue refuses them, the messages wait in the database (queued, due now) for run_due."""
    from app.jobs import enqueue_many
    batches = [(message_ids[i:i + DELIVERY_BATCH],) for i in range(0, len(message_ids), DELIVERY_BATCH)]
    try:
        return enqueue_many(deliver_messages, batches) if batches else 0
    except QUEUE_ERRORS:  # the request has committed them: they are not lost
        log.warning("could not queue the delivery of %d message(s); due work will send them", len(message_ids),
                    exc_info=True)
        return 0


def run_statement_batch(job_id: int) -> None:
    """Send a confirmed batch of statements (app/services/billing/statement_batch.py), or go on with one
    started again."""
    from flask import current_app

    from app.services.billing import statement_batch
    _run_job(job_id, lambda job, me: statement_batch.run(db.session, job, current_app.config, runner=me))
