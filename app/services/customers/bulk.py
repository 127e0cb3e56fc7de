"""Bulk actions on customers: enable, disable, archive, unarchive, make dormant, block, edit, delete.

A bulk action is a Job. `prepare` checks the action's values and fixes the customers it
will act on (the ticked ids within the user's scope, or every customer the list's
filter finds) in job_customer, so the count the user confirms is the count acted on.
`run` then works through them in chunks of set-based SQL, one transaction per chunk,
recording its progress on the job. Every change is audited per customer; customers
an action does not apply to are left alone and counted by reason.
"""
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.models import (
    Address,
    Contact,
    ContactPhone,
    CustomerAlias,
    CustomerFile,
    Customer,
    CustomValue,
    CustomerService,
    Job,
    Message,
    MessageAttempt,
    Note,
    Reseller,
    Tag,
    customer_tag,
    job_customer,
)
from app.models.customers import CREDITOR_DAYS, STATUSES
from app.models.resellers import utcnow
from app.services import audit, fields
from app.services.customers import files
from app.services.customers.status import cascade, sources
from app.services.db import in_ids, vacuum
from app.services.errors import FieldErrors, Forbidden, Invalid, NotFound
from app.services.scope import customer_scope, is_scoped
from app.services.settings import settings

CHUNK = 5000
# A job that changed at least this many customers vacuums what it changed (PostgreSQL): see _run.
VACUUM_AFTER = 10_000
# Action -> the status it sets (None: no status change of its own).
STATUS_ACTIONS = {"enable": "active", "disable": "disabled", "archive": "archived", "unarchive": "active",
                  "make_dormant": "dormant", "block": "blocked"}
# Enable undoes a disable and unarchive undoes an archive; neither touches other statuses.
ONLY_FROM = {"enable": {"disabled"}, "unarchive": {"archived"}}
ACTIONS = (*STATUS_ACTIONS, "edit", "delete")
LABELS = {"enable": "Enable", "disable": "Disable", "archive": "Archive", "unarchive": "Unarchive",
          "make_dormant": "Make dormant", "block": "Block", "edit": "Edit", "delete": "Delete"}
# Tables holding a customer's financial documents; a customer with any is never deleted.
# (Empty until billing exists: invoices, credit notes and payments go here.)
FINANCIAL_DOCUMENTS: list = []


# ---- preparing -----------------------------------------------------------------------------
def clean_params(session: Session, actor, action: str, params: dict) -> dict:
    """The action's own values, checked; raises Invalid with every field error."""
    if action not in ACTIONS:
        raise Invalid({"action": "Unknown action."})
    errors = FieldErrors()
    out = {}
    if action == "delete" and (params.get("confirm") or "").strip().lower() != "delete":
        errors.add("confirm", 'Type the word "delete" to confirm.')
    if action == "edit":
        tag_mode = fields.choice(errors, "tag_mode", params.get("tag_mode") or "keep",
                                 ("keep", "add", "remove", "set", "clear"), label="Tags")
        tag_ids = fields.integer_list(errors, "tag_ids", params.get("tag_ids"))
        if tag_mode in ("add", "remove", "set") and not tag_ids and "tag_ids" not in errors:
            errors.add("tag_ids", "Choose one or more tags.")
        if tag_ids and session.scalar(select(func.count()).select_from(Tag).where(Tag.id.in_(tag_ids))) != len(tag_ids):
            errors.add("tag_ids", "One or more of the tags do not exist.")
        out["tag_mode"], out["tag_ids"] = tag_mode, tag_ids
        out["status"] = fields.choice(errors, "status", params.get("status"), STATUSES)
        if params.get("reseller_id") not in (None, ""):
            if is_scoped(actor):
                errors.add("reseller_id", "You cannot change a customer's reseller.")
            else:
                reseller_id = fields.integer(errors, "reseller_id", params["reseller_id"], label="Reseller")
                if reseller_id is not None and session.get(Reseller, reseller_id) is None:
                    errors.add("reseller_id", "No such reseller.")
                out["reseller_id"] = reseller_id
        if params.get("currency") not in (None, ""):
            out["currency"] = fields.currency(errors, "currency", params["currency"], None)
        if params.get("creditor_days") not in (None, ""):
            out["creditor_days"] = fields.choice(errors, "creditor_days", params["creditor_days"], CREDITOR_DAYS,
                                                 label="Creditor days")
        if not errors.errors and tag_mode == "keep" and not any(
                out.get(k) is not None for k in ("status", "reseller_id", "currency", "creditor_days")):
            errors.add("_", "Choose at least one thing to change.")
    errors.raise_if_any()
    return out


