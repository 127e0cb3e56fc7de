"""The customer status machine: the only place that says which status may follow which.

active    the normal state
disabled  services suspended (the ISP's enable/disable)
dormant   no automated messages or reminders
blocked   no portal or booking
archived  hidden from default lists, login off, data kept; can be restored

A change of status is checked here (one customer: check_transition; many:
sources), and its effect on the customer's services is here (cascade). So are the
status actions (enable, disable, archive, ...): the status each leads to, the
statuses it applies from (applies), its label and the note the confirmation shows
(transitions_note); the bulk actions, the list's row menu and the profile's menu
read them from here.

`move` is the set-based change of status (bulk actions, the suspension for late payment); a single
customer's edit checks its transition and calls `cascade` itself. Every status change of a customer the
payment-reminder run suspended for late payment hands that suspension over to the admin (`cascade`,
`late_payment_taken_over`): the run neither re-enables it nor suspends it again in this episode.
"""
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import Address, Customer, CustomerService
from app.models.reminders import ReminderState
from app.services import audit
from app.services.db import in_ids
from app.services.errors import Invalid

TRANSITIONS = {
    "active": {"disabled", "dormant", "blocked", "archived"},
    "disabled": {"active", "dormant", "blocked", "archived"},
    "dormant": {"active", "disabled", "blocked", "archived"},
    "blocked": {"active", "disabled", "dormant", "archived"},
    # A restored customer comes back active; from there it may move on.
    "archived": {"active"},
}


# Status action -> the status it leads to.
STATUS_ACTIONS = {"enable": "active", "disable": "disabled", "archive": "archived", "unarchive": "active",
                  "make_dormant": "dormant", "block": "blocked"}
# Enable undoes a disable and unarchive undoes an archive; neither touches other statuses.
ONLY_FROM = {"enable": {"disabled"}, "unarchive": {"archived"}}
ACTION_LABELS = {"enable": "Enable", "disable": "Disable", "archive": "Archive", "unarchive": "Unarchive",
                 "make_dormant": "Make dormant", "block": "Block"}


def check_transition(old: str, new: str) -> None:
    if old != new and new not in TRANSITIONS.get(old, ()):
        raise Invalid({"status": f"A customer cannot go from {old} to {new}."})


def sources(target: str) -> set[str]:
    """The statuses a customer may go to `target` from."""
    return {status for status, nexts in TRANSITIONS.items() if target in nexts}


def action_sources(action: str) -> set[str]:
    """The statuses a status action moves a customer from (its target excluded)."""
    target = STATUS_ACTIONS[action]
    return ONLY_FROM.get(action, sources(target)) - {target}


def applies(action: str, status: str) -> bool:
    """Whether `action` would change a customer in `status` (what a customer's menu offers);
    an action that is not a status action always applies."""
    return action not in STATUS_ACTIONS or status in action_sources(action)


def transitions_note(action: str) -> str:
    """Which customers a status action applies to, for its confirmation page ("" for others)."""
    if action not in STATUS_ACTIONS:
        return ""
    return ("Applies to customers who are " + ", ".join(sorted(action_sources(action)))
            + "; others are left as they are.")


# What a status change does beyond the status itself, for customers now in the key's status:
# (model, which rows, new values, the audit's change). Disabled: active services are suspended
# and marked so; active again: what a disable suspended is restored (other services stay as
# they are), and so are the site addresses a dormancy made dormant; dormant: the site addresses
# (Commusoft's work addresses) go dormant too.
CASCADES = {
    "disabled": [(CustomerService, CustomerService.status == "active",
                  {"status": "suspended", "suspended_by_disable": True}, {"status": ["active", "suspended"]})],
    "active": [(CustomerService, CustomerService.suspended_by_disable.is_(True),
                {"status": "active", "suspended_by_disable": False}, {"status": ["suspended", "active"]}),
               (Address, Address.dormant_by_customer.is_(True),
                {"dormant": False, "dormant_by_customer": False}, {"dormant": [True, False]})],
    "dormant": [(Address, (Address.kind == "site") & Address.dormant.is_(False),
                 {"dormant": True, "dormant_by_customer": True}, {"dormant": [False, True]})],
}


def move(session: Session, ids: list[int], target: str, allowed: set[str]) -> list[int]:
    """Move the customers among `ids` whose status is in `allowed` to `target`, with the cascade and
    audit entries; flushed, not committed. Returns the ids moved.

    One UPDATE ... RETURNING per status moved from: the database locks and re-checks each row as it
    changes it, so the old status in the audit is the one replaced."""
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
    if moved:
        cascade(session, moved, target)
    return moved


def cascade(session: Session, customer_ids: list[int], target: str) -> None:
    """Apply CASCADES[target] to these customers (now in `target`), with an audit entry for
    every record changed, and hand any suspension for late payment of theirs over to the admin."""
    late_payment_taken_over(session, customer_ids)
    for model, condition, values, change in CASCADES.get(target, ()):
        entries = []
        for start in range(0, len(customer_ids), 5000):
            chunk = customer_ids[start:start + 5000]
            rows = session.execute(update(model).where(in_ids(session, model.customer_id, chunk), condition)
                                   .values(**values).returning(model.id, model.customer_id)
                                   .execution_options(synchronize_session=False)).all()
            entries += [(r.id, r.customer_id, change) for r in rows]  # one change object: serialised once
        audit.record(session, model.__tablename__, "update", entries)



def late_payment_taken_over(session: Session, customer_ids: list[int]) -> None:
    """A status change of a customer that the payment-reminder run suspended for late payment
    (reminder_state.suspended_on) is an admin's decision: the suspension is no longer the run's (paying
    up will not re-enable it) and the episode goes on hold (not suspended again until a new one). The
    run clears `suspended_on` itself before it re-enables, and sets it after it suspends, so its own
    changes are not taken for an admin's. Audited (the customer's Changes)."""
    entries = []
    for start in range(0, len(customer_ids), 5000):
        chunk = customer_ids[start:start + 5000]
        found = session.execute(select(ReminderState.customer_id, ReminderState.suspended_on)
                                .where(in_ids(session, ReminderState.customer_id, chunk),
                                       ReminderState.suspended_on.is_not(None))).all()
        if not found:
            continue
        session.execute(update(ReminderState)
                        .where(in_ids(session, ReminderState.customer_id, [r.customer_id for r in found]))
                        .values(suspended_on=None, suspension_held=True)
                        .execution_options(synchronize_session=False))
        entries += [(r.customer_id, r.customer_id, {"suspended_on": [r.suspended_on.isoformat(), None],
                                                    "suspension_held": [False, True]}) for r in found]
    audit.record(session, "reminder_state", "update", entries)
