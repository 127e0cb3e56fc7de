"""Bulk actions on customers: enable, disable, archive, unarchive, make dormant, block, edit, delete.

The edit changes, besides the customers' own fields, their services' billing (issue 17): the billing
cycle of their recurring services (one-off ones keep theirs) and the next billing date (and with it
the billing day) of those that still have something to bill, never cancelled ones, and never to a
date within a period already billed (services.billed_through). Each service changed is audited.

A bulk action is a Job (app/services/jobs.py). `start_bulk_action` is the command a
confirmed form calls: it claims the form's key, checks the action's values, fixes the
customers it will act on (`prepare`), commits, and then runs the job or queues it.
`run` works through the customers in chunks of set-based SQL, one transaction per
chunk, recording its progress on the job, so a job started again goes on where it
stopped. Every change is audited per customer; customers an action does not apply to
are left alone and counted by reason. Which status an action leads to, and from which,
is the status module's (customers/status.py); deleting is customers/delete.py's.
"""
from collections import Counter
from collections.abc import Iterable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.jobs import enqueue, tasks
from app.models import Customer, CustomerService, Job, Reseller, ServicePeriod, Tag, customer_tag
from app.models.customers import CREDITOR_DAYS, STATUSES
from app.services import audit, fields, jobs, permissions
from app.services.customers.services import RECURRING_CYCLES, prices_misfit
from app.services.customers.delete import DELETE_GRANTS, delete_customers, require_delete_permission, with_money
from app.services.customers.status import ACTION_LABELS, STATUS_ACTIONS, action_sources, move, sources
from app.services.customers.status import transitions_note as status_note
from app.services.db import commit, in_ids, vacuum
from app.services.errors import AlreadyDone, FieldErrors, Invalid
from app.services.forms import claim_form_key
from app.services.scope import is_scoped, reseller_choice_scope

CHUNK = 5000
# A job that changed at least this many customers vacuums what it changed (PostgreSQL): see _run.
VACUUM_AFTER = 10_000
ACTIONS = (*STATUS_ACTIONS, "edit", "delete")
LABELS = {**ACTION_LABELS, "edit": "Edit", "delete": "Delete"}
NOTES = {"delete": "Deletes each customer with its contacts, addresses, services and messages. This cannot be undone."}
ALREADY_STARTED = "This action was already started."
# Each action's permission is its name on CustomerView (FAB's convention for actions); the
# default roles grant them in app/security.py. Deleting takes any of the delete grants.
PERMISSIONS = {"enable": "enable", "disable": "disable", "archive": "archive", "unarchive": "unarchive",
               "make_dormant": "make_dormant", "block": "block", "edit": "bulk_edit", "delete": "bulk_delete"}
GRANTS = {**{action: ((name, "CustomerView"),) for action, name in PERMISSIONS.items()},
          "delete": DELETE_GRANTS}


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
        if params.get("billing_cycle") not in (None, ""):
            out["billing_cycle"] = fields.choice(errors, "billing_cycle", params["billing_cycle"], RECURRING_CYCLES,
                                                 label="Billing cycle")
        if params.get("next_billing_on") not in (None, ""):
            day = fields.a_date(errors, "next_billing_on", params["next_billing_on"])
            out["next_billing_on"] = day.isoformat() if day else None  # kept on the job as JSON
        if not errors.errors and tag_mode == "keep" and not any(
                out.get(k) is not None for k in ("status", "reseller_id", "currency", "creditor_days", "billing_cycle",
                                                 "next_billing_on")):
            errors.add("_", "Choose at least one thing to change.")
    errors.raise_if_any()
    return out


