"""Payment reminders' settings and pauses (issue 16), the commands behind their screens: the steps
(Admin > Payment reminders: add, edit, delete; an inactive step is kept but never sent) and an
invoice's "disputed" flag (its reminders paused: services/billing/reminders.py never counts it).

A step's subject, e-mail and text are templates with the placeholders of messaging and the reminders'
own (messages/placeholders.py REMINDER_PLACEHOLDERS): an unknown placeholder is refused with the list,
and a template is never evaluated, only filled at sending. Positions are unique (the database's index
is the race's backstop); days are whole days after the oldest overdue invoice's due date, negative
before it, within MIN_DAYS..MAX_DAYS. Every change is audited (the steps as company settings, the
disputed flag as a change to its invoice) and committed.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CompanySettings, Customer, Invoice
from app.models.reminders import ReminderStep
from app.services import audit, fields, permissions
from app.services.billing import POST_MONEY
from app.services.billing.billing_settings import DEFAULT_REMINDERS
from app.services.billing.invoices import get_invoice
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.messages import placeholders

VIEW = "ReminderStepsView"
EDIT = ("can_edit", VIEW)
READ = ("can_show", VIEW)
FIELDS = ("position", "days", "subject", "body", "sms_body", "attach_statement", "active")
MIN_DAYS, MAX_DAYS = -60, 365
MAX_POSITION = 99
SUBJECT_LENGTH, BODY_LENGTH, SMS_LENGTH = 200, 10_000, 640
DISPUTABLE = ("issued", "part_paid")


def all_steps(session: Session, actor) -> list[ReminderStep]:
    """Every step (inactive ones too) by position, for who may read them (Forbidden otherwise)."""
    permissions.require(session, actor, READ, EDIT, message="Only Admin and Finance may see the reminder steps.")
    return list(session.scalars(select(ReminderStep).order_by(ReminderStep.position)))


def get_step(session: Session, actor, step_id) -> ReminderStep:
    permissions.require(session, actor, READ, EDIT, message="Only Admin and Finance may see the reminder steps.")
    number = fields.record_id(step_id)
    step = session.get(ReminderStep, number) if number is not None else None
    if step is None:
        raise NotFound("No such reminder step.")
    return step


def next_position(session: Session) -> int:
    """The position a new step is offered: after the last one."""
    return (session.scalar(select(ReminderStep.position).order_by(ReminderStep.position.desc()).limit(1)) or 0) + 1


def _clean(session: Session, data: dict, step_id: int | None) -> dict:
    """The step's values from the form's, every field error collected at once (Invalid)."""
    errors = FieldErrors()
    position = fields.integer(errors, "position", data.get("position"), required=True, label="Position")
    if position is not None and not 1 <= position <= MAX_POSITION:
        errors.add("position", f"The position must be from 1 to {MAX_POSITION}.")
    elif position is not None and session.scalar(select(ReminderStep.id).where(
            ReminderStep.position == position, ReminderStep.id != (step_id or 0))) is not None:
        errors.add("position", f"Another step is at position {position}: choose another.")
    days = fields.integer(errors, "days", data.get("days"), required=True, label="Days")
    if days is not None and not MIN_DAYS <= days <= MAX_DAYS:
        errors.add("days", f"Days must be from {MIN_DAYS} (before the due date) to {MAX_DAYS}.")
    subject = fields.text(errors, "subject", data.get("subject"), SUBJECT_LENGTH, required=True, label="Subject")
    body = fields.long_text(errors, "body", data.get("body"), BODY_LENGTH, required=True, label="E-mail")
    sms_body = fields.long_text(errors, "sms_body", data.get("sms_body"), SMS_LENGTH, label="Text")
    for name, template in (("subject", subject), ("body", body), ("sms_body", sms_body)):
        if template:
            placeholders.check(errors, name, template, known=placeholders.REMINDER_PLACEHOLDERS)
    errors.raise_if_any()
    return {"position": position, "days": days, "subject": subject, "body": body, "sms_body": sms_body,
            "attach_statement": fields.boolean(data.get("attach_statement")),
            "active": fields.boolean(data.get("active"))}


def save_step(session: Session, actor, step_id, data: dict) -> tuple[ReminderStep, list[str]]:
    """Add (step_id None) or change a step (Admin: EDIT); audited, committed. The step and the fields
    changed. Raises Forbidden, NotFound, Invalid (field errors, nothing written)."""
    permissions.require(session, actor, EDIT, message="Only Admin may change the reminder steps.")
    step = get_step(session, actor, step_id) if step_id is not None else None
    values = _clean(session, data, step.id if step else None)
    if step is None:
        step = ReminderStep(**values)
        session.add(step)
        changes = {k: [None, v] for k, v in values.items()}
        action = "create"
    else:
        changes = {k: [getattr(step, k), v] for k, v in values.items() if getattr(step, k) != v}
        for key, value in values.items():
            setattr(step, key, value)
        action = "update"
    session.flush()
    if changes:
        audit.record(session, "reminder_step", action, [(step.id, None, changes)])
    commit(session)
    return step, list(changes)


def delete_step(session: Session, actor, step_id) -> ReminderStep:
    """Delete a step (Admin: EDIT); audited, committed. Reminders already sent keep their step's number;
    an open episode goes on from the next step. Raises Forbidden, NotFound."""
    permissions.require(session, actor, EDIT, message="Only Admin may change the reminder steps.")
    step = get_step(session, actor, step_id)
    audit.record(session, "reminder_step", "delete", [(step.id, None, {
        k: [getattr(step, k), None] for k in ("position", "days", "subject", "active")})])
    session.delete(step)
    commit(session)
    return step


def set_disputed(session: Session, actor, invoice_id, disputed: bool) -> Invoice:
    """Mark an issued or part-paid invoice disputed (its reminders paused: it no longer counts as
    overdue) or not (POST_MONEY); audited as a change to the invoice, committed. Raises Forbidden,
    NotFound (missing or out of scope), Invalid (a draft, paid or void invoice)."""
    permissions.require(session, actor, POST_MONEY, message="Only Finance and Admin may mark an invoice disputed.")
    invoice = get_invoice(session, actor, invoice_id)
    if invoice.status not in DISPUTABLE:
        raise Invalid({"disputed": "Only an issued or part-paid invoice can be disputed."})
    disputed = bool(disputed)
    if invoice.disputed != disputed:
        invoice.disputed = disputed  # the audit hook records the change on the invoice
        session.flush()
    commit(session)
    return invoice


@dataclass(frozen=True)
class CustomerReminders:
    """A customer's payment reminders for its Finances tab."""
    mode: str  # automatic, manual or off: the customer's own, else the company's default
    company_default: bool  # the mode is the company's default
    episode_open: bool
    episode_started_on: date | None
    last_step: int | None
    last_sent_on: date | None
    next_reminder_on: date | None
    next_moved: bool


def of_customer(session: Session, actor, customer_id) -> CustomerReminders:
    """The reminder setting in force and the current episode (reminders.state_of: NotFound out of scope)."""
    from app.services.billing import reminders
    state = reminders.state_of(session, actor, customer_id)
    own = session.get(Customer, int(customer_id)).payment_reminders
    row = session.get(CompanySettings, 1)
    mode = own or (row and row.default_payment_reminders) or DEFAULT_REMINDERS
    open_ = state is not None and state.episode_started_on is not None
    return CustomerReminders(mode, not own, open_, state.episode_started_on if open_ else None,
                             state.last_step if open_ else None, state.last_sent_on if open_ else None,
                             state.next_reminder_on if state else None, bool(state and state.next_moved))
