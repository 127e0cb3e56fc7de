"""How values are shown in lists and show pages. Presentation only.

Every stored code shows as its word ("billing" -> "Billing address", "monthly" -> "Monthly"), every
time to the minute in the company's time zone (`moment`, `zone`: Company settings; `moment_seconds` where the second matters), never with
microseconds: `text`, every column's formatter unless the view names another, does the same for
times, dates and yes/no.

A list page calls these a few hundred times, so they build their HTML with
f-strings over escape() rather than Markup.format (several times slower).
"""
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, g, has_app_context
from markupsafe import Markup, escape

from app.services import company
from app.services import money as amounts
from app.services.fields import national_phone
from app.services.settings import settings

MESSAGE_LABELS = {"queued": "info", "sending": "info", "sent": "success", "failed": "danger", "skipped": "default",
                  "received": "primary", "uncertain": "warning"}
MESSAGE_STATUS_NAMES = {"uncertain": "may have gone out"}  # else the status as it is
CHANNEL_NAMES = {"email": "E-mail", "sms": "Text"}
DIRECTIONS = {"in": Markup('<span class="nowrap"><i class="fa fa-reply"></i> from them</span>'),
              "out": Markup('<span class="nowrap"><i class="fa fa-share"></i> to them</span>')}
STATUS_LABELS = {
    "active": "success", "disabled": "warning", "dormant": "default",
    "blocked": "danger", "archived": "default",
}


@lru_cache(maxsize=8192)
def _national(value: str, region: str) -> str:
    return national_phone(value, region)


def phone(value) -> str:
    return _national(value, settings.phone_region) if value else ""


def money(value, currency: str | None = None) -> str:
    """An amount with its currency, as app.services.money shows it: "£1,234.50", "JP¥1,235".
    Without a currency (a column whose currency is printed beside it), the number alone with
    the base currency's decimals, rounded the same way: "1,234.50"."""
    if value is None:
        return ""
    if currency:
        return amounts.format(value, currency)
    return f"{amounts.quantize(value, settings.base_currency):,}"


def status(value) -> Markup:
    if not value:
        return Markup("")
    return Markup(f'<span class="label label-{STATUS_LABELS.get(value, "default")}">{escape(value.capitalize())}</span>')


def tags(value) -> Markup:
    parts = []
    for tag in value or ():
        colour = tag.colour or "#777777"
        parts.append(f'<span class="label tag" style="background-color:{escape(colour)}">{escape(tag.name)}</span>')
    return Markup(" ".join(parts))


def email(value) -> Markup:
    if not value:
        return Markup("")
    value = escape(value)
    return Markup(f'<a href="mailto:{value}">{value}</a>')


def telephone(value) -> Markup:
    if not value:
        return Markup("")
    return Markup(f'<a class="nowrap" href="tel:{escape(value)}">{escape(phone(value))}</a>')


def day(value) -> Markup:
    return Markup(f'<span class="nowrap">{value.isoformat()}</span>') if value else Markup("")


def yes(value) -> Markup:
    return Markup('<i class="fa fa-check" title="Yes"></i>') if value else Markup("")


def yes_no(value) -> str:
    """A tick box's value in words: "Yes" or "No", never True or False."""
    return "Yes" if value else "No"


def access_contact(address) -> Markup:
    """The key icon of Payaca's address list: who gives access to the property."""
    if not address.access_name:
        return Markup("")
    details = " · ".join(p for p in (address.access_relationship, phone(address.access_phone)) if p)
    return Markup('<span class="nowrap" title="{}"><i class="fa fa-key"></i> {}</span>').format(
        details, address.access_name)