def prepare(session: Session, actor, action: str, params: dict, *, ids: Iterable | None = None,
            matching=None) -> Job:
    """Check the action and fix its customers; the job is flushed, not committed.

    `ids`: the ticked rows (any that are missing or outside the user's scope are counted
    as not found and left out); `matching`: a select of customer ids from the list's
    filter, already within the user's scope. Raises Forbidden when the actor may not do the
    action (GRANTS: the route asks too, a job started again does not) and Invalid with every
    field error.
    """
    if action == "delete":
        require_delete_permission(session, actor)
    elif action in GRANTS:
        permissions.require(session, actor, *GRANTS[action], message="You may not do this action.")
    values = clean_params(session, actor, action, params)
    return jobs.new_job(session, actor, action, values, ids=ids, matching=matching)


def start_bulk_action(session: Session, actor, action: str, params: dict, form_key, *,
                      ids: Iterable | None = None, matching=None) -> Job:
    """The confirmed bulk action: claim the form's key, fix the customers (see prepare),
    commit, then run the job (at once when it is small, else in the background).

    Raises AlreadyDone when this form was sent before, and what prepare raises; nothing is
    written then.
    """
    if not claim_form_key(session, form_key):
        raise AlreadyDone(ALREADY_STARTED)
    job = prepare(session, actor, action, params, ids=ids, matching=matching)
    commit(session)
    enqueue(tasks.run_bulk_action, job.id, size=job.total)
    return job


def options(session: Session, actor) -> dict:
    """The choices the confirmation's form offers: tags, resellers (none for a scoped user, who
    never changes a customer's reseller), statuses, creditor days and the recurring billing cycles."""
    return {"tags": session.scalars(select(Tag).order_by(Tag.name)).all(),
            "resellers": [] if is_scoped(actor) else session.scalars(
                select(Reseller).where(reseller_choice_scope(actor)).order_by(Reseller.name)).all(),
            "statuses": STATUSES, "creditor_days": CREDITOR_DAYS, "billing_cycles": RECURRING_CYCLES}


def service_counts(session: Session, actor, ids=None, matching=None) -> dict[str, int]:
    """The chosen customers' services a billing change may touch, for the confirmation: those not
    cancelled, and among them the recurring ones (what a cycle change applies to). One query."""
    chosen = jobs.chosen(actor, ids, matching).subquery()
    row = session.execute(
        select(func.count(), func.count().filter(CustomerService.billing_cycle != "one-off"))
        .where(CustomerService.customer_id.in_(select(chosen.c[0])), CustomerService.status != "cancelled")).one()
    return {"not_cancelled": row[0], "recurring": row[1]}


def note(action: str) -> str:
    """What the confirmation says of the customers the action applies to, or does to them."""
    return status_note(action) or NOTES.get(action, "")


# ---- running ---------------------------------------------------------------------------------
def run(session: Session, job: Job, chunk: int = CHUNK, runner: str | None = None) -> Job:
    """Do the job's action on its customers not done yet, a chunk per transaction; return the
    job, done. `runner` (app/jobs/runner.py) is noted on the job with each chunk.

    Runs in a request, a thread or a worker alike: the audit names the user who asked."""
    previous = session.info.get("actor")
    session.info["actor"] = (job.user_id, job.username)
    try:
        return _run(session, job, chunk, runner)
    finally:
        session.info["actor"] = previous


def _run(session: Session, job: Job, chunk: int, runner: str | None) -> Job:
    # Started again, the job goes on with its counts; else they start from nothing.
    resumed = job.done_through is not None
    result = {"changed": 0, "skipped": {}, **{k: v for k, v in (job.result or {}).items()
                                             if k == "not_found" or resumed}}
    job.status, job.done, job.result = "running", job.done if resumed else 0, dict(result)
    jobs.beat(job, runner)
    session.commit()
    skipped = Counter(result["skipped"])
    for ids in jobs.customer_chunks(session, job, chunk):
        changed, reasons, *counted = ACT[job.action](session, job.params, ids)
        for key, number in (counted[0] if counted else {}).items():  # an action's own counts (services)
            result[key] = result.get(key, 0) + number
        result["changed"] += changed
        skipped.update(reasons)
        job.done += len(ids)
        result["skipped"] = dict(skipped)
        job.result = dict(result)
        jobs.beat(job, runner, done_through=ids[-1])
        session.commit()
    jobs.finish(session, job)
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
    """Move the customers among `ids` whose status is in `allowed` to `target` (status.move).
    Returns the ids moved, and for each other customer the reason it stayed."""
    moved = move(session, ids, target, allowed)
    rest = set(ids).difference(moved)
    stayed = {}
    if rest:
        for r in session.execute(select(Customer.id, Customer.status).where(in_ids(session, Customer.id, rest))):
            stayed[r.id] = f"already {target}" if r.status == target else f"{r.status}: cannot be made {target}"
    return moved, stayed


