"""Suspension for late payment (issue 16): what the daily payment-reminder run does after its reminders.

**Suspended.** A customer is disabled for late payment when, in its open overdue episode
(`reminder_state`, services/billing/reminders.py), the final active reminder step was sent at least the
company's grace period ago (`company_settings.suspend_grace_days`; empty: nobody is suspended
automatically, so an installation suspends no one until an admin sets it; 0: on the day the final step
goes), its net overdue is still above the minimum (the episode is open), it is active, its billing
settings do not say "do not suspend for late payment" (`customer.do_not_suspend`), suspension is not
postponed (`suspension_postponed_until` after today) and the episode is not on hold. It is disabled
through the status service (customers/status.py `move`): its active services are suspended as by any
disable, and every change is audited (the profile's Changes). `reminder_state.suspended_on` records that
the run did it (the audit entry says "late payment"). Invoicing goes on while a customer is disabled:
nothing in billing looks at the customer's status.

**Re-enabled.** When the episode ends (net overdue at or under the minimum: paid, credited, disputed) a
customer the run suspended is enabled through the status service, which restores the services its
disable suspended. A customer disabled by hand, or for another reason, is never touched.

**On hold.** Any status change by hand of a customer the run suspended (an admin enables it, archives
it...) hands the suspension over to the admin: the status service (`late_payment_taken_over`, called by
every status change) clears `suspended_on` and puts the episode on hold (`suspension_held`), so paying up
does not re-enable it and the run does not suspend it again until a new episode starts. Hooking the
status service rather than only looking at the next run keeps "hand enabled, then disabled again by hand"
from looking like the run's own suspension; the run still checks, as a backstop, for a customer it
suspended that is no longer disabled (a change made outside the services) and puts it on hold too.

**Postponed.** An admin (POST_MONEY) may postpone suspension until a date (`postpone`, audited): the run
does not suspend the customer before it. A postponement is a date, not an episode's: it ends by itself.
Postponing does not re-enable a customer already suspended (enabling by hand does, and holds the episode).
"""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.models import CompanySettings, Customer
from app.models.reminders import ReminderState, ReminderStep
from app.services import audit, fields, permissions
from app.services.billing import POST_MONEY
from app.services.customers import status
from app.services.db import commit, in_ids
from app.services.errors import FieldErrors
from app.services.scope import get_customer

CHUNK = 500  # customers changed together
REASON = "late payment"


def grace_days(session: Session) -> int | None:
    """The company's grace period after the final step, in days (None: no automatic suspension)."""
    row = session.get(CompanySettings, 1)
    return row.suspend_grace_days if row is not None else None


def final_step(session: Session) -> int | None:
    """The position of the last active reminder step (None: no steps, so no suspension)."""
    return session.scalar(select(func.max(ReminderStep.position)).where(ReminderStep.active.is_(True)))


# --- the run -------------------------------------------------------------------------------------

def run(session: Session, today: date, overdue_ids: set[int]) -> dict:
    """After the reminders of the run as at `today` (its episodes already ended and opened;
    `overdue_ids`: the customers whose net overdue is above the minimum): hold what was changed by hand,
    re-enable the customers the run suspended whose episode ended, and suspend those due (see the module's
    docstring). Committed. Returns counts; a second run the same day changes nothing."""
    counts = {"suspension taken over": _taken_over_outside(session),
              "re-enabled": _re_enable(session),
              "suspended": _suspend(session, today, overdue_ids)}
    commit(session)
    return counts


def _taken_over_outside(session: Session) -> int:
    """The backstop: customers the run suspended that are no longer disabled (changed outside the status
    service) go on hold as a hand change through it would have put them."""
    ids = list(session.scalars(select(ReminderState.customer_id)
                               .join(Customer, Customer.id == ReminderState.customer_id)
                               .where(ReminderState.suspended_on.is_not(None), Customer.status != "disabled")))
    status.late_payment_taken_over(session, ids)
    return len(ids)


def _re_enable(session: Session) -> int:
    """Enable the customers the run suspended whose episode has ended (status service: their services
    restored); their state is cleared first, so the status service does not take it for a hand change."""
    rows = session.execute(select(ReminderState.customer_id, ReminderState.suspended_on)
                           .where(ReminderState.suspended_on.is_not(None),
                                  ReminderState.episode_started_on.is_(None))
                           .order_by(ReminderState.customer_id)).all()
    enabled = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        ids = [r.customer_id for r in chunk]
        session.execute(update(ReminderState).where(in_ids(session, ReminderState.customer_id, ids))
                        .values(suspended_on=None).execution_options(synchronize_session=False))
        audit.record(session, "reminder_state", "update", [(r.customer_id, r.customer_id, {
            "suspended_on": [r.suspended_on.isoformat(), None], "reason": [REASON, "paid up"]}) for r in chunk])
        enabled += len(status.move(session, ids, "active", {"disabled"}))
    return enabled