def prepare(session: Session, actor, action: str, params: dict, *, ids: Iterable | None = None,
            matching=None) -> Job:
    """Check the action and fix its customers; the job is flushed, not committed.

    `ids`: the ticked rows (any that are missing or outside the user's scope are counted
    as not found and left out); `matching`: a select of customer ids from the list's
    filter, already within the user's scope.
    """
    if action == "delete" and is_scoped(actor):
        raise Forbidden("Only an administrator may delete customers.")
    return new_job(session, actor, action, clean_params(session, actor, action, params), ids=ids, matching=matching)


def new_job(session: Session, actor, action: str, values: dict, *, ids: Iterable | None = None,
            matching=None) -> Job:
    """A job for `action` on the chosen customers (see prepare), flushed; Invalid when none is left."""
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


def chosen(actor, ids=None, matching=None):
    """A select of the customer ids an action is for: the ticked ids within the actor's
    scope (ids that are not numbers, or out of range, match nothing), or the list's filter."""
    if matching is not None:
        return matching
    wanted = {n for n in map(fields.record_id, ids or ()) if n is not None}
    return select(Customer.id).where(Customer.id.in_(wanted), customer_scope(actor))


def count_chosen(session: Session, actor, ids=None, matching=None) -> tuple[int, int]:
    """(customers the action would change, customers asked for): the confirmation's count."""
    found = session.scalar(select(func.count()).select_from(chosen(actor, ids, matching).subquery()))
    return found, found if matching is not None else len({str(i) for i in ids or ()})


def first_chosen(session: Session, actor, ids=None, matching=None) -> int | None:
    """The first of the chosen customers (the one a message preview is for)."""
    rows = chosen(actor, ids, matching).subquery()
    return session.scalar(select(rows.c[0]).order_by(rows.c[0]).limit(1))


def job_customer_chunks(session: Session, job: Job, chunk: int):
    """The job's customer ids, in chunks, in id order."""
    last = 0
    while True:
        ids = list(session.scalars(
            select(job_customer.c.customer_id).where(job_customer.c.job_id == job.id,
                                                     job_customer.c.customer_id > last)
            .order_by(job_customer.c.customer_id).limit(chunk)))
        if not ids:
            return
        last = ids[-1]
        yield ids


def get_job(session: Session, actor, job_id) -> Job:
    """A job the actor started (any job, for an unscoped user); NotFound otherwise."""
    job = session.get(Job, job_id)
    if job is None or (is_scoped(actor) and job.user_id != getattr(actor, "id", None)):
        raise NotFound("No such job.")
    return job


# ---- running ---------------------------------------------------------------------------------
def run(session: Session, job: Job, chunk: int = CHUNK) -> Job:
    """Do the job's action on its customers, a chunk per transaction; return the job, done.

    Runs in a request or in a worker alike: the audit names the user who asked."""
    previous = session.info.get("actor")
    session.info["actor"] = (job.user_id, job.username)
    try:
        return _run(session, job, chunk)
    finally:
        session.info["actor"] = previous


def _run(session: Session, job: Job, chunk: int) -> Job:
    job.status, job.done = "running", 0
    result = {"changed": 0, "skipped": {}, **{k: v for k, v in (job.result or {}).items() if k == "not_found"}}
    job.result = dict(result)
    session.commit()
    skipped = Counter()
    for ids in job_customer_chunks(session, job, chunk):
        changed, reasons = ACT[job.action](session, job.params, ids)
        result["changed"] += changed
        skipped.update(reasons)
        job.done += len(ids)
        result["skipped"] = dict(skipped)
        job.result = dict(result)
        session.commit()
    job.status, job.finished_at = "done", utcnow()
    session.execute(delete(job_customer).where(job_customer.c.job_id == job.id))
    session.commit()
    if result["changed"] >= VACUUM_AFTER and job.action in ACT_TABLES:
        # The changed rows' pages lost their all-visible mark, so the list's index-only walks
        # read the table again (a contains-search: 5 -> 50 ms in the database after 100,000
        # customers were disabled); autovacuum counts dead rows, which HOT pruning removes as
        # it goes, and may not come for a long time.
        vacuum(session, *ACT_TABLES[job.action])
    return job