def _status_action(action: str):
    target = STATUS_ACTIONS[action]

    def act(session, params, ids):
        moved, stayed = _set_status(session, ids, target, action_sources(action))
        return len(moved), Counter(stayed.values())
    return act


def _tag_names(session, ids) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {i: [] for i in ids}
    for customer_id, name in session.execute(
            select(customer_tag.c.customer_id, Tag.name).join(Tag, Tag.id == customer_tag.c.tag_id)
            .where(in_ids(session, customer_tag.c.customer_id, ids)).order_by(Tag.name)):
        names[customer_id].append(name)
    return names


def currency_kept(current: str, requested: str) -> str:
    """Why a bulk edit left a customer alone: its money fixes its currency (as validate says)."""
    return f"billed in {current} with invoices, payments or credits: currency cannot change to {requested}"


def _money_fixes_currency(session: Session, ids: list[int], currency: str) -> dict[int, str]:
    """The customers among `ids` whose currency would change but is fixed by their money records
    (billing.payments.has_money, set-based), each with the reason; locked first (PostgreSQL), so
    that a money record written meanwhile waits for this chunk."""
    stmt = select(Customer.id, Customer.currency).where(in_ids(session, Customer.id, ids)).order_by(Customer.id)
    if session.get_bind().dialect.name == "sqlite":  # a write takes SQLite's write lock now (as ledger.lock)
        session.execute(update(Customer).where(in_ids(session, Customer.id, ids)).values(balance=Customer.balance))
    rows = _locked(session, stmt)
    moving = {r.id: r.currency for r in rows if r.currency != currency}
    if not moving:
        return {}
    kept = {i: currency_kept(moving[i], currency) for i in with_money(session, list(moving))}
    for i in prices_misfit(session, [i for i in moving if i not in kept], currency):
        kept[i] = f"a service's price has more decimals than {currency} has"
    return kept


def _edit(session: Session, params: dict, ids: list[int]) -> tuple[int, Counter]:
    changes: dict[int, dict] = {}
    moved, stayed = [], {}
    refused = _money_fixes_currency(session, ids, params["currency"]) if params.get("currency") else {}
    if refused:  # left alone altogether, as a delete leaves a customer with money
        ids = [i for i in ids if i not in refused]
    if params.get("status"):
        moved, stayed = _set_status(session, ids, params["status"], sources(params["status"]))
    columns = {k: params[k] for k in ("reseller_id", "currency", "creditor_days") if params.get(k) is not None}
    if columns:
        before = _locked(session, select(Customer.id, Customer.invoice_address_id,
                                         *[Customer.__table__.c[k] for k in columns])
                         .where(in_ids(session, Customer.id, ids)))
        differing = [r for r in before if any(getattr(r, k) != v for k, v in columns.items())]
        if differing:
            session.execute(update(Customer).where(in_ids(session, Customer.id, [r.id for r in differing])).values(**columns)
                            .execution_options(synchronize_session=False))
        for r in differing:
            changes.setdefault(r.id, {}).update(
                {k: [audit._plain(getattr(r, k)), audit._plain(v)] for k, v in columns.items() if getattr(r, k) != v})
        # A chosen invoice address is its reseller's: a customer moved to another reseller leaves it
        # (as update_customer does).
        leaving = [r.id for r in differing if "reseller_id" in columns and r.reseller_id != columns["reseller_id"]
                   and r.invoice_address_id is not None]
        if leaving:
            session.execute(update(Customer).where(in_ids(session, Customer.id, leaving)).values(invoice_address_id=None)
                            .execution_options(synchronize_session=False))
            for r in differing:
                if r.id in leaving:
                    changes[r.id]["invoice_address_id"] = [r.invoice_address_id, None]
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
    billed = _service_billing(session, params, ids)
    changed = set(moved) | set(changes) | set(billed)
    reasons = Counter(reason for cid, reason in stayed.items() if cid not in changed)
    unchanged = len(ids) - len(changed) - sum(reasons.values())
    reasons.update(refused.values())
    if unchanged > 0:
        reasons["nothing to change"] += unchanged
    return len(changed), reasons, ({"services": sum(billed.values())} if billed else {})


