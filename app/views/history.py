"""The audit trail as people read it: the customer's Changes tab and the audit list both show
entries through `present`.

Field labels are the FAB views' own (`label_columns` where a view declares one), ids become names
(one query per kind of record per page, whatever the page holds), yes/no, dates, times to the
minute in the company's time zone (services/company.py), money in its customer's currency, a
created or deleted record as one line of its main fields, and internal values (stored file
names, hashes, password hashes, tokens) left out. The raw entry stays on the audit log's show
page, for who may open it (admins).
"""
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import Boolean, Date, DateTime, Numeric, select
from sqlalchemy.orm import Session

from app.models import Address, Contact, ContactPhone, Customer, CustomerFile, CustomerService, CustomField, Invoice, \
    Note, Payment, PaymentMethod, PriceBook, PriceBookItem, Reseller, Tag, TaxRate
from app.models.users import AppUser
from app.services import audit, company
from app.services.customers.files import human_size
from app.services import money as amounts
from app.views import formatters

MODELS = {model.__tablename__: model for model in audit.AUDITED}
NOUNS = {"customer": "customer", "contact": "contact", "address": "address", "service": "service",
         "contact_phone": "phone number", "note": "note", "customer_file": "file",
         "custom_value": "custom field value", "custom_field": "custom field", "tag": "tag", "reseller": "reseller",
         "company_settings": "company settings", "invoice": "invoice", "payment": "payment or credit", "allocation": "allocation",
         "balance_adjustment": "balance adjustment", "tax_rate": "tax rate", "payment_method": "payment method",
         "price_book": "price book", "price_book_item": "price book item",
         "payment_reminder": "payment reminder", "reminder_state": "payment reminders",
         "reminder_step": "reminder step"}
VERBS = {"create": "Added", "update": "Changed", "delete": "Deleted", "merge": "Merged into"}


def verb(action: str) -> str:
    return VERBS.get(action, action.capitalize())


def noun(kind: str) -> str:
    return NOUNS.get(kind, kind.replace("_", " "))


def what(kind: str, action: str) -> str:
    """What an audit entry did, in words: "Added customer", "Changed phone number"."""
    return f"{verb(action)} {noun(kind)}"
# The main fields of a record, the one line that shows it added or deleted.
MAIN = {
    "customer": ("customer_type", "email", "phone", "currency", "status", "reseller_id", "merged into"),
    "contact": ("position", "email", "is_primary"),
    "address": ("kind", "town"),
    "service": ("price", "billing_cycle", "status", "started_on"),
    "contact_phone": ("kind", "contact_id"),
    "note": ("body", "important", "private", "do_not_work"),
    "customer_file": ("content_type", "size"),
    "custom_value": ("field_id", "value"),
    "custom_field": ("kind", "required", "active"),
    "tag": ("colour",),
    "reseller": ("email", "phone"),
    "invoice": ("status", "total", "due_date"),
    "payment": ("kind", "amount", "reference", "reason"),
    "allocation": ("amount", "invoice_id", "payment_id", "allocated_on", "reverses_id"),
    "balance_adjustment": ("amount", "reason"),
    "tax_rate": ("percent", "is_default"),
    "payment_method": ("nominal_code", "active"),
    "price_book": ("is_default", "active"),
    "price_book_item": ("price_book_id", "unit_price", "currency"),
    "payment_reminder": ("step", "net_overdue", "sent_on", "by_hand", "despite_status"),
    "reminder_step": ("position", "days", "subject", "active"),
}
# Values that mean nothing to a reader or must not be shown.
HIDDEN = {"stored_name", "sha256", "password", "token", "status_index", "sort_name"}
HIDDEN_ENDINGS = ("_hash", "_token", "_secret")
# Labels for records no screen declares, and for keys that are not columns.
LABELS = {
    "note": {"body": "Note", "do_not_work": "Do not work with again"},
    "customer_file": {"filename": "File name", "content_type": "Type"},
    "custom_value": {"field_id": "Field"},
    "customer": {"merged": "Merged from", "merged into": "Merged into", "reseller_id": "Reseller"},
    "address": {"dormant_by_customer": "Dormant with the customer"},
    "allocation": {"payment_id": "Paid from", "invoice_id": "Invoice", "allocated_on": "Allocated on",
                   "reverses_id": "Reverses allocation"},
    "payment_reminder": {"step": "Step", "episode": "Overdue episode", "sent_on": "Sent on",
                         "net_overdue": "Net overdue", "by_hand": "Sent by hand",
                         "despite_status": "Sent despite status"},
    "reminder_state": {"next_reminder_on": "Next reminder"},
    "reminder_step": {"days": "Days past due", "sms_body": "Text", "body": "E-mail",
                      "attach_statement": "Statement attached"},
    "invoice": {"disputed": "Disputed (reminders paused)"},
}
# Columns holding the id of another record: the kind of record they name.
REFERENCES = {"customer_id": "customer", "contact_id": "contact", "reseller_id": "reseller", "field_id": "custom_field",
              "merged": "customer", "merged into": "customer", "tax_rate_id": "tax_rate", "method_id": "payment_method",
              "invoice_id": "invoice", "price_book_id": "price_book",
              "payment_id": "payment"}