def text(value):
    """Anything else: empty for a missing value, never the word None; a time to the minute, a
    date as YYYY-MM-DD, a tick box as Yes or No."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date):
        return day(value)
    if isinstance(value, bool):
        return yes_no(value)
    return escape(value)


def message_status(value) -> Markup:
    if not value:
        return Markup("")
    return Markup(f'<span class="label label-{MESSAGE_LABELS.get(value, "default")} message-status">'
                  f'{escape(MESSAGE_STATUS_NAMES.get(value, value))}</span>')


def channel(value) -> str:
    return CHANNEL_NAMES.get(value, value or "")


def direction(value) -> Markup:
    """A received message ("from them") or one we sent ("to them")."""
    return DIRECTIONS.get(value, Markup(""))


def opted_in(person) -> str:
    """What a contact agreed to receive: "service e-mail, service text, marketing e-mail"."""
    names = {"email": "e-mail", "sms": "text", "letter": "letter", "phone": "phone"}
    return ", ".join(f"{purpose} {label}" for purpose in ("service", "marketing") for channel, label in names.items()
                     if getattr(person, f"{purpose}_{channel}", False)) or "nothing"


def zone() -> ZoneInfo:
    """The company's time zone (Company settings, else TIME_ZONE, else UTC), read once a request."""
    if not has_app_context():
        return ZoneInfo("UTC")
    if "company_zone" not in g:
        from app.extensions import db
        g.company_zone = company.read(db.session, current_app.config).time_zone
    return g.company_zone


def moment(value) -> Markup:
    """A timestamp to the minute, in the company's time zone."""
    if not value:
        return Markup("")
    return Markup(f'<span class="nowrap">{company.local(value, zone()).strftime("%Y-%m-%d %H:%M")}</span>')


def moment_seconds(value) -> Markup:
    """A timestamp to the second, in the company's time zone, where the second matters (an attempt,
    an audit entry)."""
    if not value:
        return Markup("")
    return Markup(f'<span class="nowrap">{company.local(value, zone()).strftime("%Y-%m-%d %H:%M:%S")}</span>')


def multiline(value) -> Markup:
    """Text as written, line breaks kept, nothing interpreted as HTML."""
    return Markup(f'<div class="message-body">{escape(value or "")}</div>')


def attempts(value) -> Markup:
    """A message's delivery attempts: when, through what, what came of it."""
    rows = "".join(
        f"<li>{moment_seconds(a.at)}: {escape(a.outcome)}"
        f"{' via ' + str(escape(a.transport)) if a.transport else ''}"
        f"{': ' + str(escape(a.error)) if a.error else ''}</li>" for a in value or ())
    return Markup(f'<ul class="list-unstyled attempts">{rows}</ul>') if rows else Markup("none yet")


BILLING_CYCLE_NAMES = {"monthly": "Monthly", "quarterly": "Quarterly", "annually": "Annually",
                       "one-off": "One-off"}
SERVICE_STATUS_LABELS = {"active": "success", "suspended": "warning", "cancelled": "default"}


def billing_cycle(value) -> str:
    return BILLING_CYCLE_NAMES.get(value, value or "")


def service_status(value) -> Markup:
    if not value:
        return Markup("")
    return Markup(f'<span class="label label-{SERVICE_STATUS_LABELS.get(value, "default")} service-status">'
                  f'{escape(value.capitalize())}</span>')


# ---- stored codes as words ------------------------------------------------------------------
ADDRESS_KIND_NAMES = {"billing": "Billing address", "site": "Site address"}
PHONE_KIND_NAMES = {"mobile": "Mobile", "office": "Office", "home": "Home", "fax": "Fax", "other": "Other"}
CUSTOMER_TYPE_NAMES = {"private": "Private", "company": "Company"}
MESSAGE_PURPOSE_NAMES = {"service": "Service", "marketing": "Marketing"}
MESSAGE_KIND_NAMES = {"message": "Message", "notification": "Automatic notification"}


def _word(names: dict, value) -> str:
    """A stored code's word; a code without one as it is, capitalised ("letting agent" ->
    "Letting agent"); nothing for a missing value."""
    if not value:
        return ""
    return names.get(value) or (value[:1].upper() + value[1:])


def address_kind(value) -> str:
    return _word(ADDRESS_KIND_NAMES, value)


def phone_kind(value) -> str:
    return _word(PHONE_KIND_NAMES, value)


def phones(value) -> str:
    """A contact's numbers with their kinds: "Mobile: 07700 900123, Office: 020 7946 0000"."""
    return ", ".join(f"{phone_kind(p.kind)}: {phone(p.number)}" for p in value or ())


def access_relationship(value) -> str:
    return _word({}, value)


def customer_type(value) -> str:
    return _word(CUSTOMER_TYPE_NAMES, value)


def purpose(value) -> str:
    return _word(MESSAGE_PURPOSE_NAMES, value)


def message_kind(value) -> str:
    return _word(MESSAGE_KIND_NAMES, value)
