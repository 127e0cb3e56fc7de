"""How values are shown in lists and show pages. Presentation only."""
from decimal import Decimal

from babel.numbers import format_decimal
from markupsafe import Markup, escape

from app.services.fields import national_phone
from app.services.settings import settings

STATUS_LABELS = {
    "active": "success", "disabled": "warning", "dormant": "default",
    "blocked": "danger", "archived": "default",
}


def phone(value) -> str:
    return national_phone(value, settings.phone_region)


def money(value) -> str:
    if value is None:
        return ""
    return format_decimal(Decimal(value), format="#,##0.00", locale="en_GB")


def status(value) -> Markup:
    if not value:
        return Markup("")
    return Markup('<span class="label label-{}">{}</span>').format(STATUS_LABELS.get(value, "default"), value)


def tags(value) -> Markup:
    parts = []
    for tag in value or ():
        colour = tag.colour or "#777777"
        parts.append(Markup('<span class="label tag" style="background-color:{}">{}</span>')
                     .format(colour, tag.name))
    return Markup(" ").join(parts)


def email(value) -> Markup:
    if not value:
        return Markup("")
    return Markup('<a href="mailto:{0}">{0}</a>').format(value)


def telephone(value) -> Markup:
    if not value:
        return Markup("")
    return Markup('<a class="nowrap" href="tel:{}">{}</a>').format(value, phone(value))


def day(value) -> Markup:
    return Markup('<span class="nowrap">{}</span>').format(value.isoformat()) if value else Markup("")


def yes(value) -> Markup:
    return Markup('<i class="fa fa-check" title="Yes"></i>') if value else Markup("")


def access_contact(address) -> Markup:
    """The key icon of Payaca's address list: who gives access to the property."""
    if not address.access_name:
        return Markup("")
    details = " · ".join(p for p in (address.access_relationship, phone(address.access_phone)) if p)
    return Markup('<span class="nowrap" title="{}"><i class="fa fa-key"></i> {}</span>').format(
        details, address.access_name)


def text(value):
    """Anything else: empty for a missing value, never the word None."""
    return escape(value) if value is not None else ""
