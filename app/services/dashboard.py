"""The home page's dashboard: what a user's scope looks like today, read in a few indexed statements.

`for_user(session, user)` reads, within `scope.customer_scope(user)`:
- customers by status. Counted exactly on SQLite and wherever the scope holds at most
  LIST_EXACT_COUNT_LIMIT customers in service. Past that, on PostgreSQL, no statement scans the
  customers: the rare statuses (dormant, blocked, archived) are counted exactly from the
  `(status_index, id)` index, the total is the planner's estimate (pg_class.reltuples) for an
  unscoped user or an index-only count of the reseller's rows, and the customers in service are
  split into active and disabled by the planner's estimate (no index holds `status`: see
  models/customers.py). Estimated figures say so (`approximate`);
- the ten newest customers (id descending: the primary key, walked backwards);
- the last ten audit entries on customers in scope (who, when, what; never the values changed,
  which may hold a private note's text), for a scoped user among the log's last 20,000;
- bulk jobs queued, running or failed: those the user's jobs list holds (jobs.listed)
  (as `jobs.get_job` lets them open);
- messages that failed or may have gone out, written in the last seven days.

It only reads: nothing is committed.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.models import AuditEntry, Customer, Job, Message
from app.models.customers import IN_SERVICE
from app.models.resellers import utcnow
from app.services import jobs, permissions
from app.services.scope import customer_ids_in_scope, customer_scope, is_scoped

STATUSES = ("active", "disabled", "dormant", "blocked", "archived")
STATUS_NAMES = {"active": "Active", "disabled": "Disabled", "dormant": "Dormant", "blocked": "Blocked",
                "archived": "Archived"}
RARE = ("dormant", "blocked", "archived")  # each its own value of status_index
NEWEST, ACTIVITY, JOBS = 10, 10, 10
ACTIVITY_WINDOW = 20_000  # the latest audit entries a scoped user's activity is looked for in
MESSAGE_DAYS = 7
JOB_STATES = ("queued", "running", "failed")
FAILED_MESSAGES = ("failed", "uncertain")


@dataclass
class StatusCount:
    status: str
    name: str
    count: int
    approximate: bool = False


@dataclass
class NewCustomer:
    id: int
    name: str
    status: str
    created_at: datetime


@dataclass
class Activity:
    at: datetime
    username: str | None
    action: str
    entity: str
    entity_id: int | None
    customer_id: int | None
    customer_name: str | None  # None: the customer is gone (or out of scope: never listed then)


@dataclass
class Dashboard:
    """What the home page shows; a part not asked for is empty (None)."""

    messages_since: datetime
    all_jobs: bool  # everyone's jobs (an unscoped user), not only the user's
    statuses: list[StatusCount] | None = None
    total: int = 0
    total_approximate: bool = False
    newest: list[NewCustomer] | None = None
    activity: list[Activity] | None = None
    jobs: list[Job] | None = None
    messages: dict[str, int] | None = None  # "failed", "uncertain" -> how many since `messages_since`


def for_user(session: Session, user, *, exact_limit: int = 1000, customers: bool = True, with_jobs: bool = True,
             with_messages: bool = True) -> Dashboard:
    """The dashboard of `user` (see the module's docstring). `exact_limit` is the count past which
    PostgreSQL's figures may be estimates (the lists' LIST_EXACT_COUNT_LIMIT). The caller leaves
    out (False) the parts whose screens the user may not open: customers (statuses, newest,
    activity), jobs, messages."""
    board = Dashboard(messages_since=utcnow() - timedelta(days=MESSAGE_DAYS), all_jobs=permissions.may(session, user, jobs.ALL_JOBS))
    if customers:
        board.statuses = status_counts(session, user, exact_limit)
        board.total = sum(s.count for s in board.statuses)
        board.total_approximate = any(s.approximate for s in board.statuses)
        board.newest = newest_customers(session, user)
        board.activity = recent_activity(session, user)
    if with_jobs:
        board.jobs = open_and_failed_jobs(session, user)
    if with_messages:
        board.messages = failed_messages(session, user, board.messages_since)
    return board


# ---- customers by status -----------------------------------------------------------------------
def status_counts(session: Session, user, exact_limit: int) -> list[StatusCount]:
    """The customers in scope by status, in STATUSES order (see the module's docstring)."""
    scope = customer_scope(user)
    by_index: dict[str, int] = {}
    estimated_total = None
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and not is_scoped(user):
        estimated_total = _estimate(session, select(Customer.id))
    if estimated_total is not None and estimated_total > exact_limit:
        # Only the rare statuses' index ranges are read; the rest is the estimate less them.
        by_index = dict(session.execute(
            select(Customer.status_index, func.count()).where(Customer.status_index.in_(RARE))
            .group_by(Customer.status_index)).all())
        in_service, approximate = max(estimated_total - sum(by_index.values()), 0), True
    else:
        # A reseller's rows are one range of ix_customer_reseller_sort (index-only).
        by_index = dict(session.execute(
            select(Customer.status_index, func.count()).where(scope).group_by(Customer.status_index)).all())
        in_service, approximate = by_index.get("in_service", 0), False

    if not postgresql or (not approximate and in_service <= exact_limit):
        disabled = session.scalar(select(func.count()).select_from(Customer)
                                  .where(scope, Customer.status == "disabled")) if in_service else 0
        split_approximate = approximate
    else:
        # No index holds `status` (enabling and disabling stay HOT updates): the planner's
        # estimate from the column's statistics, within the customers in service.
        disabled = min(_estimate(session, select(Customer.id).where(scope, Customer.status == "disabled")),
                       in_service)
        split_approximate = True

    counts = {"active": in_service - disabled, "disabled": disabled,
              **{s: by_index.get(s, 0) for s in RARE}}
    return [StatusCount(s, STATUS_NAMES[s], counts[s], approximate=split_approximate if s in IN_SERVICE else False)
            for s in STATUSES]


def _estimate(session: Session, stmt: Select) -> int:
    """The PostgreSQL planner's row estimate for a statement (no scan)."""
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    plan = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params).scalar()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


