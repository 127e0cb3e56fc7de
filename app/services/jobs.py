"""Jobs: long work on many customers (a bulk action, a batch of messages), its progress and its page.

`new_job` fixes the customers a job acts on in job_customer when the user confirms (the
ticked ids within the user's scope, or every customer the list's filter finds), so the
count the user confirmed is the count acted on; the work then reads them a chunk at a time
(`customer_chunks`). A job's kind (bulk action, messages) registers its label and, when it
can be started again, how (`register`). A job whose runner is gone (its process died) is
marked failed when looked at (`reap`), and one that failed can be started again from the
chunk it stopped at (`start_again`).
"""
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, insert, select, true, update
from sqlalchemy.orm import Session

from app.models import Customer, Job, Message, job_customer
from app.models.resellers import utcnow
from app.services import fields, permissions
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import customer_scope

# A running job that has not reported for this long, on a machine that cannot look at its
# process, is taken for dead (a chunk takes seconds).
STALE_AFTER = timedelta(minutes=10)
DIED = "The process running this job stopped before it finished."


@dataclass
class Kind:
    """What the job page needs to know of a kind of job."""

    label: str
    messages: bool = False  # a batch of messages: its progress is their delivery
    restart: Callable[[int], None] | None = None  # runs the job again by id (after the commit)
    grants: tuple = ()  # (permission, view) pairs, any of which lets a user start it (again)
    done_word: str = "changed"  # what the job did to result["changed"] customers ("deleted")


KINDS: dict[str, Kind] = {}


def register(action: str, label: str, *, messages: bool = False, restart=None, grants=(),
             done_word: str = "changed") -> None:
    KINDS[action] = Kind(label, messages, restart, tuple(grants), done_word)


def label(job: Job) -> str:
    kind = KINDS.get(job.action)
    return kind.label if kind else job.action


# ---- the customers a job is for -----------------------------------------------------------------
def chosen(actor, ids=None, matching=None):
    """A select of the customer ids a job is for: the ticked ids within the actor's scope
    (ids that are not numbers, or out of range, match nothing), or the list's filter
    (`matching`, a select of ids already within the actor's scope)."""
    if matching is not None:
        return matching
    wanted = {n for n in map(fields.record_id, ids or ()) if n is not None}
    return select(Customer.id).where(Customer.id.in_(wanted), customer_scope(actor))


def count_chosen(session: Session, actor, ids=None, matching=None) -> tuple[int, int]:
    """(customers the job would act on, customers asked for): the confirmation's count."""
    found = session.scalar(select(func.count()).select_from(chosen(actor, ids, matching).subquery()))
    return found, found if matching is not None else len({str(i) for i in ids or ()})


def first_chosen(session: Session, actor, ids=None, matching=None) -> int | None:
    """The first of the chosen customers (the one a message preview is for)."""
    rows = chosen(actor, ids, matching).subquery()
    return session.scalar(select(rows.c[0]).order_by(rows.c[0]).limit(1))


def new_job(session: Session, actor, action: str, values: dict, *, ids: Iterable | None = None,
            matching=None) -> Job:
    """A queued job for `action` with `values` on the chosen customers (see chosen), flushed,
    not committed. Invalid when no customer is left; ticked ids not found are counted in
    the result as not_found."""
    job = Job(action=action, params=values, user_id=getattr(actor, "id", None),
              username=getattr(actor, "username", None), status="queued", result={})
    session.add(job)
    session.flush()
    asked = None
    if matching is None:
        errors = FieldErrors()
        ids = fields.integer_list(errors, "rowid", list(ids or []))
        errors.raise_if_any()
        if not ids:
            raise Invalid({"rowid": "Tick one or more customers."})
        asked = len(ids)
    session.execute(insert(job_customer).from_select(
        ["job_id", "customer_id"], select(job.id, chosen(actor, ids, matching).subquery().c[0]).distinct()))
    job.total = session.scalar(select(func.count()).select_from(job_customer).where(job_customer.c.job_id == job.id))
    if asked is not None and asked > job.total:
        job.result = {"not_found": asked - job.total}
    if job.total == 0:
        raise Invalid({"rowid": "None of these customers can be found."})
    return job


