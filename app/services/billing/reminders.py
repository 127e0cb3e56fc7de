"""Payment reminders (dunning, issue 16): who is overdue, which reminder step is due, and sending it once.

**Net overdue** (as at `today`, from today's stored figures: `invoice.outstanding` and
`payment.unallocated`, which the allocations keep): the outstanding of the customer's counted invoices
less its unallocated account credit (sources received on or before today). An invoice counts when it is
issued or part-paid, issued on or before today, not disputed (`invoice.disputed`: the per-invoice pause),
and past its due date (its issue date when it has none). A voided, paid or disputed invoice never counts.
When a step is set BEFORE the due date (negative days, "your invoice is due in 3 days"), invoices that
fall due within that many days count too, so the reminder has something to say. Balance adjustments
are neither invoices nor credit and are left out.

**The minimum** (`company_settings.reminder_minimum`, empty: 0) is in the base currency. A customer is
reminded only when its net overdue is ABOVE it. For a customer in another currency the minimum is
converted at the global FX rate of the run's date (fx.rate, one look-up per currency, not the customer's
own rate: a threshold, not a price) and rounded to that currency; where no rate is known the minimum is
taken as 0 in that currency (its debts are reminded rather than silently never).

**Episodes.** A customer's overdue episode begins on the first run that finds its net overdue above the
minimum and ends on the first run that finds it at or under (paid, credited, disputed, voided): the
next one starts over from the first step. `reminder_state` keeps the episode (a counter), the last step
sent in it and when, and the next reminder's date. Every reminder is a `payment_reminder` row keyed
(customer, episode, step), unique: a race, a re-run, a hand send and the run together write it once.

**Which step.** A step is due when the oldest counted invoice is at least its `days` past its due date.
A run sends only the highest step due and not yet sent in the episode: a second run the same day sends
nothing, and catching up after downtime sends one reminder (the highest due), not one per missed day.
The next reminder date is the next step's date by that rule; an admin may move it (`move_next_reminder`,
audited): a moved date holds every reminder until it, and on it the step after the last one sent goes
even if the schedule would wait longer.

**Who is reminded automatically**: customers whose payment reminders (their own, else the company's
default) are "automatic", not dormant, blocked or archived, whose reminder e-mail would go: the primary
contact (else the customer) allows service e-mail and has an address. The others with a net overdue
above the minimum are the "Overdue, not reminded" list (`not_reminded`), each with its reason. An admin
may send one by hand (`send_by_hand`) to a manual or "off" customer; to a dormant, blocked or archived one
only when they confirm it goes despite the status (its messages marked `sent_despite_status`, which
delivery honours for the status alone; the audit entry names the status overridden). Opt-outs and a
missing address are still respected.
A step's text goes too when the step has one and the recipient has a mobile and allows service texts.

Each reminder writes, in one transaction per chunk of customers (a few multi-row statements a chunk: the
key rows INSERT ... ON CONFLICT DO NOTHING, the messages, the states, the audit entries): its key row, its
messages (kind "notification": the customer's notification log), the e-mail marked to carry the statement
as at the run's date on a step that attaches it (`message.attach_statement_on`: its delivery renders and
attaches the PDF, once), the state, and an audit entry (the customer's Changes); delivery is queued after
the commit.

After the reminders, the same run suspends for late payment (services/billing/suspension.py): it reads
the same episode (`reminder_state`) and the last step sent; a new episode takes the last one's hold off.
"""
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, bindparam, case, func, insert, literal, not_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from app.jobs import tasks
from app.models import CompanySettings, Contact, Customer, Invoice, Message, Payment
from app.models.reminders import PaymentReminder, ReminderState, ReminderStep
from app.models.resellers import utcnow
from app.services import audit, fields, money, permissions
from app.services.billing import POST_MONEY, suspension
from app.services.billing.billing_settings import DEFAULT_REMINDERS
from app.services.db import commit, in_ids, insert_rows
from app.services.errors import AlreadyDone, FieldErrors, Invalid
from app.services.forms import claim_form_key
from app.services.messages import outbox, placeholders
from app.services.messages.preferences import skip_reason
from app.services.scope import customer_scope, get_customer
from app.services.settings import settings