# ---- the newest customers and what was done lately ---------------------------------------------
def newest_customers(session: Session, user, limit: int = NEWEST) -> list[NewCustomer]:
    rows = session.execute(select(Customer.id, Customer.name, Customer.status, Customer.created_at)
                           .where(customer_scope(user)).order_by(Customer.id.desc()).limit(limit)).all()
    return [NewCustomer(*row) for row in rows]


def recent_activity(session: Session, user, limit: int = ACTIVITY) -> list[Activity]:
    """The last audit entries on customers in scope, newest first (the audit list's order and
    index); an unscoped user also sees entries on records of no customer (a tag, a reseller).
    A scoped user's are looked for among the last ACTIVITY_WINDOW entries of the log."""
    columns = (AuditEntry.at, AuditEntry.username, AuditEntry.action, AuditEntry.entity, AuditEntry.entity_id,
               AuditEntry.customer_id)
    newest_first = (AuditEntry.at.desc(), AuditEntry.id.desc())
    if is_scoped(user):
        # Among the last ACTIVITY_WINDOW entries only: a reseller whose customers changed little
        # lately would otherwise walk the whole log (100,000 entries: 60 ms) to find ten.
        recent = select(*columns, AuditEntry.id).order_by(*newest_first).limit(ACTIVITY_WINDOW).subquery()
        stmt = (select(*(recent.c[c.key] for c in columns))
                .where(recent.c.customer_id.in_(customer_ids_in_scope(user)))
                .order_by(recent.c.at.desc(), recent.c.id.desc()))
    else:
        stmt = select(*columns).order_by(*newest_first)
    rows = session.execute(stmt.limit(limit)).all()
    wanted = {r.customer_id for r in rows if r.customer_id is not None}
    names = dict(session.execute(select(Customer.id, Customer.name)
                                 .where(Customer.id.in_(wanted), customer_scope(user))).all()) if wanted else {}
    return [Activity(*row, customer_name=names.get(row.customer_id)) for row in rows]


# ---- work that needs looking at ----------------------------------------------------------------
def open_and_failed_jobs(session: Session, user, limit: int = JOBS) -> list[Job]:
    """Jobs queued, running or failed, newest first: those the user's jobs list holds (jobs.listed)."""
    stmt = select(Job).where(Job.status.in_(JOB_STATES), jobs.listed(session, user))
    return list(session.scalars(stmt.order_by(Job.id.desc()).limit(limit)))


def failed_messages(session: Session, user, since: datetime) -> dict[str, int]:
    """Messages to customers in scope written since `since` that failed or may have gone out."""
    stmt = select(Message.status, func.count()).where(Message.status.in_(FAILED_MESSAGES),
                                                      Message.created_at >= since)
    if is_scoped(user):
        stmt = stmt.where(Message.customer_id.in_(customer_ids_in_scope(user)))
    counts = dict(session.execute(stmt.group_by(Message.status)).all())
    return {status: counts.get(status, 0) for status in FAILED_MESSAGES}
