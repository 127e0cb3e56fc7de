"""The invoice address format (Commusoft's tagging feature): a template of plain text and tags in square
brackets, `[contact_name] c/o [customer_name], [address_line_1], [town], [postcode]`, filled from the
customer, its primary contact and its billing address when an invoice or credit note is addressed.

A template is only ever substituted, never evaluated: the tags are the fixed list TAGS (each one real
field), and validate() refuses anything else in brackets, stray brackets and curly braces, naming the
valid tags. A blank field is left out with the separator that goes with it (the text before it, or
after it for a line's first field), a line whose fields are all blank goes, and a line break is a
separator too; so no ", ," and no separator is left at a line's start or end.

Which template applies: the customer's own (Customer.invoice_address_format), else the company's
(CompanySettings.invoice_address_format), else DEFAULT_FORMAT (the name and the billing address).
"""
import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, lazyload

from app.models import Address, CompanySettings, Contact, Customer
from app.services import fields, permissions
from app.services.billing import POST_MONEY
from app.services.db import commit, in_ids
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import customer_scope, get_customer

FIELD = "invoice_address_format"
MAX_LENGTH = 1000
# Who changes how a customer's invoices are addressed (its format, its additional addresses): who posts
# money, as the Invoice settings screen (security.py); the others read them.
EDIT = (POST_MONEY,)


@dataclass(frozen=True)
class Tag:
    name: str
    label: str
    source: str  # "customer", "contact" (the primary contact) or "address" (the billing address)
    attribute: str

    @property
    def text(self) -> str:
        return f"[{self.name}]"


TAGS = (
    Tag("customer_name", "Customer name", "customer", "name"),
    Tag("customer_title", "Customer title", "customer", "title"),
    Tag("customer_first_name", "Customer first name", "customer", "first_name"),
    Tag("customer_surname", "Customer surname", "customer", "surname"),
    Tag("company_name", "Company name", "customer", "company_name"),
    Tag("customer_email", "Customer e-mail", "customer", "email"),
    Tag("customer_phone", "Customer phone", "customer", "phone"),
    Tag("customer_mobile", "Customer mobile", "customer", "mobile"),
    Tag("contact_name", "Primary contact's name", "contact", "name"),
    Tag("contact_title", "Primary contact's title", "contact", "title"),
    Tag("contact_first_name", "Primary contact's first name", "contact", "first_name"),
    Tag("contact_surname", "Primary contact's surname", "contact", "surname"),
    Tag("contact_position", "Primary contact's position", "contact", "position"),
    Tag("contact_email", "Primary contact's e-mail", "contact", "email"),
    Tag("address_line_1", "Billing address line 1", "address", "line1"),
    Tag("address_line_2", "Billing address line 2", "address", "line2"),
    Tag("address_line_3", "Billing address line 3", "address", "line3"),
    Tag("town", "Town", "address", "town"),
    Tag("county", "County", "address", "county"),
    Tag("postcode", "Postcode", "address", "postcode"),
    Tag("country", "Country code", "address", "country"),
)
BY_NAME = {tag.name: tag for tag in TAGS}
# What invoices said before templates: the customer's name, then the billing address a part a line.
DEFAULT_FORMAT = "[customer_name]\n[address_line_1]\n[address_line_2]\n[address_line_3]\n[town]\n[county]\n[postcode]"

_BRACKETED = re.compile(r"\[([^\[\]]*)\]")
_PLAIN_TAG = re.compile(r"[a-z0-9_]+")


def valid_tags() -> str:
    return "Valid tags: " + ", ".join(tag.text for tag in TAGS) + "."


def validate(template) -> str | None:
    """The template cleaned (trimmed, line breaks as \\n), or None for an empty one (the default format).
    Raises Invalid on FIELD naming each unknown or not plain tag, stray brackets or curly braces,
    control characters or a template over MAX_LENGTH, with the list of valid tags."""
    errors = FieldErrors()
    text = fields.long_text(errors, FIELD, template, MAX_LENGTH, label="The invoice address format")
    if text is None:
        if FIELD in errors:
            errors.add(FIELD, valid_tags())
        errors.raise_if_any()
        return None
    for content in _BRACKETED.findall(text):
        if not _PLAIN_TAG.fullmatch(content):
            errors.add(FIELD, f"[{content}] is not a tag: a tag is a name from the list in square brackets.")
        elif content not in BY_NAME:
            errors.add(FIELD, f"[{content}] is not a tag.")
    rest = _BRACKETED.sub("", text)
    if "[" in rest or "]" in rest:
        errors.add(FIELD, "Square brackets hold a tag and nothing else: one is not closed or not opened.")
    if "{" in text or "}" in text:
        errors.add(FIELD, "Curly braces are not part of a template: tags are written in square brackets.")
    if FIELD in errors:
        errors.add(FIELD, valid_tags())
    errors.raise_if_any()
    return text


@lru_cache(maxsize=256)
def _parsed(template: str) -> tuple[tuple[tuple[str, ...], tuple[Tag, ...]], ...]:
    """Each line as (texts, tags), texts[i] before tags[i] and texts[-1] after the last tag. Only known
    tags are tags: anything else in brackets (a stored template is checked, this never fails) is text."""
    lines = []
    for line in template.split("\n"):
        texts, tags, start = [], [], 0
        for match in _BRACKETED.finditer(line):
            tag = BY_NAME.get(match.group(1))
            if tag is None:
                continue
            texts.append(line[start:match.start()])
            tags.append(tag)
            start = match.end()
        texts.append(line[start:])
        # A text between two tags (several texts joined when unknown brackets sat between) stays whole.
        lines.append((tuple(texts), tuple(tags)))
    return tuple(lines)