# Columns holding a code shown as a word ("one-off" -> "One-off").
# Codes shown as the screens' words (formatters), by field, or by field and kind of record.
WORDS = {"status": None, "billing_cycle": formatters.billing_cycle, "customer_type": formatters.customer_type,
         "access_relationship": formatters.access_relationship,
         "kind": {"address": formatters.address_kind, "contact_phone": formatters.phone_kind}}
PHONES = {"phone", "mobile", "number", "access_phone"}
MONEY = {("customer", "balance"), ("service", "price"), ("balance_adjustment", "amount"),
         *(("invoice", f) for f in ("net_total", "tax_total", "total", "outstanding")),
         *(("payment", f) for f in ("amount", "unallocated")), ("allocation", "amount"),
         ("payment_reminder", "net_overdue")}
# The view whose labels a record's fields take (a record may have several screens).
VIEWS = {"customer": "CustomerView", "contact": "ContactView", "address": "AddressView", "service": "ServiceView",
         "contact_phone": "ContactPhoneView", "custom_field": "CustomFieldView", "tag": "TagView",
         "reseller": "ResellerView", "invoice": "InvoiceView", "payment": "CreditView", "tax_rate": "TaxRateView",
         "payment_method": "PaymentMethodView", "price_book": "PriceBookView", "price_book_item": "PriceBookItemView"}


def _name(*parts) -> str:
    return " ".join(str(p) for p in parts if p)


def _short(text, length: int = 60) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= length else text[:length - 1] + "…"


# Each kind of record: the columns its name is made of, and how.
NAMES = {
    "customer": (Customer, ("name", "first_name", "surname", "company_name"),
                 lambda v: v.get("name") or v.get("company_name") or _name(v.get("first_name"), v.get("surname"))),
    "contact": (Contact, ("first_name", "surname"), lambda v: _name(v.get("first_name"), v.get("surname"))),
    "address": (Address, ("line1", "postcode"), lambda v: ", ".join(p for p in (v.get("line1"), v.get("postcode")) if p)),
    "service": (CustomerService, ("name",), lambda v: v.get("name") or ""),
    "contact_phone": (ContactPhone, ("number",), lambda v: formatters.phone(v.get("number"))),
    "note": (Note, ("body",), lambda v: _short(v.get("body"))),
    "customer_file": (CustomerFile, ("filename",), lambda v: v.get("filename") or ""),
    "custom_field": (CustomField, ("name",), lambda v: v.get("name") or ""),
    "tag": (Tag, ("name",), lambda v: v.get("name") or ""),
    "reseller": (Reseller, ("name",), lambda v: v.get("name") or ""),
    "invoice": (Invoice, ("number",), lambda v: v.get("number") or "draft"),
    "payment": (Payment, ("reference",), lambda v: v.get("reference") or ""),
    "tax_rate": (TaxRate, ("name",), lambda v: v.get("name") or ""),
    "payment_method": (PaymentMethod, ("name",), lambda v: v.get("name") or ""),
    "price_book": (PriceBook, ("name",), lambda v: v.get("name") or ""),
    "price_book_item": (PriceBookItem, ("code", "name"), lambda v: _name(v.get("code"), v.get("name"))),
}


@dataclass
class Event:
    """One audit entry, readable: when, who, what was done to which record, and how."""

    id: int
    at: Markup
    who: str
    verb: str
    noun: str
    record: str  # the record's name ("Grace Hopper"), or "#12" when it is gone
    customer_id: int | None
    customer: str
    detail: Markup  # one line for an added or deleted record; a list of changes otherwise

    @property
    def what(self) -> Markup:
        return Markup(f'{escape(self.verb)} {escape(self.noun)}'
                      f'{" <strong>" + str(escape(self.record)) + "</strong>" if self.record else ""}')