def customer_chunks(session: Session, job: Job, chunk: int):
    """The job's customer ids not done yet (after `done_through`), in chunks, in id order."""
    last = job.done_through or 0
    while True:
        ids = list(session.scalars(
            select(job_customer.c.customer_id).where(job_customer.c.job_id == job.id,
                                                     job_customer.c.customer_id > last)
            .order_by(job_customer.c.customer_id).limit(chunk)))
        if not ids:
            return
        last = ids[-1]
        yield ids


def finish(session: Session, job: Job) -> None:
    """Mark the job done (not committed) and let go of its list of customers, which only the
    work needed: a send to a million customers would otherwise keep a million rows."""
    job.status, job.finished_at = "done", utcnow()
    session.execute(delete(job_customer).where(job_customer.c.job_id == job.id))


def beat(job: Job, runner: str | None, done_through: int | None = None) -> None:
    """Note on the job (in the caller's transaction) that `runner` is at work on it."""
    job.runner, job.heartbeat_at = runner, utcnow()
    if done_through is not None:
        job.done_through = done_through


# ---- reading and watching ----------------------------------------------------------------------
# Who sees every user's jobs in the jobs list (Admin holds every permission); others see theirs.
ALL_JOBS = ("can_see_all_jobs", "JobView")


def listed(session: Session, actor):
    """A WHERE clause on Job: the jobs in the actor's list (every job with ALL_JOBS, else their own)."""
    return true() if permissions.may(session, actor, ALL_JOBS) else Job.user_id == getattr(actor, "id", None)


def get_job(session: Session, actor, job_id) -> Job:
    """A job the actor's jobs list holds (listed: their own, every job with ALL_JOBS); NotFound otherwise."""
    job_id = fields.record_id(job_id)
    job = session.get(Job, job_id) if job_id is not None else None
    if job is None or (job.user_id != getattr(actor, "id", None) and not permissions.may(session, actor, ALL_JOBS)):
        raise NotFound("No such job.")
    return job


def latest_job_id(session: Session, actor) -> int:
    """The actor's own latest job (an admin's too, not anyone's): where a form sent twice lands."""
    pk = session.scalar(select(Job.id).where(Job.user_id == getattr(actor, "id", None))
                        .order_by(Job.id.desc()).limit(1))
    if pk is None:
        raise NotFound("No job yet.")
    return pk


def _naive_utc(moment: datetime) -> datetime:
    # SQLite gives back naive datetimes, PostgreSQL aware ones.
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


def reap(session: Session, job: Job, alive: Callable[[Job], bool | None], *, queued_waits: bool = True,
         now: datetime | None = None, stale_after: timedelta = STALE_AFTER) -> Job:
    """Mark `job` failed (committed) when it is queued or running but its runner is gone.

    `alive(job)` says whether the job's runner still runs it (True/False), or None when it
    cannot tell (another machine's process): then a running job that has not reported for
    `stale_after` is taken for dead. A queued job waits for a worker as long as it takes when
    `queued_waits` (a queue on Redis); without one its thread starts at once, so a job still
    queued after `stale_after` lost its process before it began.
    """
    if job.status not in ("queued", "running"):
        return job
    verdict = alive(job)
    if verdict is None and (job.status == "running" or not queued_waits):
        last = job.heartbeat_at or job.created_at
        verdict = _naive_utc(now or utcnow()) - _naive_utc(last) < stale_after
    if verdict is False:
        job.status, job.error = "failed", DIED
        commit(session)
    return job


def message_counts(session: Session, job: Job) -> dict[str, int]:
    """A messages job's messages by status (queued, sending, sent, failed, uncertain, skipped)."""
    return dict(session.execute(select(Message.status, func.count()).where(Message.batch_id == job.id)
                                .group_by(Message.status)).all())


