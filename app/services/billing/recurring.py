"""Recurring billing of customer services (issue 17): what a billing run would bill (`plan`), and the
run itself (`run`), the daily periodic job's and Finance's "Bill due services now".

**What is due** as at `today`: each service whose `next_billing_on` is on or before today (found
through the partial index ix_service_next_billing), its periods by services/billing/periods.py. Per
customer ONE invoice for all its due services' periods, one line per service and period ("Broadband
40 Mb, 1–31 Jan 2027"), billed in advance: dated the run's day, due by the customer's creditor days
(invoices.due_date_default). A line is quantity (1, or the pro rata fraction) × the service's price,
which is in the customer's currency: its net rounded once to the currency's minor units and its tax at
the service's rate as any invoice line's (invoices.priced, tax.charged's precedence: exempt, special
rate, the line's rate, the default). Each service's next billing date moves on past the periods billed
(NULL when nothing more is to be billed: a one-off, a service billed to its end).

**Who is not billed**: dormant, archived and blocked customers (counted by reason): their services'
periods due are passed over (the next billing dates move on), so a customer back from dormancy is billed
from its next period, never for the time it was not served, and no run counts it again. A one-off
service (work done, billed once) waits, due, and is billed when the customer is back. A suspended service, when the company's
"bill suspended services" is off (default on: invoicing goes on while a customer is disabled for late
payment): its due periods are passed over unbilled (its next billing date moves on). A cancelled
service: with pro rata on and an end date, its not yet billed active part; otherwise never (its next
billing date is cleared). A service with an end date that is not cancelled bills periods starting
before it (pro rata: their active part; off: whole). A line of nothing (a free service) is not written:
its period is recorded as billed at 0.

**Settings** (company_settings, empty meaning the default): billing_pro_rata (off), billing_drafts
(off: invoices are issued at once; on: left as drafts for review, nothing posted nor e-mailed),
billing_email (on: each issued invoice e-mailed with its PDF), bill_suspended (on). Account credit is
used at issue when the customer's setting (else the company's default) is "automatic"
(allocation.use_credit_on_issue); "ask" has nobody to ask in a run: not used.

**Once per period**: each period billed is claimed by a `service_period` row, unique (service_id,
starts_on), written in the transaction that writes its invoice line (and linked to it). A run locks each
chunk's customers first (ledger.lock_many, in id order) and only a run holding a customer writes its
periods: under the lock it reads which of the periods due were billed before (a next billing date moved
back by hand) and leaves them out; a second run at the same moment waits for the lock, then reads the
first's result and finds nothing due. Were a period claimed twice all the same, the unique key fails
the chunk: nothing of it is written, and it is read again once (leaving that period out).

**Writing** (`run`): a chunk of customers (CHUNK) a transaction, set-based, the customers read as plain
rows: the invoices with gap-free numbers taken as a block from the invoice sequence under its row lock
and their rate to the base currency (fx.IssuedRates: each currency's global rate read once a run, a
customer's own only for those that have rates), their lines (COPY on PostgreSQL, ids drawn from the
sequence first), the claims with their lines (COPY), the ledger entries and balances (ledger.post_many:
the rows invoices._issue + ledger.post write), one audit entry per invoice and per service moved on,
the e-mails (message.attach_invoice_id: delivery renders and attaches the PDF once); each chunk
committed, its e-mails queued for delivery after the commit.
On PostgreSQL a run bills in LANES connections at once, each taking the next chunk as it is free: a
chunk's locks, plan, services moved on, addresses and rows are prepared while another lane writes; the
writes take turns (the invoice numbers' row lock would serialise them anyway, so the numbers are taken
as late as can be: after everything that needs none). The database writes one chunk while Python
prepares the next.
The run's report is kept in `billing_run`, updated with each chunk.

**Who**: who may post money (POST_MONEY: Finance, Admin) starts a run (`start`); who may open the Recurring
billing screen (PREVIEW: every role that sees money) reads the preview (`plan`, `summary`, within its scope)
and the runs' reports (`latest_runs`). `start` acts once per form key and starts no second run while one is
going (`going`: RunGoing names it); two runs at once would bill nothing twice anyway (the claims above).
"""
import threading
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache, partial
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import Date, Integer, Row, column, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from app.extensions import db
from app.jobs import tasks
from app.models import Contact, Customer, CustomerService, Invoice, InvoiceLine, Job, Message, \
    Payment
from app.models.customers import USE_CREDIT
from app.models.recurring import BillingRun, ServicePeriod
from app.models.resellers import utcnow
from app.services import audit, company, jobs, permissions
from app.services.billing import POST_MONEY, allocation, documents, fx, invoices, ledger, periods, tax
from app.services.db import array_param, commit, in_ids, insert_rows, update_from_rows
from app.services.errors import AlreadyDone, Forbidden, ServiceError
from app.services.forms import claim_form_key
from app.services.messages.preferences import skip_reason
from app.services.scope import customer_scope, is_scoped