CHUNK = 500  # customers written (and committed) together
SENDER = "payment reminders"  # created_by of the run's messages
# Why an overdue customer is not reminded automatically (the "Overdue, not reminded" list).
REASONS = {"archived": "Archived", "blocked": "Blocked", "dormant": "Dormant", "off": "Reminders off",
           "manual": "Reminders manual", "opted out": "Opted out of service e-mail", "no address": "No e-mail address"}
STATUS_REASONS = ("archived", "blocked", "dormant")
EMAIL = {"channel": "email", "purpose": "service", "recipients": "primary"}
NOTHING_OVERDUE = "Nothing on this customer's account is overdue."


@dataclass(frozen=True)
class Step:
    position: int
    days: int
    subject: str
    body: str
    sms_body: str | None
    attach_statement: bool


@dataclass(frozen=True)
class Overdue:
    """A customer whose net overdue is above the minimum, as the selection finds it."""
    customer_id: int
    name: str
    currency: str
    net_overdue: Decimal
    oldest_due: date
    reason: str | None  # None: reminded automatically; else a key of REASONS
    episode: int | None = None  # its reminder_state, when it has one
    episode_started_on: date | None = None
    last_step: int | None = None
    next_reminder_on: date | None = None
    next_moved: bool = False


def steps(session: Session) -> list[Step]:
    """The active steps in order."""
    return [Step(s.position, s.days, s.subject, s.body, s.sms_body, s.attach_statement) for s in session.scalars(
        select(ReminderStep).where(ReminderStep.active.is_(True)).order_by(ReminderStep.position))]


def due_step(active: list[Step], days_overdue: int) -> Step | None:
    """The highest step due when the oldest counted invoice is `days_overdue` days past due."""
    due = [s for s in active if s.days <= days_overdue]
    return due[-1] if due else None


def following(active: list[Step], position: int | None) -> Step | None:
    """The step after `position` (the first when None)."""
    return next((s for s in active if position is None or s.position > position), None)


def _horizon(active: list[Step]) -> int:
    """The fewest days past its due date at which an invoice counts: 1 (overdue), or earlier when a step
    is set before the due date."""
    return min([1] + [s.days for s in active])


def _minimums(session: Session, today: date) -> tuple[Decimal, dict[str, Decimal]]:
    """The minimum in the base currency, and in each other currency customers use (see the docstring)."""
    from app.services.billing import fx
    row = session.get(CompanySettings, 1)
    minimum = (row and row.reminder_minimum) or Decimal(0)
    base = settings.base_currency
    out = {}
    if minimum:
        for currency in session.scalars(select(Customer.currency).where(Customer.currency != base).distinct()):
            try:
                out[currency] = money.quantize(minimum * fx.rate(session, base, currency, today).rate, currency)
            except Invalid:
                out[currency] = Decimal(0)
    return minimum, out


def _default_mode(session: Session) -> str:
    row = session.get(CompanySettings, 1)
    return (row and row.default_payment_reminders) or DEFAULT_REMINDERS


def _selection(session: Session, today: date, active: list[Step], minimum_check: bool = True):
    """One SELECT: each customer with counted invoices, its net overdue, oldest due date, the reason it is
    not reminded automatically (NULL: it is) and its reminder state; net overdue above the minimum."""
    due_day = func.coalesce(Invoice.due_date, Invoice.issue_date)
    owed = (select(Invoice.customer_id.label("customer_id"), func.sum(Invoice.outstanding).label("owed"),
                   func.min(due_day).label("oldest_due"))
            .where(Invoice.status.in_(("issued", "part_paid")), Invoice.outstanding > 0,
                   Invoice.disputed.is_(False), Invoice.issue_date <= today,
                   due_day <= today - timedelta(days=_horizon(active)))
            .group_by(Invoice.customer_id).subquery())
    credit = (select(Payment.customer_id.label("customer_id"), func.sum(Payment.unallocated).label("credit"))
              .where(Payment.unallocated > 0, Payment.received_on <= today,
                     Payment.customer_id.in_(select(owed.c.customer_id)))
              .group_by(Payment.customer_id).subquery())
    primary = aliased(Contact)
    net = owed.c.owed - func.coalesce(credit.c.credit, 0)
    address = case((primary.id.is_not(None), primary.email), else_=Customer.email)
    allows = case((primary.id.is_not(None), primary.service_email), else_=Customer.service_email)
    mode = func.coalesce(Customer.payment_reminders, literal(_default_mode(session)))
    reason = case(*[(Customer.status == s, s) for s in STATUS_REASONS],
                  (mode == "off", "off"), (mode == "manual", "manual"),
                  (not_(allows), "opted out"), (or_(address.is_(None), address == ""), "no address"),
                  else_=None).label("reason")
    stmt = (select(Customer.id, Customer.name, Customer.currency, net.label("net"), owed.c.oldest_due, reason,
                   ReminderState.episode, ReminderState.episode_started_on, ReminderState.last_step,
                   ReminderState.next_reminder_on, ReminderState.next_moved)
            .join(owed, owed.c.customer_id == Customer.id)
            .outerjoin(credit, credit.c.customer_id == Customer.id)
            .outerjoin(primary, and_(primary.customer_id == Customer.id, primary.is_primary.is_(True)))
            .outerjoin(ReminderState, ReminderState.customer_id == Customer.id))
    if minimum_check:
        minimum, others = _minimums(session, today)
        threshold = case(*[(Customer.currency == c, m) for c, m in others.items()], else_=minimum) \
            if others else literal(minimum)
        stmt = stmt.where(net > threshold)
    else:
        stmt = stmt.where(net > 0)
    return stmt, reason