def _get(entry, key):
    return entry[key] if isinstance(entry, Mapping) else getattr(entry, key)


def hidden(field: str) -> bool:
    return field in HIDDEN or field.endswith(HIDDEN_ENDINGS)


def _view_labels() -> dict[str, dict[str, str]]:
    """The labels the screens declare, by record kind (FAB fills in the others as Title Case, not
    taken); read from the registered views once, then kept on the app's AppBuilder."""
    appbuilder = current_app.appbuilder
    if getattr(appbuilder, "history_labels", None) is None:
        appbuilder.history_labels = _declared_labels(appbuilder)
    return appbuilder.history_labels


def _declared_labels(appbuilder) -> dict[str, dict[str, str]]:
    views = {type(v).__name__: v for v in appbuilder.baseviews}
    labels = {}
    for kind, name in VIEWS.items():
        view = views.get(name)
        declared = getattr(view, "label_columns", None) or {}
        labels[kind] = {col: text for col, text in declared.items()
                        if text != re.sub("[._]", " ", col).title()}
    return labels


def label(labels: dict, kind: str, field: str) -> str:
    own = LABELS.get(kind, {})
    if field in own:
        return own[field]
    view = labels.get(kind, {})
    if field in view:
        return view[field]
    if field.endswith("_id") and field[:-3] in view:
        return view[field[:-3]]
    return field.removesuffix("_id").replace("_", " ").capitalize()


class _Names:
    """Names of the records a page of entries mentions, read in one query per kind."""

    def __init__(self, session: Session):
        self.session = session
        self.wanted: dict[str, set] = defaultdict(set)
        self.found: dict[str, dict] = {}
        self.currency: dict[int, str] = {}
        self.zone = formatters.zone()  # times are shown in it

    def want(self, kind: str, value) -> None:
        if isinstance(value, int) and not isinstance(value, bool):
            self.wanted[kind].add(value)

    def read(self) -> None:
        for kind, ids in self.wanted.items():
            if kind == "user":
                rows = self.session.execute(select(AppUser.id, AppUser.first_name, AppUser.last_name, AppUser.username)
                                            .where(AppUser.id.in_(ids)))
                self.found[kind] = {r.id: _name(r.first_name, r.last_name) or r.username for r in rows}
                continue
            model, columns, make = NAMES[kind]
            extra = (model.currency,) if model is Customer else ()
            rows = self.session.execute(select(model.id, *(getattr(model, c) for c in columns), *extra)
                                        .where(model.id.in_(ids)))
            names = {}
            for row in rows:
                names[row.id] = make(row._asdict())
                if model is Customer:
                    self.currency[row.id] = row.currency
            self.found[kind] = names

    def name(self, kind: str, value) -> str:
        return self.found.get(kind, {}).get(value) or (f"#{value}" if value is not None else "")


def _moment(value: str, zone) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return company.local(moment, zone).strftime("%Y-%m-%d %H:%M")


def value(kind: str, field: str, raw, names: _Names, currency: str | None) -> str:
    """One recorded value as a reader sees it (text; escaped where it is printed)."""
    if raw is None or raw == "":
        return ""
    if isinstance(raw, list):
        return ", ".join(str(v) for v in raw) or "none"
    if field in REFERENCES:
        return names.name(REFERENCES[field], raw)
    column = getattr(MODELS.get(kind), "__table__", None)
    column = column.c.get(field) if column is not None else None
    kind_of = type(column.type) if column is not None else None
    if isinstance(raw, bool) or (kind_of is not None and issubclass(kind_of, Boolean)):
        return "yes" if raw else "no"
    if (kind, field) in MONEY and currency:
        try:
            return amounts.format(Decimal(str(raw)), currency)
        except (InvalidOperation, ValueError):
            return str(raw)
    if kind_of is not None and issubclass(kind_of, DateTime):
        return _moment(str(raw), names.zone)
    if kind_of is not None and issubclass(kind_of, Date):
        return str(raw)[:10]
    if kind_of is not None and issubclass(kind_of, Numeric):
        return str(raw)
    if field == "size" and kind == "customer_file" and isinstance(raw, int):
        return human_size(raw)
    if field in PHONES:
        return formatters.phone(str(raw))
    if field in WORDS and isinstance(raw, str):
        word = WORDS[field].get(kind) if isinstance(WORDS[field], dict) else WORDS[field]
        return word(raw) if word else raw.replace("_", " ").capitalize()
    return str(raw)


