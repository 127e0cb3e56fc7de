"""The customer status machine: the only place that says which status may follow which.

active    the normal state
disabled  services suspended (the ISP's enable/disable)
dormant   no automated messages or reminders
blocked   no portal or booking
archived  hidden from default lists, login off, data kept; can be restored

A change of status is checked here (one customer: check_transition; many:
sources), and its effect on the customer's services is here (cascade).
"""
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.models import CustomerService
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


def check_transition(old: str, new: str) -> None:
    if old != new and new not in TRANSITIONS.get(old, ()):
        raise Invalid({"status": f"A customer cannot go from {old} to {new}."})


def sources(target: str) -> set[str]:
    """The statuses a customer may go to `target` from."""
    return {status for status, nexts in TRANSITIONS.items() if target in nexts}


def cascade(session: Session, customer_ids: list[int], target: str) -> list[tuple[int, int, dict]]:
    """What a status change does beyond the status itself, for customers now in `target`.

    Disabled: their active services are suspended, and marked so. Active again: the
    services a disable suspended are restored (others stay as they are).
    Returns audit entries (service id, customer id, changes) for the services changed.
    """
    if not customer_ids or target not in ("disabled", "active"):
        return []
    if target == "disabled":
        which = (CustomerService.status == "active", {"status": "suspended", "suspended_by_disable": True},
                 ("active", "suspended"))
    else:
        which = (CustomerService.suspended_by_disable.is_(True), {"status": "active", "suspended_by_disable": False},
                 ("suspended", "active"))
    condition, values, (old, new) = which
    change = {"status": [old, new]}  # one object for every row: serialised once
    entries = []
    for start in range(0, len(customer_ids), 5000):
        chunk = customer_ids[start:start + 5000]
        rows = session.execute(select(CustomerService.id, CustomerService.customer_id)
                               .where(in_ids(session, CustomerService.customer_id, chunk), condition)).all()
        if rows:
            session.execute(update(CustomerService).where(in_ids(session, CustomerService.id, [r.id for r in rows]))
                            .values(**values).execution_options(synchronize_session=False))
            entries += [(r.id, r.customer_id, change) for r in rows]
    return entries