CHUNK = 500  # customers written (and committed) together
LANES = 2  # connections a run bills in at once on PostgreSQL (one prepares a chunk while another writes)
ACTION = "recurring_billing"  # the Job's action: "Bill due services now"
LABEL = "Bill due services"
SENDER = "billing run"  # created_by of the run's e-mails when nobody started it
SKIPPED_STATUSES = ("dormant", "archived", "blocked")
# The report's other keys (services, not customers): passed over, never billed.
SUSPENDED, CANCELLED, NO_ADDRESS = "suspended services", "cancelled services", "not e-mailed: no address"
ZERO = Decimal(0)
# The Recurring billing screen's read (views/recurring_billing.py): its preview and the runs' reports.
PREVIEW = ("can_show", "RecurringBillingView")
FORBIDDEN = "Only Finance and Admin may bill services."
SCOPED = "A billing run bills every customer's due services: only a user who sees every customer may start one."
ALREADY_STARTED = "This form was already sent: the billing run it started is the one below."


class RunGoing(ServiceError):
    """A billing run is going: "Bill due services now" starts no second one (`run`: the one going)."""

    status = 409

    def __init__(self, billing_run: BillingRun):
        super().__init__(f"Billing run {billing_run.id} (started by {billing_run.started_by or 'the daily job'}) "
                         "is still going: no second run was started. Its report is below once it ends.")
        self.run = billing_run


@dataclass(frozen=True)
class Line:
    """One line a run bills: a service's period."""

    service_id: int
    service_name: str
    period: periods.Period
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate_id: int | None
    tax_name: str | None
    tax_percent: Decimal
    net: Decimal
    tax: Decimal