def _locked(session, stmt):
    """Rows about to change, locked against a concurrent change (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.execute(stmt).all()


def _set_status(session: Session, ids: list[int], target: str, allowed: set[str]) -> tuple[list[int], dict]:
    """Move the customers among `ids` whose status is in `allowed` to `target`.

    One UPDATE ... RETURNING per status moved from: the database locks and re-checks each
    row as it changes it, so the old status in the audit is the one replaced. Returns the
    ids moved, and for each other customer the reason it stayed."""
    moved, rest = [], set(ids)
    for source in sorted(allowed - {target}):
        if not rest:
            break  # every customer has moved: the other statuses need no look
        got = session.scalars(update(Customer).where(in_ids(session, Customer.id, sorted(rest)),
                                                     Customer.status == source)
                              .values(status=target).returning(Customer.id)
                              .execution_options(synchronize_session=False)).all()
        change = {"status": [source, target]}  # one object for every row: serialised once
        audit.record(session, "customer", "update", [(i, i, change) for i in got])
        moved += got
        rest.difference_update(got)
    stayed = {}
    if rest:
        for r in session.execute(select(Customer.id, Customer.status).where(in_ids(session, Customer.id, rest))):
            stayed[r.id] = f"already {target}" if r.status == target else f"{r.status}: cannot be made {target}"
    if moved:
        cascade(session, moved, target)
    return moved, stayed


def _status_action(action: str):
    target = STATUS_ACTIONS[action]

    def act(session, params, ids):
        moved, stayed = _set_status(session, ids, target, ONLY_FROM.get(action, sources(target)))
        return len(moved), Counter(stayed.values())
    return act


def _tag_names(session, ids) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {i: [] for i in ids}
    for customer_id, name in session.execute(
            select(customer_tag.c.customer_id, Tag.name).join(Tag, Tag.id == customer_tag.c.tag_id)
            .where(in_ids(session, customer_tag.c.customer_id, ids)).order_by(Tag.name)):
        names[customer_id].append(name)
    return names


def _edit(session: Session, params: dict, ids: list[int]) -> tuple[int, Counter]:
    changes: dict[int, dict] = {}
    moved, stayed = [], {}
    if params.get("status"):
        moved, stayed = _set_status(session, ids, params["status"], sources(params["status"]))
    columns = {k: params[k] for k in ("reseller_id", "currency", "creditor_days") if params.get(k) is not None}
    if columns:
        before = _locked(session, select(Customer.id, *[Customer.__table__.c[k] for k in columns])
                         .where(in_ids(session, Customer.id, ids)))
        differing = [r for r in before if any(getattr(r, k) != v for k, v in columns.items())]
        if differing:
            session.execute(update(Customer).where(in_ids(session, Customer.id, [r.id for r in differing])).values(**columns)
                            .execution_options(synchronize_session=False))
        for r in differing:
            changes.setdefault(r.id, {}).update(
                {k: [audit._plain(getattr(r, k)), audit._plain(v)] for k, v in columns.items() if getattr(r, k) != v})
    mode, tag_ids = params.get("tag_mode", "keep"), params.get("tag_ids") or []
    if mode != "keep":
        before = _tag_names(session, ids)
        if mode in ("remove", "set", "clear"):
            doomed = delete(customer_tag).where(in_ids(session, customer_tag.c.customer_id, ids))
            if mode == "remove":
                doomed = doomed.where(customer_tag.c.tag_id.in_(tag_ids))
            elif mode == "set":
                doomed = doomed.where(customer_tag.c.tag_id.not_in(tag_ids))
            session.execute(doomed)
        if mode in ("add", "set"):
            have = select(customer_tag.c.customer_id, customer_tag.c.tag_id).where(
                in_ids(session, customer_tag.c.customer_id, ids))
            existing = {(c, t) for c, t in session.execute(have)}
            rows = [{"customer_id": c, "tag_id": t} for c in ids for t in tag_ids if (c, t) not in existing]
            if rows:
                session.execute(insert(customer_tag), rows)
        after = _tag_names(session, ids)
        for customer_id in ids:
            if before[customer_id] != after[customer_id]:
                changes.setdefault(customer_id, {})["tags"] = [before[customer_id], after[customer_id]]
    audit.record(session, "customer", "update", [(cid, cid, c) for cid, c in changes.items()])
    changed = set(moved) | set(changes)
    reasons = Counter(reason for cid, reason in stayed.items() if cid not in changed)
    unchanged = len(ids) - len(changed) - sum(reasons.values())
    if unchanged > 0:
        reasons["nothing to change"] += unchanged
    return len(changed), reasons


def _delete(session: Session, params: dict, ids: list[int]) -> tuple[int, Counter]:
    reasons = Counter()
    blocked = set()
    for table in FINANCIAL_DOCUMENTS:
        blocked |= set(session.scalars(select(table.c.customer_id).where(in_ids(session, table.c.customer_id, ids)).distinct()))
    if blocked:
        reasons["has invoices, credit notes or payments"] += len(blocked)
    doomed_ids = [i for i in ids if i not in blocked]
    if not doomed_ids:
        return 0, reasons
    kept = ("customer_type", "name", "email", "phone", "status", "currency", "reseller_id")
    rows = _locked(session, select(Customer.id, *[Customer.__table__.c[k] for k in kept])
                   .where(in_ids(session, Customer.id, doomed_ids)))
    stored = files.stored_names_of(session, doomed_ids)
    contacts = select(Contact.id).where(in_ids(session, Contact.customer_id, doomed_ids))
    messages = select(Message.id).where(in_ids(session, Message.customer_id, doomed_ids))
    # Children first: SQLite does not enforce the foreign keys' ON DELETE CASCADE.
    for stmt in (delete(MessageAttempt).where(MessageAttempt.message_id.in_(messages)),
                 delete(Message).where(in_ids(session, Message.customer_id, doomed_ids)),
                 delete(Note).where(in_ids(session, Note.customer_id, doomed_ids)),
                 delete(CustomerAlias).where(in_ids(session, CustomerAlias.customer_id, doomed_ids)),
                 delete(CustomerFile).where(in_ids(session, CustomerFile.customer_id, doomed_ids)),
                 delete(CustomValue).where(in_ids(session, CustomValue.customer_id, doomed_ids)),
                 delete(ContactPhone).where(ContactPhone.contact_id.in_(contacts)),
                 delete(Contact).where(in_ids(session, Contact.customer_id, doomed_ids)),
                 delete(Address).where(in_ids(session, Address.customer_id, doomed_ids)),
                 delete(CustomerService).where(in_ids(session, CustomerService.customer_id, doomed_ids)),
                 delete(customer_tag).where(in_ids(session, customer_tag.c.customer_id, doomed_ids)),
                 delete(Customer).where(in_ids(session, Customer.id, doomed_ids))):
        session.execute(stmt.execution_options(synchronize_session=False))
    if settings.files_folder:
        files.remove_after_commit(session, settings.files_folder, stored)
    audit.record(session, "customer", "delete",
                 [(r.id, r.id, {k: [audit._plain(getattr(r, k)), None] for k in kept if getattr(r, k) is not None})
                  for r in rows])
    return len(rows), reasons


ACT = {**{action: _status_action(action) for action in STATUS_ACTIONS}, "edit": _edit, "delete": _delete}
# The tables each action changes in place (for the vacuum after a large job).
ACT_TABLES = {**{action: ("customer", "service") for action in STATUS_ACTIONS},
              "edit": ("customer", "service", "customer_tag")}


def applies(action: str, status: str) -> bool:
    """Whether `action` would change a customer in `status` (what a customer's menu offers)."""
    target = STATUS_ACTIONS.get(action)
    return target is None or (status != target and status in ONLY_FROM.get(action, sources(target)))


def transitions_note(action: str) -> str:
    """Which customers an action applies to, for the confirmation page."""
    if action in STATUS_ACTIONS:
        allowed = ONLY_FROM.get(action, sources(STATUS_ACTIONS[action]))
        return "Applies to customers who are " + ", ".join(sorted(allowed)) + "; others are left as they are."
    if action == "delete":
        return "Deletes each customer with its contacts, addresses, services and messages. This cannot be undone."
    return ""