def _value(tag: Tag, sources: dict) -> str:
    source = sources[tag.source]
    value = getattr(source, tag.attribute, None) if source is not None else None
    return "" if value is None else str(value).strip()


def render(template: str | None, customer, contact, address) -> str:
    """The address text: `template` (empty: DEFAULT_FORMAT) with each tag replaced by its field's value,
    as text (markup stays text: templates that print it escape it). A blank field goes with the text
    before it (a line's first one with the text after it); a line of blank fields goes."""
    sources = {"customer": customer, "contact": contact, "address": address}
    out = []
    for texts, tags in _parsed(template or DEFAULT_FORMAT):
        if not tags:
            line = texts[0]
        else:
            kept = [(i, value) for i, value in ((i, _value(tag, sources)) for i, tag in enumerate(tags)) if value]
            if not kept:
                continue
            line = texts[0] + kept[0][1] + "".join(texts[i] + value for i, value in kept[1:]) + texts[-1]
        line = line.strip()
        if line:
            out.append(line)
    return "\n".join(out)


def company_format(session: Session) -> str:
    row = session.get(CompanySettings, 1)
    return (row and row.invoice_address_format) or DEFAULT_FORMAT


def format_of(session: Session, customer: Customer) -> str:
    """The template that addresses `customer`'s documents: its own, else the company's, else the default."""
    return customer.invoice_address_format or company_format(session)


def _parts(session: Session, customer_id: int, scope=None):
    """(customer, its billing address, its primary contact) in one query; None when not found."""
    stmt = (select(Customer, Address, Contact)
            .outerjoin(Address, and_(Address.customer_id == Customer.id, Address.kind == "billing"))
            .outerjoin(Contact, and_(Contact.customer_id == Customer.id, Contact.is_primary.is_(True)))
            .where(Customer.id == customer_id)
            .options(lazyload(Customer.tags), lazyload(Contact.phones)))
    if scope is not None:
        stmt = stmt.where(scope)
    return session.execute(stmt.limit(1)).first()


def address_of(session: Session, customer: Customer) -> str:
    """`customer`'s address as its format renders it (one query for the address and contact)."""
    row = _parts(session, customer.id)
    return render(format_of(session, customer), customer, row.Contact if row else None, row.Address if row else None)


@dataclass(frozen=True)
class _ContactFields:
    """What TAGS read of a primary contact, as a plain value (a chunk of many customers' contacts)."""

    title: str | None
    first_name: str | None
    surname: str | None
    position: str | None
    email: str | None

    name = property(Contact.name.fget)  # a contact's name as Contact says it (title, first name, surname)


_ADDRESS_FIELDS = ("line1", "line2", "line3", "town", "county", "postcode", "country")


def addresses_of(session: Session, customers: list) -> dict[int, str]:
    """address_of for many customers in one query (a billing run's chunk; `customers` may be plain rows
    with the customer fields TAGS name, invoice_address_format and id): {customer id: address}. Reads
    only the fields TAGS name, as plain values."""
    if not customers:
        return {}
    by_id = {c.id: c for c in customers}
    contact_fields = [Contact.title, Contact.first_name, Contact.surname, Contact.position, Contact.email]
    rows = session.execute(
        select(Customer.id, Address.id.label("address_id"), *[Address.__table__.c[n] for n in _ADDRESS_FIELDS],
               Contact.id.label("contact_id"), *contact_fields)
        .outerjoin(Address, and_(Address.customer_id == Customer.id, Address.kind == "billing"))
        .outerjoin(Contact, and_(Contact.customer_id == Customer.id, Contact.is_primary.is_(True)))
        .where(in_ids(session, Customer.id, list(by_id))))
    parts: dict[int, tuple] = {}
    for row in rows:
        if row.id not in parts:
            contact = _ContactFields(row.title, row.first_name, row.surname, row.position, row.email) \
                if row.contact_id is not None else None
            parts[row.id] = (contact, row if row.address_id is not None else None)
    company = company_format(session)
    return {cid: render(customer.invoice_address_format or company, customer, *parts.get(cid, (None, None)))
            for cid, customer in by_id.items()}


def preview(session: Session, actor, customer_id, template) -> str:
    """`template` (empty: the company's format, as the customer would then have) rendered on the customer's
    data, for the settings screen's live preview: one query, two with the company's format. Raises
    NotFound (missing or out of `actor`'s scope) and Invalid as validate."""
    number = fields.record_id(customer_id)
    row = _parts(session, number, customer_scope(actor)) if number is not None else None
    if row is None:
        raise NotFound("No such customer.")
    text = validate(template)
    return render(text or company_format(session), row.Customer, row.Contact, row.Address)


def save_for_customer(session: Session, actor, customer_id, template) -> Customer:
    """Save the customer's own format (empty: the company's) and commit. Raises Forbidden (who may edit
    customers or post money may), NotFound, Invalid as validate."""
    permissions.require(session, actor, *EDIT, message="You may not change how this customer's invoices are addressed.")
    customer = get_customer(session, actor, customer_id)
    text = validate(template)
    if customer.invoice_address_format != text:
        customer.invoice_address_format = text
    commit(session)
    return customer


def check_company_format(errors: FieldErrors, value) -> str | None:
    """The company settings' format from a form (empty: DEFAULT_FORMAT), errors collected on FIELD."""
    try:
        return validate(value)
    except Invalid as error:
        for message in error.errors[FIELD]:
            errors.add(FIELD, message)
        return None