def _suspend(session: Session, today: date, overdue_ids: set[int]) -> int:
    """Disable the customers due for suspension as at `today` (status service: their services suspended)
    and mark them suspended by the run."""
    grace, final = grace_days(session), final_step(session)
    if grace is None or final is None:
        return 0
    due = [cid for cid in session.scalars(
        select(ReminderState.customer_id).join(Customer, Customer.id == ReminderState.customer_id)
        .where(ReminderState.episode_started_on.is_not(None), ReminderState.last_step >= final,
               ReminderState.last_sent_on <= today - timedelta(days=grace),
               ReminderState.suspended_on.is_(None), ReminderState.suspension_held.is_(False),
               or_(ReminderState.suspension_postponed_until.is_(None),
                   ReminderState.suspension_postponed_until <= today),
               Customer.status == "active", Customer.do_not_suspend.is_(False))
        .order_by(ReminderState.customer_id)) if cid in overdue_ids]
    suspended = 0
    for start in range(0, len(due), CHUNK):
        # `move` re-checks each status as it changes it: one changed by hand meanwhile is left alone.
        moved = status.move(session, due[start:start + CHUNK], "disabled", {"active"})
        if moved:
            session.execute(update(ReminderState).where(in_ids(session, ReminderState.customer_id, moved))
                            .values(suspended_on=today).execution_options(synchronize_session=False))
            change = {"suspended_on": [None, today.isoformat()], "reason": [None, REASON]}
            audit.record(session, "reminder_state", "update", [(cid, cid, change) for cid in moved])
        suspended += len(moved)
    return suspended


# --- an admin's command --------------------------------------------------------------------------

def postpone(session: Session, actor, customer_id, until, today: date | None = None) -> ReminderState:
    """Postpone the customer's suspension for late payment until `until` (a date, today or later; empty:
    no postponement any more), POST_MONEY, audited, committed: the run does not suspend it before that
    day. Raises Forbidden, NotFound (missing or out of scope), Invalid ("suspension_postponed_until")."""
    permissions.require(session, actor, POST_MONEY,
                        message="Only Finance and Admin may postpone a suspension for late payment.")
    customer = get_customer(session, actor, customer_id)
    today = today or date.today()
    errors = FieldErrors()
    day = until if isinstance(until, date) else fields.a_date(errors, "suspension_postponed_until", until)
    if day is not None and day < today:
        errors.add("suspension_postponed_until", "The suspension cannot be postponed to a day in the past.")
    errors.raise_if_any()
    state = session.get(ReminderState, customer.id)
    if state is None:
        state = ReminderState(customer_id=customer.id, episode=0, next_moved=False, suspension_held=False)
        session.add(state)
    old = state.suspension_postponed_until
    if old != day:
        state.suspension_postponed_until = day
        session.flush()
        audit.record(session, "reminder_state", "update", [(customer.id, customer.id, {
            "suspension_postponed_until": [old.isoformat() if old else None, day.isoformat() if day else None]})])
    commit(session)
    return state


# --- for the Finances tab ------------------------------------------------------------------------

@dataclass(frozen=True)
class LatePayment:
    """A customer's payment reminders and suspension for late payment now, for its Finances tab."""
    episode: int | None  # the open overdue episode's number (None: not overdue above the minimum now)
    episode_started_on: date | None
    last_step: int | None  # the position of the last step sent in the episode
    last_sent_on: date | None
    next_reminder_on: date | None
    next_moved: bool  # an admin moved the next reminder's date
    suspended_on: date | None  # suspended for late payment by the run since (None: not by the run)
    postponed_until: date | None  # suspension postponed until (only a date today or later)
    on_hold: bool  # an admin took this episode's suspension over: not suspended again in it
    do_not_suspend: bool  # the customer's billing settings
    suspends_on: date | None  # when the run would suspend it, as things stand (None: it would not)


def standing(session: Session, actor, customer_id, today: date | None = None) -> LatePayment:
    """The customer's reminder episode and suspension for late payment (LatePayment) as at `today`, for its
    Finances tab; read only. Raises NotFound (missing or out of scope)."""
    customer = get_customer(session, actor, customer_id)
    today = today or date.today()
    state = session.get(ReminderState, customer.id)
    if state is None:
        return LatePayment(None, None, None, None, None, False, None, None, False, customer.do_not_suspend, None)
    open_ = state.episode_started_on is not None
    postponed = state.suspension_postponed_until if state.suspension_postponed_until and \
        state.suspension_postponed_until >= today else None
    return LatePayment(
        state.episode if open_ else None, state.episode_started_on, state.last_step if open_ else None,
        state.last_sent_on if open_ else None, state.next_reminder_on if open_ else None, bool(state.next_moved),
        state.suspended_on, postponed, bool(state.suspension_held) and open_, customer.do_not_suspend,
        _suspends_on(session, customer, state, postponed) if open_ else None)


def _suspends_on(session: Session, customer: Customer, state: ReminderState, postponed: date | None) -> date | None:
    """The first run date on which `_suspend` would take this customer, as things stand."""
    grace, final = grace_days(session), final_step(session)
    if grace is None or final is None or state.last_step is None or state.last_step < final \
            or state.suspended_on is not None or state.suspension_held or customer.do_not_suspend \
            or customer.status != "active":
        return None
    return max(state.last_sent_on + timedelta(days=grace), postponed or state.last_sent_on)