def _message_figures(session: Session, job: Job) -> dict:
    counts = message_counts(session, job)
    total = sum(counts.values())
    pending = counts.get("queued", 0) + counts.get("sending", 0)
    skipped = dict(session.execute(
        select(Message.skip_reason, func.count()).where(Message.batch_id == job.id, Message.status == "skipped")
        .group_by(Message.skip_reason).order_by(func.count().desc())).all()) if counts.get("skipped") else {}
    next_try = session.scalar(select(func.min(Message.due_at)).where(
        Message.batch_id == job.id, Message.status == "queued", Message.attempts > 0)) if pending else None
    return dict(messages=counts, skipped=skipped, total=total, done=total - pending,
                percent=100 if not total else int(100 * (total - pending) / total),
                status="done" if not pending else "running", next_try=next_try.isoformat() if next_try else None)


def keep_figures(session: Session, job: Job, figures: dict) -> None:
    """A messages job whose every message is settled keeps its figures (flushed): they stay what
    they were when it finished, whatever is deleted later."""
    job.result = {**(job.result or {}), "kept": {**figures, "next_try": None}}
    session.flush()


def keep_message_figures(session: Session, batch_ids) -> None:
    """Before messages go (with their customer): each finished messages job among `batch_ids` keeps
    its figures as they are, the going messages counted."""
    for job in session.scalars(select(Job).where(Job.id.in_(batch_ids), Job.status == "done")):
        if "kept" in (job.result or {}):
            continue
        figures = _message_figures(session, job)
        if figures["status"] == "done":
            keep_figures(session, job, figures)


def progress(session: Session, job: Job) -> dict:
    """Where a job is: for a bulk action, customers done; for messages, messages delivered (those
    skipped by reason, whether written skipped or skipped when sent; the next retry's time).

    A bulk action's figures are the job's own (total, done, result), written as it went and
    kept when it finished: deleting its customers later does not change them."""
    kind = KINDS.get(job.action)
    out = {"status": job.status, "done": job.done, "total": job.total, "percent": job.percent,
           "result": job.result, "error": job.error, "may_start_again": may_start_again(job),
           "done_word": kind.done_word if kind else "changed"}
    if kind and kind.messages and job.status == "done":
        figures = (job.result or {}).get("kept") or _message_figures(session, job)
        if "kept" not in (job.result or {}) and figures["status"] == "done":
            keep_figures(session, job, figures)
            commit(session)
        out.update(figures)
    return out


# ---- starting again ----------------------------------------------------------------------------
def may_start_again(job: Job) -> bool:
    kind = KINDS.get(job.action)
    return job.status == "failed" and kind is not None and kind.restart is not None


def start_again(session: Session, actor, job_id) -> Job:
    """Queue a failed job again (committed, then run): it goes on with the customers it had not
    done. NotFound outside the actor's jobs; Invalid for a job that cannot be started again."""
    job = get_job(session, actor, job_id)
    if not may_start_again(job):
        raise Invalid({"status": "Only a job that stopped can be started again."})
    # It does again what its user confirmed: only someone who may do that action may restart it.
    permissions.require(session, actor, *KINDS[job.action].grants, message="You may not do this action.")
    # Queued again now (a thread that never starts is seen from here: see reap), once: of two
    # users (or two clicks) starting it again at the same time, one does.
    claimed = session.execute(
        update(Job).where(Job.id == job.id, Job.status == "failed")
        .values(status="queued", error=None, runner=None, heartbeat_at=utcnow(), finished_at=None)).rowcount
    if not claimed:
        session.rollback()
        raise Invalid({"status": "This job has been started again already."})
    commit(session)
    KINDS[job.action].restart(job.id)
    return session.get(Job, job.id)


def claim(session: Session, job_id: int, runner: str | None) -> bool:
    """Take a queued job to run it (committed): False when it is not queued any more (another
    runner took it, or it is done), so that two runners never work on one job."""
    claimed = session.execute(update(Job).where(Job.id == job_id, Job.status == "queued")
                              .values(status="running", runner=runner, heartbeat_at=utcnow())).rowcount
    session.commit()
    return bool(claimed)


def by_status(session: Session) -> dict[str, int]:
    """How many jobs there are in each status (the job monitor's figures)."""
    return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def latest(session: Session, limit: int, status: str | None = None) -> list[Job]:
    """The newest `limit` jobs, of one status or any (the job monitor, for who sees every job)."""
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    return list(session.scalars(stmt.where(Job.status == status) if status else stmt))