def _one_line(kind: str, changes: dict, side: int, labels, names, currency) -> Markup:
    parts = []
    for field in MAIN.get(kind, ()):
        pair = changes.get(field)
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        raw = pair[side] if pair[side] is not None else pair[1 - side]  # "merged into": only a new value
        if raw in (None, "", False):
            continue
        if raw is True:
            parts.append(f"<span class=\"history-flag\">{escape(label(labels, kind, field))}</span>")
        elif field == "body":
            parts.append(f"“{escape(raw)}”")
        else:
            parts.append(f"{escape(label(labels, kind, field))}: {escape(value(kind, field, raw, names, currency))}")
    return Markup(f'<span class="history-summary">{" · ".join(parts)}</span>') if parts else Markup("")


def _change_list(kind: str, changes: dict, labels, names, currency) -> Markup:
    rows = []
    for field, pair in changes.items():
        if hidden(field) or not isinstance(pair, list) or len(pair) != 2:
            continue
        old, new = (value(kind, field, v, names, currency) for v in pair)
        if pair[1] is None and field in REFERENCES:  # a merged customer: gone, only its name
            rows.append(f'<li><span class="history-field">{escape(label(labels, kind, field))}</span>: {escape(old)}</li>')
            continue
        rows.append(f'<li><span class="history-field">{escape(label(labels, kind, field))}</span>: '
                    f'<span class="history-old">{escape(old) or "—"}</span> → '
                    f'<span class="history-new">{escape(new) or "—"}</span></li>')
    return Markup(f'<ul class="list-unstyled history-changes">{"".join(rows)}</ul>') if rows else Markup("")


def _named_by_itself(entry, kind: str, changes: dict) -> bool:
    """An added or deleted record's entry holds its name as it was then: no look-up needed."""
    action = _get(entry, "action")
    if action not in ("create", "delete"):
        return False
    side = 1 if action == "create" else 0
    return bool(NAMES[kind][2]({f: p[side] for f, p in changes.items() if isinstance(p, list) and len(p) == 2}))


def present(session: Session, entries) -> list[Event]:
    """The entries (AuditEntry rows, or mappings of their columns) as Events, in their order."""
    entries = list(entries)
    names = _Names(session)
    for entry in entries:
        kind, changes = _get(entry, "entity"), _get(entry, "changes") or {}
        names.want("user", _get(entry, "user_id"))
        names.want("customer", _get(entry, "customer_id"))
        if kind in NAMES and kind != "custom_value" and not _named_by_itself(entry, kind, changes):
            names.want(kind, _get(entry, "entity_id"))
        for field, pair in changes.items():
            if field in REFERENCES and isinstance(pair, list):
                for one in pair:
                    names.want(REFERENCES[field], one)
    names.read()
    labels = _view_labels()
    events = []
    for entry in entries:
        kind, action = _get(entry, "entity"), _get(entry, "action")
        changes = _get(entry, "changes") or {}
        customer_id = _get(entry, "customer_id")
        currency = (changes.get("currency") or [None, None])[1] if kind == "customer" else None
        currency = currency or names.currency.get(customer_id)
        own = {f: p[1] if action == "create" else p[0] for f, p in changes.items()
               if isinstance(p, list) and len(p) == 2}
        if kind == "note" and action in ("create", "delete"):
            record = ""  # its words are the one line below
        elif kind == "company_settings":
            record = ""  # there is one
        elif kind == "custom_value":
            record = names.name("custom_field", own.get("field_id")) if own.get("field_id") else ""
        elif kind in NAMES:
            record = (names.found.get(kind, {}).get(_get(entry, "entity_id")) or NAMES[kind][2](own)
                      or f"#{_get(entry, 'entity_id')}")
        else:
            record = f"#{_get(entry, 'entity_id')}"
        customer = names.found.get("customer", {}).get(customer_id) or (
            record if kind == "customer" and _get(entry, "entity_id") == customer_id else names.name("customer", customer_id))
        if action in ("create", "delete"):
            detail = _one_line(kind, changes, 1 if action == "create" else 0, labels, names, currency)
        else:
            detail = _change_list(kind, changes, labels, names, currency)
        user_id = _get(entry, "user_id")
        who = names.found.get("user", {}).get(user_id) or _get(entry, "username") or "system"
        at = _get(entry, "at")
        events.append(Event(
            id=_get(entry, "id"), at=formatters.moment(at), who=who,
            verb=verb(action), noun=noun(kind), record=record,
            customer_id=customer_id, customer=customer if customer_id else "",
            detail=detail))
    return events