def _overdue(row) -> Overdue:
    return Overdue(row[0], row[1], row[2], money.quantize(row[3], row[2]), _day(row[4]), row[5], row[6], _day(row[7]),
                   row[8], _day(row[9]), bool(row[10]))


def _day(value):
    """A date (SQLite may give a date column's MIN back as text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


# --- the run -------------------------------------------------------------------------------------

def run(session: Session, today: date, config: dict) -> dict:
    """The daily run as at `today`: end the episodes of customers no longer overdue above the minimum,
    start those of customers newly so, and send each automatic customer the highest step due and not yet
    sent in its episode (see the module's docstring); then suspension for late payment (suspension.run).
    Writes and commits a chunk of customers at a time, set-based (_write_chunk), and queues their
    messages' delivery after each commit. Returns counts."""
    active = steps(session)
    stmt, _ = _selection(session, today, active)
    found = [_overdue(row) for row in session.execute(stmt.order_by(Customer.id))]
    overdue_ids = {o.customer_id for o in found}
    ended = _end_episodes(session, overdue_ids)
    counts = {"reminded": 0, "texts": 0, "episodes started": 0, "episodes ended": ended,
              "not reminded": sum(1 for o in found if o.reason)}
    automatic = [o for o in found if o.reason is None]
    for start in range(0, len(automatic), CHUNK):
        queued = _write_chunk(session, automatic[start:start + CHUNK], active, today, counts)
        commit(session)
        _queue(session, queued)
    if not automatic:
        commit(session)
    counts.update(suspension.run(session, today, overdue_ids))
    return counts


STATE_COLUMNS = ("episode", "episode_started_on", "last_step", "next_reminder_on", "next_moved")


def _write_chunk(session: Session, chunk: list[Overdue], active: list[Step], today: date, counts: dict) -> list[int]:
    """Write a chunk of the run's customers with a few multi-row statements (not committed): their
    states read again (a hand send may have moved one since the selection), each one's episode opened,
    the key rows of the steps due (ON CONFLICT DO NOTHING: a key taken meanwhile is sent already, and
    nothing else is written for it), their messages, the key rows' message ids, the states, one audit
    entry a reminder. Adds to `counts`; returns the ids of the messages written."""
    fresh = {row[0]: row[1:] for row in session.execute(
        select(ReminderState.customer_id, *(getattr(ReminderState, c) for c in STATE_COLUMNS))
        .where(in_ids(session, ReminderState.customer_id, [o.customer_id for o in chunk])))}
    changes: dict[int, dict] = {}  # customer id -> the state's columns that change
    sends: list[tuple[Overdue, Step, int]] = []  # (customer, step, episode)
    for item in chunk:
        item = _with_state(item, fresh.get(item.customer_id))
        step = _step_now(active, item, today)
        changes[item.customer_id] = _opening(item, active, today)
        episode = changes[item.customer_id].get("episode", item.episode)
        counts["episodes started"] += item.episode_started_on is None
        if step is not None:
            sends.append((item, step, episode))
    keys = _insert_keys(session, sends, today)
    sends = [(item, step, episode) for item, step, episode in sends if item.customer_id in keys]
    messages = _insert_messages(session, [(item, step) for item, step, _ in sends], today, SENDER)
    links = [{"key_id": keys[item.customer_id], "email": messages.get((item.customer_id, "email")),
              "sms": messages.get((item.customer_id, "sms"))} for item, _, _ in sends]
    if links:
        table = PaymentReminder.__table__
        session.execute(table.update().where(table.c.id == bindparam("key_id"))
                        .values(email_message_id=bindparam("email"), sms_message_id=bindparam("sms")), links)
    for item, step, _ in sends:
        changes[item.customer_id].update(_after_sending(item, step, active, today))
    _write_states(session, fresh, changes)
    audit.record(session, "payment_reminder", "create", [(keys[item.customer_id], item.customer_id, {
        "step": [None, step.position], "episode": [None, episode], "sent_on": [None, today.isoformat()],
        "net_overdue": [None, str(item.net_overdue)], "by_hand": [None, False]}) for item, step, episode in sends])
    counts["reminded"] += len(sends)
    counts["texts"] += sum(1 for item, _, _ in sends if (item.customer_id, "sms") in messages)
    return sorted(messages.values())


def _with_state(item: Overdue, state: tuple | None) -> Overdue:
    """`item` with its reminder state as it is now (`state`: STATE_COLUMNS' values; None: it has none)."""
    if state is None:
        return replace(item, episode=None, episode_started_on=None, last_step=None, next_reminder_on=None,
                       next_moved=False)
    episode, started, last, nxt, moved = state
    return replace(item, episode=episode, episode_started_on=started, last_step=last, next_reminder_on=nxt,
                   next_moved=bool(moved))


def _opening(item: Overdue, active: list[Step], today: date) -> dict:
    """The state's columns that change when the run finds `item` overdue: a new episode begun today
    when none is open (else nothing)."""
    if item.episode_started_on is not None:
        return {}
    values = {"episode": (item.episode or 0) + 1, "episode_started_on": today, "last_step": None,
              "last_sent_on": None, "suspension_held": False}  # an admin's hold lasts one episode
    if not item.next_moved:
        first = following(active, None)
        values["next_reminder_on"] = item.oldest_due + timedelta(days=first.days) if first else None
    return values


def _after_sending(item: Overdue, step: Step, active: list[Step], today: date) -> dict:
    """The state's columns once `step` is sent: the last step, and the next reminder's date."""
    nxt = following(active, step.position)
    on = item.oldest_due + timedelta(days=nxt.days) if nxt else None
    if nxt and on <= today:
        on = today + timedelta(days=1)
    return {"last_step": step.position, "last_sent_on": today, "next_moved": False, "next_reminder_on": on}


def _upsert_insert(session: Session, table):
    """INSERT for `table` in the session's dialect (its on_conflict_do_nothing)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _insert_keys(session: Session, sends: list[tuple[Overdue, Step, int]], today: date) -> dict[int, int]:
    """The key rows of `sends`, those not taken already: {customer id: key row id} of those written."""
    if not sends:
        return {}
    table = PaymentReminder.__table__
    now = utcnow()
    rows = [{"customer_id": item.customer_id, "episode": episode, "step": step.position, "sent_on": today,
             "net_overdue": item.net_overdue, "currency": item.currency, "by_hand": False, "created_by": SENDER,
             "created_at": now} for item, step, episode in sends]
    stmt = (_upsert_insert(session, table).on_conflict_do_nothing(index_elements=["customer_id", "episode", "step"])
            .returning(table.c.customer_id, table.c.id))
    return {customer_id: key_id for customer_id, key_id in session.execute(stmt, rows)}


def _write_states(session: Session, fresh: dict[int, tuple], changes: dict[int, dict]) -> None:
    """The chunk's states: a new row for a customer that had none, an UPDATE of the changed columns
    (one statement a set of columns) for the others."""
    table = ReminderState.__table__
    new = [{"customer_id": cid, "episode": 0, "next_moved": False, "last_sent_on": None, "suspension_held": False,
            **{c: None for c in ("episode_started_on", "last_step", "next_reminder_on")}, **values}
           for cid, values in changes.items() if cid not in fresh]
    if new:
        session.execute(_upsert_insert(session, table).on_conflict_do_nothing(index_elements=["customer_id"]), new)
    groups: dict[tuple, list[dict]] = {}
    for cid, values in changes.items():
        if cid in fresh and values:
            row = {"cid": cid, **{f"v_{k}": v for k, v in values.items()}}
            groups.setdefault(tuple(sorted(values)), []).append(row)
    for columns, rows in groups.items():
        session.execute(table.update().where(table.c.customer_id == bindparam("cid"))
                        .values({c: bindparam(f"v_{c}") for c in columns}), rows)


def _step_now(active: list[Step], item: Overdue, today: date) -> Step | None:
    """The step to send `item` today, or None: the highest due not yet sent; a date an admin moved holds
    everything until it, and on it brings the next step forward."""
    last = item.last_step if item.episode_started_on is not None else None
    if item.next_moved and item.next_reminder_on is not None:
        if today < item.next_reminder_on:
            return None
        candidates = [s for s in (due_step(active, (today - item.oldest_due).days), following(active, last)) if s]
        step = max(candidates, key=lambda s: s.position, default=None)
    else:
        step = due_step(active, (today - item.oldest_due).days)
    if step is None or (last is not None and step.position <= last):
        return None
    return step


def _end_episodes(session: Session, still_overdue: set[int]) -> int:
    """Close the open episodes of customers no longer overdue above the minimum (their next one starts
    over from the first step); flushed. How many ended."""
    ending = [cid for cid in session.scalars(select(ReminderState.customer_id)
                                             .where(ReminderState.episode_started_on.is_not(None)))
              if cid not in still_overdue]
    for start in range(0, len(ending), CHUNK):
        session.execute(ReminderState.__table__.update()
                        .where(in_ids(session, ReminderState.customer_id, ending[start:start + CHUNK]))
                        .values(episode_started_on=None, last_step=None, last_sent_on=None, next_reminder_on=None,
                                next_moved=False))
    return len(ending)


def _open_episode(session: Session, item: Overdue, active: list[Step], today: date) -> ReminderState:
    """The customer's state with its episode open (a new one begun today when none is): a hand send's."""
    state = session.get(ReminderState, item.customer_id)
    if state is None:
        state = ReminderState(customer_id=item.customer_id, episode=0, next_moved=False)
        session.add(state)
    if state.episode_started_on is None:
        opening = _opening(replace(item, episode=state.episode, episode_started_on=None,
                                   next_moved=bool(state.next_moved)), active, today)
        for column, value in opening.items():
            setattr(state, column, value)
    return state


def _send(session: Session, item: Overdue, state: ReminderState, step: Step, active: list[Step], today: date,
          sender: str | None, by_hand: bool, despite_status: str | None = None) -> PaymentReminder | None:
    """Write one reminder (its key row, messages, state, audit entry), flushed; None when this
    (customer, episode, step) was written already (the unique key: nothing else is written then).
    A hand send's (the run writes a chunk at a time: _write_chunk). `despite_status`: the customer's
    status (dormant, blocked, archived) the admin confirmed the reminder goes despite."""
    session.flush()
    reminder = PaymentReminder(customer_id=item.customer_id, episode=state.episode, step=step.position,
                               sent_on=today, net_overdue=item.net_overdue, currency=item.currency, by_hand=by_hand,
                               created_by=sender)
    try:
        with session.begin_nested():
            session.add(reminder)
            session.flush()
    except IntegrityError:  # the key taken meanwhile (a hand send, another run): sent already
        return None
    messages = _insert_messages(session, [(item, step)], today, sender, despite_status=despite_status is not None)
    reminder.email_message_id = messages.get((item.customer_id, "email"))
    reminder.sms_message_id = messages.get((item.customer_id, "sms"))
    for column, value in _after_sending(item, step, active, today).items():
        setattr(state, column, value)
    session.flush()
    audit.record(session, "payment_reminder", "create", [(reminder.id, item.customer_id, {
        "step": [None, step.position], "episode": [None, state.episode], "sent_on": [None, today.isoformat()],
        "net_overdue": [None, str(item.net_overdue)], "by_hand": [None, by_hand],
        **({"despite_status": [None, despite_status]} if despite_status else {})})])
    return reminder


def _insert_messages(session: Session, sends: list[tuple[Overdue, Step]], today: date,
                     sender: str | None, despite_status: bool = False) -> dict[tuple[int, str], int]:
    """Each reminder's e-mail (marked to carry the statement as at `today` on a step that attaches it:
    its delivery renders and attaches it) and text, in one multi-row INSERT: to the primary contact, else
    the customer. The text only when the step has one and the recipient has a mobile and allows service
    texts. `despite_status` (a hand send an admin confirmed): they go whatever the customer's status,
    marked so for delivery (message.sent_despite_status). Returns {(customer id, channel): message id}."""
    ids = [item.customer_id for item, _ in sends]
    found: dict[str, dict[int, tuple]] = {"email": {}, "sms": {}}
    for channel in found:
        if any(step.body if channel == "email" else step.sms_body for _, step in sends):
            for hit in outbox.recipients(session, ids, {**EMAIL, "channel": channel}):
                found[channel].setdefault(hit[0]["id"], hit)  # the first recipient: as the run always did
    now, rows = utcnow(), []
    for item, step in sends:
        extra = {"overdue": money.format(item.net_overdue, item.currency),
                 "days_overdue": max(0, (today - item.oldest_due).days), "due_date": item.oldest_due.isoformat()}
        for channel, template in (("email", step.body), ("sms", step.sms_body)):
            hit = found[channel].get(item.customer_id) if template else None
            if hit is None:
                continue
            customer, contact, address, allows = hit
            reason = skip_reason(customer["status"], allows, channel, "service", address, despite_status)
            if channel == "sms" and reason:
                continue  # no text to someone without a mobile or who refuses texts
            filled = {**placeholders.values_for(customer, contact, address), **extra}
            person = contact or customer
            name = " ".join(p for p in (person.get("first_name"), person.get("surname")) if p) or customer["name"]
            rows.append({
                "customer_id": item.customer_id, "contact_id": contact["id"] if contact else None, "channel": channel,
                "purpose": "service", "kind": "notification", "direction": "out", "recipient": address,
                "recipient_name": name[:250], "body": placeholders.render(template, filled),
                "subject": placeholders.render(step.subject, filled)[:outbox.MAX_SUBJECT] if channel == "email"
                else None,
                "status": "skipped" if reason else "queued", "skip_reason": reason, "attempts": 0,
                "created_by": sender, "created_at": now, "due_at": now,
                "attach_statement_on": today if channel == "email" and step.attach_statement else None,
                "sent_despite_status": despite_status})
    if not rows:
        return {}
    table = Message.__table__
    if session.get_bind().dialect.name == "postgresql":
        # COPY, the ids drawn from the sequence first: a multi-row INSERT ... RETURNING this wide costs
        # the driver more to build than the database to write (the 50,000-customer bench).
        ids = session.scalars(select(func.nextval(func.pg_get_serial_sequence("message", "id")))
                              .select_from(func.generate_series(1, len(rows)))).all()
        for row, message_id in zip(rows, ids):
            row["id"] = message_id
        insert_rows(session, table, rows)
        return {(row["customer_id"], row["channel"]): row["id"] for row in rows}
    return {(customer_id, channel): message_id for message_id, customer_id, channel in session.execute(
        insert(table).returning(table.c.id, table.c.customer_id, table.c.channel), rows)}


def _queue(session: Session, message_ids: list[int]) -> None:
    """Queue the delivery of the queued ones among `message_ids` (after their commit)."""
    if message_ids:
        queued = list(session.scalars(select(Message.id).where(in_ids(session, Message.id, message_ids),
                                                               Message.status == "queued").order_by(Message.id)))
        tasks.queue_delivery(queued)


# --- the "Overdue, not reminded" list ------------------------------------------------------------

@dataclass(frozen=True)
class NotReminded:
    customer_id: int
    name: str
    currency: str
    net_overdue: Decimal
    oldest_due: date
    reason: str  # a key of REASONS
    reason_label: str


def not_reminded(session: Session, actor, today: date | None = None, after_id: int | None = None,
                 limit: int = 50) -> list[NotReminded]:
    """The customers in `actor`'s scope with a net overdue above the minimum that the run does not remind,
    each with its reason (REASONS), by customer id: at most `limit` rows after `after_id` (the next page
    starts after the last row's id)."""
    today = today or date.today()
    limit = max(1, min(int(limit), 500))
    stmt, reason = _selection(session, today, steps(session))
    stmt = stmt.where(reason.is_not(None), customer_scope(actor))
    if after_id is not None:
        stmt = stmt.where(Customer.id > after_id)
    return [NotReminded(o.customer_id, o.name, o.currency, o.net_overdue, o.oldest_due, o.reason, REASONS[o.reason])
            for o in map(_overdue, session.execute(stmt.order_by(Customer.id).limit(limit)))]


# --- an admin's commands -------------------------------------------------------------------------

def move_next_reminder(session: Session, actor, customer_id, on, today: date | None = None) -> ReminderState:
    """Move the customer's next reminder to `on` (a date, today or later; POST_MONEY), audited, committed:
    no reminder goes before it, and on it the next step goes (see the module's docstring). Raises
    Forbidden, NotFound (missing or out of scope), Invalid ("next_reminder_on")."""
    permissions.require(session, actor, POST_MONEY, message="Only Finance and Admin may move payment reminders.")
    customer = get_customer(session, actor, customer_id)
    today = today or date.today()
    errors = FieldErrors()
    day = on if isinstance(on, date) else fields.a_date(errors, "next_reminder_on", on)
    if day is None and "next_reminder_on" not in errors:
        errors.add("next_reminder_on", "Give the date of the next reminder.")
    elif day is not None and day < today:
        errors.add("next_reminder_on", "The next reminder cannot be in the past.")
    errors.raise_if_any()
    state = session.get(ReminderState, customer.id)
    if state is None:
        state = ReminderState(customer_id=customer.id, episode=0, next_moved=False)
        session.add(state)
    old = state.next_reminder_on
    state.next_reminder_on, state.next_moved = day, True
    session.flush()
    audit.record(session, "reminder_state", "update", [(customer.id, customer.id, {
        "next_reminder_on": [old.isoformat() if old else None, day.isoformat()]})])
    commit(session)
    return state


def send_by_hand(session: Session, actor, customer_id, config: dict, key=None,
                 today: date | None = None, despite_status: bool = False) -> PaymentReminder:
    """Send the customer a reminder now (POST_MONEY), whatever its reminder setting (manual, off): the
    highest step due, or the step after the last one sent in its episode if that is further; committed,
    delivery queued. A dormant, blocked or archived customer only with `despite_status` (the admin
    confirmed it): its messages are marked to go despite the status (message.sent_despite_status) and
    the audit entry names the status; without it, Invalid saying so. Opt-outs and a missing address are
    respected whatever (Invalid naming the reason). Raises Forbidden, NotFound, Invalid (nothing overdue;
    no step left in this episode), AlreadyDone (the form's key again)."""
    permissions.require(session, actor, POST_MONEY, message="Only Finance and Admin may send payment reminders.")
    customer = get_customer(session, actor, customer_id)
    today = today or date.today()
    active = steps(session)
    stmt, _ = _selection(session, today, active, minimum_check=False)
    row = session.execute(stmt.where(Customer.id == customer.id)).first()
    if row is None:
        raise Invalid({"customer": NOTHING_OVERDUE})
    item = _overdue(row)
    overridden = item.reason if item.reason in STATUS_REASONS else None
    if overridden and not despite_status:
        raise Invalid({"customer": f"The customer is {overridden}: a reminder goes only if you confirm it is sent "
                                   "despite its status."})
    found = next(iter(outbox.recipients(session, [customer.id], EMAIL)), None)
    refused = skip_reason(customer.status, found[3], "email", "service", found[2], overridden is not None) \
        if found else "no e-mail address"
    if refused:
        raise Invalid({"customer": f"No reminder can go: {refused}."})
    last = item.last_step if item.episode_started_on is not None else None
    candidates = [s for s in (due_step(active, (today - item.oldest_due).days), following(active, last)) if s]
    step = max(candidates, key=lambda s: s.position, default=None)
    if step is None or (last is not None and step.position <= last):
        raise Invalid({"customer": "Every reminder step of this overdue episode was sent."})
    if key is not None and not claim_form_key(session, key):
        raise AlreadyDone("This reminder was already sent.")
    state = _open_episode(session, item, active, today)
    reminder = _send(session, item, state, step, active, today, getattr(actor, "username", None), by_hand=True,
                     despite_status=overridden)
    if reminder is None:
        session.rollback()
        raise AlreadyDone("This reminder was already sent.")
    commit(session)
    _queue(session, [i for i in (reminder.email_message_id, reminder.sms_message_id) if i])
    return reminder


def state_of(session: Session, actor, customer_id) -> ReminderState | None:
    """The customer's reminder state (None: never overdue), for its page. NotFound out of scope."""
    customer = get_customer(session, actor, customer_id)
    return session.get(ReminderState, customer.id)