@dataclass
class Bill:
    """A customer's invoice-to-be: its lines (those worth more than nothing) and totals."""

    customer_id: int
    name: str
    currency: str
    lines: list[Line] = field(default_factory=list)
    free: list[Line] = field(default_factory=list)  # periods billed at nothing: claimed, not written

    @property
    def net_total(self) -> Decimal:
        return sum((line.net for line in self.lines), ZERO)

    @property
    def tax_total(self) -> Decimal:
        return sum((line.tax for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return self.net_total + self.tax_total


@dataclass(frozen=True)
class Move:
    """A service's next billing date moved on (from `old` to `new`, None: nothing more to bill)."""

    service_id: int
    customer_id: int
    old: date
    new: date | None


@dataclass
class Plan:
    """What a run would bill as at `today` (for the customers looked at): the bills by customer, the
    totals per currency, the customers skipped and services passed over by reason, and the next billing
    dates that move. `last_customer_id`: where the next page starts."""

    today: date
    bills: list[Bill] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    moves: list[Move] = field(default_factory=list)
    last_customer_id: int | None = None

    @property
    def totals(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for bill in self.bills:
            if bill.lines:
                out[bill.currency] = out.get(bill.currency, ZERO) + bill.total
        return out

    @property
    def line_count(self) -> int:
        return sum(len(bill.lines) for bill in self.bills)


# --- what is due ---------------------------------------------------------------------------------

def _due_customers(today: date, scope=None):
    """A select of the ids of customers with a service due as at `today`, in id order."""
    stmt = (select(CustomerService.customer_id).where(CustomerService.next_billing_on.is_not(None),
                                                      CustomerService.next_billing_on <= today)
            .distinct().order_by(CustomerService.customer_id))
    if scope is not None:
        stmt = stmt.join(Customer, Customer.id == CustomerService.customer_id).where(scope)
    return stmt


def _due_services(session: Session, today: date, customer_ids: list[int]) -> list[Row]:
    return session.execute(
        select(CustomerService.id, CustomerService.customer_id, CustomerService.name, CustomerService.price,
               CustomerService.billing_cycle, CustomerService.status, CustomerService.started_on,
               CustomerService.next_billing_on, CustomerService.billing_day, CustomerService.ends_on,
               CustomerService.tax_rate_id, Customer.name.label("customer_name"), Customer.currency,
               Customer.status.label("customer_status"), Customer.tax_exempt,
               Customer.tax_rate_id.label("special_rate_id"))
        .join(Customer, Customer.id == CustomerService.customer_id)
        .where(in_ids(session, CustomerService.customer_id, customer_ids), CustomerService.next_billing_on.is_not(None),
               CustomerService.next_billing_on <= today)
        .order_by(CustomerService.customer_id, CustomerService.id)).all()


# Pure, and the same few prices, plans and periods recur over a run's thousands of lines.
_priced = lru_cache(maxsize=4096)(invoices.priced)
_description = lru_cache(maxsize=4096)(periods.description)


def _plan_rows(rows: list[Row], today: date, chosen: company.Billing, rates: tax.RateTable, plan: Plan) -> None:
    """Add to `plan` what the due services `rows` (by customer) bill; see the module's docstring."""
    skipped_customers: dict[int, str] = {}
    bills: dict[int, Bill] = {}
    for row in rows:
        if row.customer_status in SKIPPED_STATUSES:  # not billed: its due periods pass over (a one-off waits)
            skipped_customers[row.customer_id] = row.customer_status
            if row.billing_cycle != periods.ONE_OFF:
                plan.moves.append(Move(row.id, row.customer_id, row.next_billing_on, periods.due(
                    row.billing_cycle, row.next_billing_on, row.billing_day, row.started_on, row.ends_on, today,
                    chosen.pro_rata)[1]))
            continue
        if row.status == "cancelled" and not (chosen.pro_rata and row.ends_on is not None):
            plan.skipped[CANCELLED] += 1
            plan.moves.append(Move(row.id, row.customer_id, row.next_billing_on, None))
            continue
        found, nxt = periods.due(row.billing_cycle, row.next_billing_on, row.billing_day, row.started_on,
                                 row.ends_on, today, chosen.pro_rata)
        plan.moves.append(Move(row.id, row.customer_id, row.next_billing_on, nxt))
        if row.status == "suspended" and not chosen.bill_suspended:
            plan.skipped[SUSPENDED] += 1
            continue
        bill = bills.setdefault(row.customer_id, Bill(row.customer_id, row.customer_name, row.currency))
        charged = rates.charged(row.tax_exempt, row.special_rate_id, row.tax_rate_id)
        for period in found:
            net, tax_ = _priced(row.currency, period.quantity, row.price, charged.percent)
            line = Line(row.id, row.name, period, _description(row.name, row.billing_cycle, period),
                        period.quantity, row.price, row.tax_rate_id, charged.name, charged.percent, net, tax_)
            (bill.lines if net > 0 else bill.free).append(line)
    plan.bills.extend(bill for bill in bills.values() if bill.lines or bill.free)
    plan.skipped.update(Counter(skipped_customers.values()))
    if rows:
        plan.last_customer_id = max(plan.last_customer_id or 0, rows[-1].customer_id)


def plan(session: Session, today: date, actor=None, after_id: int | None = None, limit: int | None = 50) -> Plan:
    """What a run as at `today` would bill, for a page of customers (`limit` customers with services due
    after customer `after_id`, in id order; None: all of them) within `actor`'s scope (None: every
    customer): per customer its lines (service, period, amount), the totals per currency, the skipped
    counts. Reads only. Raises Forbidden for an actor who may neither post money nor read the preview."""
    if actor is not None:
        permissions.require(session, actor, POST_MONEY, PREVIEW, message="You may not see what billing would bill.")
    stmt = _due_customers(today, customer_scope(actor) if actor is not None else None)
    if after_id is not None:
        stmt = stmt.where(CustomerService.customer_id > after_id)
    if limit is not None:
        stmt = stmt.limit(max(1, min(int(limit), 1000)))
    ids = list(session.scalars(stmt))
    found = Plan(today)
    _plan_rows(_due_services(session, today, ids), today, company.billing(session), tax.RateTable(session), found)
    if ids:
        found.last_customer_id = ids[-1]
    return found


@dataclass(frozen=True)
class Summary:
    """The whole of what a run as at a day faces, counted in SQL (the preview's heading): customers to
    bill, their services due, and customers that will be skipped, by status."""

    customers: int
    services: int
    skipped: dict[str, int]


def summary(session: Session, today: date, actor=None) -> Summary:
    """Counts of what is due as at `today` within `actor`'s scope (None: every customer), by customer
    status: one grouped query over the due services (the partial index finds them). Raises Forbidden."""
    if actor is not None:
        permissions.require(session, actor, POST_MONEY, PREVIEW, message="You may not see what billing would bill.")
    stmt = (select(Customer.status, func.count(func.distinct(Customer.id)), func.count(CustomerService.id))
            .join(Customer, Customer.id == CustomerService.customer_id)
            .where(CustomerService.next_billing_on.is_not(None), CustomerService.next_billing_on <= today)
            .group_by(Customer.status))
    if actor is not None:
        stmt = stmt.where(customer_scope(actor))
    customers = services = 0
    skipped = {}
    for status, customer_count, service_count in session.execute(stmt):
        if status in SKIPPED_STATUSES:
            skipped[status] = customer_count
        else:
            customers, services = customers + customer_count, services + service_count
    return Summary(customers, services, skipped)


# --- the run -------------------------------------------------------------------------------------

def going(session: Session, reap=None) -> BillingRun | None:
    """The billing run in progress, if any: the newest "running" one whose job (when it has one) is still
    queued or running (`reap(job)` first, the caller's jobs.reap with its runner check: a job whose process
    died is marked failed), or, run by the daily job (no Job), started less than
    periodic.RUNNING_FOR_AT_MOST ago."""
    from app.services.periodic import RUNNING_FOR_AT_MOST
    for candidate in session.scalars(select(BillingRun).where(BillingRun.status == "running")
                                     .order_by(BillingRun.id.desc()).limit(5)):
        job = session.get(Job, candidate.job_id) if candidate.job_id is not None else None
        if job is not None:
            if reap is not None:
                job = reap(job)
            if job.status in ("queued", "running"):
                return candidate
        elif utcnow() - _aware(candidate.started_at) < RUNNING_FOR_AT_MOST:
            return candidate
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def start(session: Session, actor, today: date | None = None, form_key: str | None = None,
          reap=None) -> BillingRun:
    """Finance's "Bill due services now" (POST_MONEY): a billing run as at `today` (default: today) made
    visible in the job monitor (a Job linked to it by billing_run.job_id), committed, then queued.
    `form_key` (the confirmation's): claimed before anything is written, so the same form twice starts one
    run. Raises Forbidden (also to a user confined to a reseller: the run is the whole company's), RunGoing
    (a run is going: `going(reap)`), AlreadyDone (the key was used)."""
    from app.jobs import enqueue
    permissions.require(session, actor, POST_MONEY, message=FORBIDDEN)
    if is_scoped(actor):
        raise Forbidden(SCOPED)
    current = going(session, reap)
    if current is not None:
        raise RunGoing(current)
    if form_key is not None and not claim_form_key(session, form_key):
        raise AlreadyDone(ALREADY_STARTED)
    today = today or date.today()
    total = session.scalar(select(func.count()).select_from(_due_customers(today).subquery()))
    job = Job(action=ACTION, params={"today": today.isoformat()}, user_id=getattr(actor, "id", None),
              username=getattr(actor, "username", None), status="queued", total=total, result={})
    session.add(job)
    session.flush()
    billing_run = BillingRun(run_on=today, status="running", started_by=getattr(actor, "username", None),
                             issued=not company.billing(session).drafts, job_id=job.id)
    session.add(billing_run)
    commit(session)
    enqueue(tasks.run_billing, job.id, size=total)
    return billing_run


def run_job(session: Session, job: Job, config: dict, runner: str | None = None) -> BillingRun:
    """The worker's side of `start`: the run the job is linked to, carried out with progress on the job."""
    billing_run = session.scalar(select(BillingRun).where(BillingRun.job_id == job.id))
    actor = _user(session, job.user_id)
    return run(session, date.fromisoformat(job.params["today"]), job.username, config, actor=actor, job=job,
               runner=runner, billing_run=billing_run)


def _user(session: Session, user_id: int | None):
    from app.models import User
    return session.get(User, user_id) if user_id is not None else None


def run(session: Session, today: date, started_by: str | None, config: dict, *, actor=None, job: Job | None = None,
        runner: str | None = None, chunk: int = CHUNK, billing_run: BillingRun | None = None,
        lanes: int = LANES) -> BillingRun:
    """Bill every service due as at `today` (see the module's docstring), a chunk of customers a
    transaction, in `lanes` connections at once on PostgreSQL (one on SQLite); returns the run with its
    report. A failure is recorded on the run (status failed, the error; the chunks before it stay
    committed, and a run again goes on from there) and raised."""
    chosen = company.billing(session)
    if billing_run is None:
        billing_run = BillingRun(run_on=today, status="running", started_by=started_by, issued=not chosen.drafts)
        session.add(billing_run)
    # Started again after a failure, it goes on: its report so far stays.
    billing_run.status, billing_run.error, billing_run.finished_at = "running", None, None
    billing_run.totals, billing_run.skipped = billing_run.totals or {}, billing_run.skipped or {}
    session.commit()
    run_id = billing_run.id
    try:
        # Read once (the partial index finds them): a query per chunk would scan what is due again each time.
        due = list(session.scalars(_due_customers(today)))
        if job is not None:
            job.status, job.done, job.total = "running", 0, len(due)
            jobs.beat(job, runner)
        session.commit()  # the lanes read the run's and the job's rows afresh for each chunk's report
        chunks = [due[at:at + chunk] for at in range(0, len(due), chunk)]
        lane = partial(_Lane, run_id=run_id, today=today, chosen=chosen, config=config,
                       actor_id=getattr(actor, "id", None), started_by=started_by,
                       job_id=job.id if job is not None else None, runner=runner)
        if session.get_bind().dialect.name == "postgresql" and lanes > 1 and len(chunks) > 1:
            _in_lanes(session, lane, chunks, lanes)
        else:
            one = lane(session, turn=nullcontext())
            for ids in chunks:
                one.bill(ids)
        session.expire_all()
        billing_run = session.get(BillingRun, run_id)
        billing_run.status, billing_run.finished_at = "finished", utcnow()
        if job is not None:
            job.result = _report(billing_run)
            jobs.finish(session, job)
        session.commit()
    except Exception as e:
        session.rollback()
        failed = session.get(BillingRun, run_id)
        failed.status, failed.error, failed.finished_at = "failed", f"{type(e).__name__}: {e}"[:2000], utcnow()
        if job is not None:
            failed_job = session.get(Job, job.id)
            failed_job.status, failed_job.error = "failed", failed.error
        session.commit()
        raise
    return billing_run


def _in_lanes(session: Session, lane, chunks: list[list[int]], lanes: int) -> None:
    """Bill `chunks` in `lanes` threads, each with its own app context, session and connection, taking
    the next chunk as it is free. One lane writes (`turn`) while the others prepare: PostgreSQL writes
    one chunk while Python builds the next. The first failure stops the others after their chunk
    (each chunk is a transaction of its own) and is raised."""
    app = current_app._get_current_object()
    who = audit.actor_of(session)  # the run's actor in every lane's audit entries
    pending, taken, turn = iter(chunks), threading.Lock(), threading.Lock()
    stop, failures = threading.Event(), []

    def work():
        with app.app_context():
            db.session.info["actor"] = who
            try:
                mine = lane(db.session, turn=turn)
                while not stop.is_set():
                    with taken:
                        ids = next(pending, None)
                    if ids is None:
                        return
                    mine.bill(ids)
            except BaseException as e:  # noqa: BLE001  raised by the run once every lane has stopped
                failures.append(e)  # (its chunk rolled back; the app context's end closes its session)
                stop.set()
    threads = [threading.Thread(target=work, name=f"billing-lane-{n}", daemon=True) for n in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


class _Lane:
    """A connection's share of a run: each chunk of customers prepared (_prepare: locked, planned,
    services moved on, the invoices' rows built) and then, under `turn` (the lanes' write turn; the
    invoice numbers' row lock would make them take turns anyway), written (_write), added to the run's
    report and the job's progress (both read afresh: the other lanes' chunks are in them) and committed;
    its e-mails queued after the commit."""

    def __init__(self, session: Session, *, turn, run_id: int, today: date, chosen: company.Billing, config: dict,
                 actor_id: int | None, started_by: str | None, job_id: int | None, runner: str | None):
        self.session, self.turn, self.run_id, self.today, self.chosen = session, turn, run_id, today, chosen
        self.config, self.started_by, self.job_id, self.runner = config, started_by, job_id, runner
        self.actor = _user(session, actor_id)
        self.fx_rates = fx.IssuedRates(session, today)  # each currency's global rate read once a lane

    def bill(self, ids: list[int]) -> None:
        session = self.session
        try:
            queued = self._bill(ids)
        except (IntegrityError, session.get_bind().dialect.dbapi.IntegrityError):  # (COPY's: the driver's)
            # A period of the chunk claimed meanwhile (by a writer that did not hold the customers'
            # lock): nothing of the chunk was written (_bill rolled it back); read again, it leaves that
            # period out.
            queued = self._bill(ids)
        tasks.queue_delivery(queued)

    def _bill(self, ids: list[int]) -> list[int]:
        session = self.session
        try:
            ready = _prepare(session, ids, self.today, self.chosen, self.actor, self.fx_rates)
            with self.turn:
                billing_run = session.get(BillingRun, self.run_id, populate_existing=True)
                queued = _write(session, billing_run, ready, self.chosen, self.config, self.actor, self.started_by)
                if self.job_id is not None:
                    job = session.get(Job, self.job_id, populate_existing=True)
                    job.done += len(ids)
                    job.result = _report(billing_run)
                    jobs.beat(job, self.runner, done_through=ids[-1])
                session.commit()
        except BaseException:
            session.rollback()
            raise
        return queued


def _report(billing_run: BillingRun) -> dict:
    return {"invoices": billing_run.invoices, "lines": billing_run.lines, "totals": dict(billing_run.totals or {}),
            "skipped": dict(billing_run.skipped or {}), "changed": billing_run.invoices}


@dataclass
class _Ready:
    """A chunk prepared in its transaction (customers locked, services moved on, issued invoices' ledger
    entries posted), waiting to be written: what is due (`found`), the bills without the periods billed
    before, the invoices' rows (numbers not yet taken) and their ids (drawn), the customers as read."""

    found: Plan
    bills: list[Bill]
    rows: list[dict]
    invoice_ids: list[int]
    customers: dict[int, Row]


def _prepare(session: Session, ids: list[int], today: date, chosen: company.Billing, actor,
             fx_rates: fx.IssuedRates) -> _Ready:
    """The part of a chunk that takes no invoice number (see the module's docstring; not committed)."""
    ledger.lock_many(session, ids)  # first: a run at the same moment waits here, then finds nothing due
    found = Plan(today)
    _plan_rows(_due_services(session, today, ids), today, chosen, tax.RateTable(session), found)
    billed_before = _billed_before(session, found.bills)
    bills = [_unbilled_part(bill, billed_before) for bill in found.bills]
    billed_services = {line.service_id for bill in bills for line in bill.lines + bill.free}
    # A service moves on when its periods are billed here, or when it had none to bill (passed over).
    planned = {line.service_id for bill in found.bills for line in bill.lines + bill.free}
    _move(session, [m for m in found.moves if m.service_id in billed_services or m.service_id not in planned])
    customers, rows = _invoice_rows(session, [bill for bill in bills if bill.lines], today, chosen, actor, fx_rates)
    invoice_ids = _new_ids(session, Invoice.__table__, len(rows))
    if not chosen.drafts:  # the postings name their invoices by the ids drawn: both are written in this transaction
        actor_id = getattr(actor, "id", None)
        ledger.post_many(session, [ledger.Posting(row["customer_id"], row["currency"], row["total"], "invoice",
                                                  "invoice", invoice_id, today, actor_id)
                                   for invoice_id, row in zip(invoice_ids, rows)])
    return _Ready(found, bills, rows, invoice_ids, customers)


def _write(session: Session, billing_run: BillingRun, ready: _Ready, chosen: company.Billing, config: dict, actor,
           started_by: str | None) -> list[int]:
    """Write a prepared chunk (not committed): its invoices with their numbers, lines, claims, credit used,
    audit entries, e-mails; adds to the run's report. Returns the ids of the e-mails written queued."""
    bills = ready.bills
    written, links = _write_invoices(session, billing_run, [bill for bill in bills if bill.lines], ready.rows,
                                     ready.invoice_ids, ready.customers, chosen, actor)
    _claim(session, billing_run.id, bills, links)
    bills = [bill for bill in bills if bill.lines]
    queued = _email(session, written, config, started_by) if chosen.email and not chosen.drafts else []
    skipped = Counter(billing_run.skipped or {})
    skipped.update(ready.found.skipped)
    skipped[NO_ADDRESS] += sum(1 for _, message_id in queued if message_id is None)
    totals = {k: Decimal(v) for k, v in (billing_run.totals or {}).items()}
    for bill in bills:
        totals[bill.currency] = totals.get(bill.currency, ZERO) + bill.total
    billing_run.invoices += len(bills)
    billing_run.lines += sum(len(bill.lines) for bill in bills)
    billing_run.totals = {k: str(v) for k, v in sorted(totals.items())}
    billing_run.skipped = {k: v for k, v in sorted(skipped.items()) if v}
    return [message_id for status, message_id in queued if status == "queued"]


def _billed_before(session: Session, bills: list[Bill]) -> set[tuple[int, date]]:
    """The (service id, period start) of `bills`' periods that a run already billed: their service_period
    rows, each key looked up in the unique key's index (the chunk's customers are locked, and only a run
    that holds them writes their periods, so none can be added before this transaction claims the rest)."""
    keys = sorted({(line.service_id, line.period.starts_on) for bill in bills for line in bill.lines + bill.free})
    if not keys:
        return set()
    table = ServicePeriod.__table__
    if session.get_bind().dialect.name == "postgresql":
        # A join to the keys themselves (unnest() of an array a column): an index probe each, however
        # few rows the table's statistics say it has early in a run.
        listed = func.unnest(array_param("a_sid", [k[0] for k in keys], Integer()),
                             array_param("a_start", [k[1] for k in keys], Date())) \
            .table_valued(column("sid", Integer()), column("start", Date())).render_derived(name="k")
        stmt = select(table.c.service_id, table.c.starts_on).join(
            listed, (table.c.service_id == listed.c.sid) & (table.c.starts_on == listed.c.start))
    else:
        stmt = select(table.c.service_id, table.c.starts_on).where(
            table.c.service_id.in_({k[0] for k in keys}), table.c.starts_on >= min(k[1] for k in keys))
    return {(sid, _day(start)) for sid, start in session.execute(stmt)} & set(keys)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _unbilled_part(bill: Bill, billed_before: set) -> Bill:
    return Bill(bill.customer_id, bill.name, bill.currency,
                [line for line in bill.lines if (line.service_id, line.period.starts_on) not in billed_before],
                [line for line in bill.free if (line.service_id, line.period.starts_on) not in billed_before])


def _claim(session: Session, run_id: int, bills: list[Bill], links: dict[tuple[int, date], tuple[int, int]]) -> None:
    """Claim every period of `bills` (none billed before: _billed_before), each with the invoice line
    that bills it (`links`; a free period has none): one insert of them all, COPY on PostgreSQL. The
    unique (service, start) key stands behind it: a period claimed twice fails the chunk, nothing of it
    written."""
    now = utcnow()
    rows = []
    for bill in bills:
        for line in bill.lines + bill.free:
            key = (line.service_id, line.period.starts_on)
            invoice_id, line_id = links.get(key, (None, None))
            rows.append({"service_id": line.service_id, "starts_on": line.period.starts_on,
                         "ends_on": line.period.ends_on, "amount": line.net, "invoice_id": invoice_id,
                         "invoice_line_id": line_id, "run_id": run_id, "created_at": now})
    insert_rows(session, ServicePeriod.__table__, rows)


def _move(session: Session, moves: list[Move]) -> None:
    """Each service's next billing date moved on (guarded by its old value), audited."""
    if not moves:
        return
    table = CustomerService.__table__
    update_from_rows(session, table, {"sid": Integer(), "old": Date(), "new": Date()},
                     [(m.service_id, m.old, m.new) for m in moves], lambda v: {"next_billing_on": v.c.new},
                     lambda v: (table.c.id == v.c.sid) & (table.c.next_billing_on == v.c.old))
    changes: dict[tuple, dict] = {}  # one object a move (the chunk's few): its JSON is written once (copy_rows)
    for m in moves:
        if (m.old, m.new) not in changes:
            changes[m.old, m.new] = {"next_billing_on": [m.old.isoformat(), m.new.isoformat() if m.new else None]}
    audit.record(session, "service", "update", [(m.service_id, m.customer_id, changes[m.old, m.new]) for m in moves])


def _new_ids(session: Session, table, count: int) -> list[int]:
    """`count` ids for rows of `table` this transaction writes: PostgreSQL's drawn from its sequence;
    SQLite's those after the largest (its one writer holds the database from the chunk's first write,
    lock_many, to the commit)."""
    if not count:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(session.scalars(select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
                                    .select_from(func.generate_series(1, count))))
    first = (session.scalar(select(func.max(table.c.id))) or 0) + 1
    return list(range(first, first + count))


def _insert_with_ids(session: Session, table, rows: list[dict]) -> list[int]:
    """Insert `rows` (COPY on PostgreSQL) with ids drawn first (_new_ids); their ids in order."""
    ids = _new_ids(session, table, len(rows))
    insert_rows(session, table, [{"id": i, **row} for i, row in zip(ids, rows)])
    return ids


@dataclass
class Written:
    """An invoice the run wrote, for its e-mail: its customer as read (_customers) and its row."""

    invoice_id: int
    customer: Row
    invoice: SimpleNamespace


# What a run reads of its customers (plain rows, not ORM objects): what their invoices' addresses
# (address_format.TAGS' customer fields, the format, the addressee), due dates, credit and e-mails need.
_CUSTOMER_COLUMNS = (Customer.id, Customer.name, Customer.title, Customer.first_name, Customer.surname,
                     Customer.company_name, Customer.email, Customer.phone, Customer.mobile, Customer.status,
                     Customer.service_email, Customer.currency, Customer.reseller_id, Customer.creditor_days,
                     Customer.use_credit, Customer.invoice_address_id, Customer.invoice_address_format)


def _customers(session: Session, ids: list[int]) -> dict[int, Row]:
    return {row.id: row for row in session.execute(select(*_CUSTOMER_COLUMNS).where(in_ids(session, Customer.id, ids)))}


def _invoice_rows(session: Session, bills: list[Bill], today: date, chosen: company.Billing, actor,
                  fx_rates: fx.IssuedRates) -> tuple[dict[int, Row], list[dict]]:
    """The chunk's customers as read and its invoices' rows, numbers not taken yet (issued ones: their
    billing address as rendered now and the rate to the base currency)."""
    if not bills:
        return {}, []
    customers = _customers(session, [b.customer_id for b in bills])
    issue = not chosen.drafts
    now, actor_id = utcnow(), getattr(actor, "id", None)
    made_out_to = invoices.addressees(session, list(customers.values())) if issue else {}
    addresses = invoices.billing_addresses(session, list(customers.values()), made_out_to) if issue else {}
    if issue:
        fx_rates.with_own(customers)
    issued_at = datetime.now(timezone.utc)
    rows = []
    for bill in bills:
        customer = customers[bill.customer_id]
        row = {"customer_id": bill.customer_id, "currency": bill.currency, "number": None,
               "status": "issued" if issue else "draft", "issue_date": today,
               "due_date": invoices.due_date_default(session, customer, today), "notes": None,
               "billing_address": None, "invoice_address_id": None, "outstanding": bill.total if issue else ZERO,
               "disputed": False, "issued_at": None, "voided_at": None, "void_reason": None, "fx_rate": None,
               "fx_rate_on": None, "created_by_id": actor_id, "created_at": now, "net_total": bill.net_total,
               "tax_total": bill.tax_total, "total": bill.total}
        if issue:
            row["billing_address"] = addresses[customer.id]
            row["invoice_address_id"] = made_out_to[customer.id].id if customer.id in made_out_to else None
            row["issued_at"] = issued_at
            row["fx_rate"], row["fx_rate_on"] = fx_rates.of(bill.currency, customer.id)
        rows.append(row)
    return customers, rows


def _write_invoices(session: Session, billing_run: BillingRun, bills: list[Bill], rows: list[dict],
                    invoice_ids: list[int], customers: dict[int, Row], chosen: company.Billing,
                    actor) -> tuple[list[Written], dict]:
    """The chunk's invoices (`rows`, given their numbers here: as late as can be, for the numbers' row
    lock is held to the commit), lines, credit used and audit entries (not committed): the invoices
    written (issued ones only) and {(service id, period start): (invoice id, line id)} for the claims."""
    if not bills:
        return [], {}
    issue = not chosen.drafts
    if issue:
        for row, number in zip(rows, invoices.next_numbers(session, len(bills))):
            row["number"] = number
    insert_rows(session, Invoice.__table__, [{"id": invoice_id, **row} for invoice_id, row in zip(invoice_ids, rows)])
    line_rows, line_keys = [], []
    for bill, invoice_id in zip(bills, invoice_ids):
        for position, line in enumerate(bill.lines):
            line_rows.append({"invoice_id": invoice_id, "position": position, "description": line.description[:500],
                              "category": "other", "quantity": line.quantity, "unit_price": line.unit_price,
                              "tax_rate_id": line.tax_rate_id, "tax_name": line.tax_name,
                              "tax_percent": line.tax_percent, "net": line.net, "tax": line.tax})
            line_keys.append(((line.service_id, line.period.starts_on), invoice_id))
    line_ids = _insert_with_ids(session, InvoiceLine.__table__, line_rows)
    links = {key: (invoice_id, line_id) for (key, invoice_id), line_id in zip(line_keys, line_ids)}
    audit.record(session, "invoice", "create", [
        (invoice_id, row["customer_id"], _created(row, billing_run.id)) for invoice_id, row in zip(invoice_ids, rows)])
    if not issue:
        return [], links
    written = [Written(invoice_id, customers[row["customer_id"]], SimpleNamespace(**row))
               for invoice_id, row in zip(invoice_ids, rows)]
    _use_credit(session, actor, written)
    return written, links


_NOT_AUDITED = frozenset(("created_at", "issued_at", "billing_address"))
_AS_IS = (str, int, bool)  # values the audit records as they are (audit._plain: the others as text)


def _created(row: dict, run_id: int) -> dict:
    """An invoice's creation as the audit hook records one (its fields set), and the run that made it."""
    out = {k: [None, v if type(v) in _AS_IS else audit._plain(v)] for k, v in row.items()
           if v is not None and k not in _NOT_AUDITED}
    out["billing_run_id"] = [None, run_id]
    return out


def _use_credit(session: Session, actor, written: list[Written]) -> None:
    """Pay the new invoices of customers whose setting is "automatic" and who have account credit from it
    (allocation.use_credit_on_issue: oldest credit first, dated the issue date)."""
    default = allocation.use_credit(session, SimpleNamespace(use_credit=None))
    automatic = [w for w in written if (w.customer.use_credit if w.customer.use_credit in USE_CREDIT else default)
                 == "automatic"]
    if not automatic:
        return
    with_credit = set(session.scalars(select(Payment.customer_id).distinct().where(
        in_ids(session, Payment.customer_id, [w.customer.id for w in automatic]), Payment.unallocated > 0,
        Payment.kind != "write_off")))
    for item in automatic:
        if item.customer.id not in with_credit:
            continue
        invoice = session.get(Invoice, item.invoice_id)
        allocation.use_credit_on_issue(session, actor, session.get(Customer, item.customer.id), invoice)
        session.flush()
        item.invoice.status, item.invoice.outstanding = invoice.status, invoice.outstanding


def _recipients(session: Session, customers: list[Row]) -> dict[int, tuple[str, str, int | None, bool]]:
    """Where each customer's invoice e-mail goes, as the invoice's e-mail form offers first: the customer's
    own address, else its contacts' (the primary first): (address, name, contact id, allows service e-mail)."""
    out = {c.id: (c.email, c.name, None, c.service_email) for c in customers if c.email}
    missing = [c.id for c in customers if not c.email]
    if missing:
        names = {c.id: c.name for c in customers}
        for contact in session.scalars(select(Contact).where(in_ids(session, Contact.customer_id, missing),
                                                             Contact.email.is_not(None), Contact.email != "")
                                       .order_by(Contact.customer_id, Contact.is_primary.desc(), Contact.id)
                                       .options(lazyload("*"))):
            if contact.customer_id not in out:
                name = " ".join(p for p in (contact.first_name, contact.surname) if p) or names[contact.customer_id]
                out[contact.customer_id] = (contact.email, name, contact.id, contact.service_email)
    return out


def _email(session: Session, written: list[Written], config: dict, started_by: str | None) -> list[tuple]:
    """One e-mail per issued invoice (multi-row insert), the PDF left to delivery (attach_invoice_id);
    skipped with the reason when preferences say so. (status, message id) per invoice: (None, None) for
    a customer with no address (nothing written)."""
    if not written:
        return []
    name = company.letterhead(session, config).name
    found = _recipients(session, [w.customer for w in written])
    now, rows, out = utcnow(), [], []
    for item in written:
        to = found.get(item.customer.id)
        if to is None:
            out.append((None, None))
            continue
        address, recipient_name, contact_id, allows = to
        reason = skip_reason(item.customer.status, allows, "email", "service", address)
        words = documents.invoice_words(item.invoice, name)
        rows.append({"customer_id": item.customer.id, "contact_id": contact_id, "channel": "email",
                     "purpose": "service", "kind": "message", "direction": "out", "recipient": address,
                     "recipient_name": recipient_name[:250], "subject": words["subject"], "body": words["body"],
                     "status": "skipped" if reason else "queued", "skip_reason": reason, "attempts": 0,
                     "created_by": started_by or SENDER, "created_at": now, "due_at": now,
                     "attach_invoice_id": item.invoice_id})
    ids = _insert_with_ids(session, Message.__table__, rows)
    return out + [(row["status"], message_id) for row, message_id in zip(rows, ids)]


def latest_runs(session: Session, limit: int = 20) -> list[BillingRun]:
    """The newest billing runs, for their reports."""
    return list(session.scalars(select(BillingRun).order_by(BillingRun.id.desc()).limit(limit)))


def status_of(run: BillingRun, job_status: str | None) -> str:
    """A run's status as it stands: "stopped" for one still marked running whose job failed (its process
    died, or it raised), else its own."""
    return "stopped" if run.status == "running" and job_status == "failed" else run.status


def _restart(job_id: int) -> None:
    from app.jobs import enqueue
    enqueue(tasks.run_billing, job_id)


jobs.register(ACTION, LABEL, restart=_restart, grants=(POST_MONEY,), done_word="billed")
