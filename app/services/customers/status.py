"""The customer status machine: the only place that says which status may follow which.

active    the normal state
disabled  services suspended (the ISP's enable/disable)
dormant   no automated messages or reminders
blocked   no portal or booking
archived  hidden from default lists, login off, data kept; can be restored
"""
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