def _service_billing(session: Session, params: dict, ids: list[int]) -> Counter:
    """The bulk edit's change to the services of the customers `ids`: the billing cycle of the
    recurring ones, the next billing date (and billing day) of those with something left to bill and
    no billed period reaching the new date; none cancelled. Set-based, each service audited. Returns
    how many services of each customer changed."""
    cycle, next_on = params.get("billing_cycle"), fields.iso_date(params.get("next_billing_on"))
    if cycle is None and next_on is None:
        return Counter()
    billed = (select(func.max(ServicePeriod.ends_on)).where(ServicePeriod.service_id == CustomerService.id)
              .scalar_subquery())
    stmt = (select(CustomerService.id, CustomerService.customer_id, CustomerService.billing_cycle,
                   CustomerService.next_billing_on, CustomerService.billing_day, billed.label("billed"))
            .where(in_ids(session, CustomerService.customer_id, ids), CustomerService.status != "cancelled")
            .order_by(CustomerService.id))
    changes: dict[int, tuple[int, dict]] = {}
    for r in _locked(session, stmt):
        change = {}
        if cycle is not None and r.billing_cycle != "one-off" and r.billing_cycle != cycle:
            change["billing_cycle"] = [r.billing_cycle, cycle]
        if next_on is not None and r.next_billing_on is not None and r.next_billing_on != next_on and (
                r.billed is None or next_on > r.billed):
            change["next_billing_on"] = [r.next_billing_on.isoformat(), next_on.isoformat()]
            if r.billing_day != next_on.day:
                change["billing_day"] = [r.billing_day, next_on.day]
        if change:
            changes[r.id] = (r.customer_id, change)
    for fields_changed in {tuple(sorted(c)) for _cid, c in changes.values()}:
        same = [sid for sid, (_cid, c) in changes.items() if tuple(sorted(c)) == fields_changed]
        values = {}
        if "billing_cycle" in fields_changed:
            values["billing_cycle"] = cycle
        if "next_billing_on" in fields_changed:
            values["next_billing_on"] = next_on
        if "billing_day" in fields_changed:
            values["billing_day"] = next_on.day
        session.execute(update(CustomerService).where(in_ids(session, CustomerService.id, same)).values(**values)
                        .execution_options(synchronize_session=False))
    audit.record(session, "service", "update", [(sid, cid, c) for sid, (cid, c) in changes.items()])
    return Counter(cid for cid, _c in changes.values())


def _delete(session: Session, params: dict, ids: list[int]) -> tuple[int, Counter]:
    return delete_customers(session, ids)


ACT = {**{action: _status_action(action) for action in STATUS_ACTIONS}, "edit": _edit, "delete": _delete}
# The tables each action changes in place (for the vacuum after a large job).
ACT_TABLES = {**{action: ("customer", "service") for action in STATUS_ACTIONS},
              "edit": ("customer", "service", "customer_tag")}


def _restart(job_id: int) -> None:
    enqueue(tasks.run_bulk_action, job_id)


for _action in ACTIONS:
    jobs.register(_action, LABELS[_action], restart=_restart, grants=GRANTS[_action],
                  done_word="deleted" if _action == "delete" else "changed")
