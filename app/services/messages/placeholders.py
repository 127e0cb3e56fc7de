"""Placeholders in a message: "Dear {first_name}, your balance is {balance}."

Only the names below are known; anything else in braces is an error the user
sees before sending, never a KeyError at delivery. Write {{ and }} for braces.
"""
from functools import lru_cache
from string import Formatter

from app.services import money
from app.services.errors import FieldErrors
from app.services.settings import settings

PLACEHOLDERS = {
    "title": "Title",
    "first_name": "First name (of the contact written to)",
    "surname": "Surname (of the contact written to)",
    "name": "Full name (of the contact written to)",
    "company_name": "Company name",
    "customer_name": "The customer's name",
    "customer_id": "Customer ID",
    "email": "E-mail address written to",
    "balance": "Balance, with its currency",
}
# A payment reminder's templates (services/billing/reminders.py) may use these too.
REMINDER_PLACEHOLDERS = {
    **PLACEHOLDERS,
    "overdue": "Net overdue (overdue invoices less account credit), with its currency",
    "days_overdue": "Days the oldest overdue invoice is past its due date",
    "due_date": "The oldest overdue invoice's due date",
}


def problems(template: str, known: dict = PLACEHOLDERS) -> list[str]:
    """What is wrong with a template's placeholders (empty when it is fine); `known`: the names it may use."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as e:
        return [f"Braces do not match ({e}). Write {{{{ and }}}} for a brace itself."]
    out = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in known:
            shown = "{}" if name == "" else "{" + name + "}"
            out.append(f"Unknown placeholder {shown}. Known: " + ", ".join("{" + p + "}" for p in known) + ".")
        elif spec or conversion:
            out.append(f"Write the placeholder as {{{name}}}, without a format.")
    return out


def check(errors: FieldErrors, field: str, template: str, known: dict = PLACEHOLDERS) -> None:
    for problem in problems(template, known):
        errors.add(field, problem)


@lru_cache(maxsize=64)
def _parsed(template: str) -> tuple[tuple[str, str | None], ...]:
    return tuple((literal, name) for literal, name, _, _ in Formatter().parse(template))


def render(template: str, values: dict) -> str:
    """The template with each placeholder filled (a missing value is blank). Check it first."""
    out = []
    for literal, name in _parsed(template):
        out.append(literal)
        if name is not None:
            value = values.get(name)
            out.append("" if value is None else str(value))
    return "".join(out)


def names(template: str) -> set[str]:
    """The placeholders a (checked) template uses."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}


def values_for(customer: dict, contact: dict | None, address: str | None, used: set[str] | None = None) -> dict:
    """Placeholder values for one recipient: the contact written to, else the customer.
    (`used`: the placeholders wanted; the balance is formatted only when asked for.)"""
    person = contact or customer
    balance = customer.get("balance") if used is None or "balance" in used else None
    return {
        "title": person.get("title"),
        "first_name": person.get("first_name"),
        "surname": person.get("surname"),
        "name": " ".join(p for p in (person.get("first_name"), person.get("surname")) if p) or customer.get("name"),
        "company_name": customer.get("company_name"),
        "customer_name": customer.get("name"),
        "customer_id": customer.get("id"),
        "email": address if address and "@" in address else person.get("email"),
        "balance": money.format(balance, customer.get("currency") or settings.base_currency),
    }
