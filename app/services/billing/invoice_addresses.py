"""Additional invoice addresses (Commusoft's): an insurer, a landlord, shared between customers. Search,
add, edit, choose one as a customer's invoice address or for one draft invoice, delete.

Scope: an address belongs to a reseller (InvoiceAddress.reseller_id; NULL: the company's own). A user
confined to a reseller sees, finds and uses only its reseller's addresses; an unscoped user sees all.
A customer (and its invoices) may only use an address of the customer's own reseller (a customer of no
reseller: a company-wide one), so a reseller's users see every address their customers use, and one
reseller's edit never changes another reseller's invoices. Another reseller's address answers 404.

Which address a document is made out to is invoices.addressee's business; an issued invoice or credit
note keeps the text it was issued with, whatever later happens to the address, and an issued invoice
names the address it was made out to (invoice_address_id; statements grouped by contact read it).
"""
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from app.models import Customer, Invoice, InvoiceAddress, Reseller
from app.services import fields, permissions
from app.services.billing import POST_MONEY
from app.services.billing.address_format import EDIT
from app.services.billing.invoices import get_invoice
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import get_customer, is_scoped, reseller_id_of
from app.services.settings import settings

# Deleting one that customers use: who changes them (who posts money).
DELETE = EDIT
# An invoice still being paid or written uses its address: deleting it is refused meanwhile.
OPEN = ("draft", "issued", "part_paid")
FIELDS = ("name", "contact_name", "line1", "line2", "line3", "town", "county", "postcode", "country", "email",
          "phone")
SEARCH_LIMIT = 20
NOT_FOUND = "No such invoice address."


def visible(actor) -> ColumnElement[bool]:
    """A WHERE clause on InvoiceAddress: the addresses `actor` may see (fails closed, as customer_scope)."""
    if not is_scoped(actor):
        return true()
    own = reseller_id_of(actor)
    return InvoiceAddress.reseller_id == own if own is not None else false()


def _same_reseller(reseller_id: int | None) -> ColumnElement[bool]:
    return InvoiceAddress.reseller_id.is_(None) if reseller_id is None else InvoiceAddress.reseller_id == reseller_id


def get(session: Session, actor, address_id) -> InvoiceAddress:
    """One address `actor` may see; NotFound for a missing, malformed or another reseller's id."""
    number = fields.record_id(address_id)
    found = session.scalar(select(InvoiceAddress).where(InvoiceAddress.id == number, visible(actor))) \
        if number is not None else None
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def search(session: Session, actor, text=None, customer_id=None, limit: int = SEARCH_LIMIT) -> list[InvoiceAddress]:
    """Addresses `actor` may see whose name, contact, first line, town or postcode contains `text`
    (case-blind; empty: all), by name; with `customer_id` (in scope, else NotFound), only those that
    customer may use (its reseller's)."""
    stmt = select(InvoiceAddress).where(visible(actor))
    if customer_id not in (None, ""):
        stmt = stmt.where(_same_reseller(get_customer(session, actor, customer_id).reseller_id))
    words = fields.text(FieldErrors(), "q", text, 120)
    if words:
        pattern = "%" + words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(*(func.lower(column).like(pattern, escape="\\") for column in (
            InvoiceAddress.name, InvoiceAddress.contact_name, InvoiceAddress.line1, InvoiceAddress.town,
            InvoiceAddress.postcode))))
    return list(session.scalars(stmt.order_by(InvoiceAddress.name, InvoiceAddress.id).limit(limit)))


def _clean(data: dict, address: InvoiceAddress | None) -> dict:
    errors = FieldErrors()
    for key in data:
        if key not in FIELDS and not (key == "reseller_id" and address is None):
            errors.add(key, "Unknown field.")

    def current(key):
        return data[key] if key in data else (getattr(address, key) if address is not None else None)

    out = dict(
        name=fields.text(errors, "name", current("name"), 160, required=True, label="Name or organisation"),
        contact_name=fields.text(errors, "contact_name", current("contact_name"), 120, label="Contact name"),
        line1=fields.text(errors, "line1", current("line1"), 120, required=True, label="Address line 1"),
        line2=fields.text(errors, "line2", current("line2"), 120, label="Address line 2"),
        line3=fields.text(errors, "line3", current("line3"), 120, label="Address line 3"),
        town=fields.text(errors, "town", current("town"), 80),
        county=fields.text(errors, "county", current("county"), 80),
        postcode=fields.text(errors, "postcode", current("postcode"), 12),
        country=fields.text(errors, "country", current("country"), 2),
        email=fields.email(errors, "email", current("email")),
        phone=fields.phone(errors, "phone", current("phone"), settings.phone_region),
    )
    for key in ("postcode", "country"):
        out[key] = out[key].upper() if out[key] else out[key]
    if out["country"] and not out["country"].isalpha():
        errors.add("country", "Country must be a two-letter code, e.g. GB.")
    errors.raise_if_any()
    return out


def _reseller(session: Session, actor, value) -> int | None:
    """A new address's reseller: a scoped user's own, always; an unscoped user's choice (empty: company-wide)."""
    if is_scoped(actor):
        own = reseller_id_of(actor)
        if value not in (None, "") and fields.whole_number(value) != own:
            raise Invalid({"reseller_id": "You cannot add an invoice address for another reseller."})
        return own
    if value in (None, ""):
        return None
    number = fields.record_id(value)
    if number is None or session.get(Reseller, number) is None:
        raise Invalid({"reseller_id": "No such reseller."})
    return number


def add(session: Session, actor, data: dict) -> InvoiceAddress:
    """A new address (committed), the actor's reseller's (an unscoped user may name one in "reseller_id").
    Raises Forbidden, Invalid with every field error."""
    permissions.require(session, actor, *EDIT, message="You may not add invoice addresses.")
    reseller_id = _reseller(session, actor, data.get("reseller_id"))
    address = InvoiceAddress(reseller_id=reseller_id, **_clean(data, None))
    session.add(address)
    commit(session)
    return address


def edit(session: Session, actor, address_id, data: dict) -> InvoiceAddress:
    """Change the given fields (its reseller never changes; committed). Drafts of the customers that use it
    show the change; issued documents keep what they were issued with. Raises Forbidden, NotFound, Invalid."""
    address = get(session, actor, address_id)
    permissions.require(session, actor, *EDIT, message="You may not change invoice addresses.")
    for key, value in _clean(data, address).items():
        if getattr(address, key) != value:
            setattr(address, key, value)
    commit(session)
    return address


def _usable(session: Session, actor, address_id, reseller_id: int | None) -> int | None:
    """The id of an address the customer of `reseller_id` may use (empty: none chosen)."""
    if address_id in (None, ""):
        return None
    address = get(session, actor, address_id)
    if address.reseller_id != reseller_id:
        raise Invalid({"invoice_address_id": "This customer cannot use that invoice address: it belongs to "
                                             + ("another reseller." if address.reseller_id else "no reseller.")
                                             + " Pick one from the search."})
    return address.id


def choose_for_customer(session: Session, actor, customer_id, address_id) -> Customer:
    """Make an address this customer's invoice address (empty: its own address again); its drafts and
    documents issued from now on are made out to it. Committed. Raises Forbidden, NotFound, Invalid."""
    permissions.require(session, actor, *EDIT, message="You may not change this customer's invoice address.")
    customer = get_customer(session, actor, customer_id)
    chosen = _usable(session, actor, address_id, customer.reseller_id)
    if customer.invoice_address_id != chosen:
        customer.invoice_address_id = chosen
    commit(session)
    return customer


def choose_for_invoice(session: Session, actor, invoice_id, address_id) -> Invoice:
    """Make an address the one draft invoice's own (empty: the customer's choice again); committed. An
    issued invoice keeps the address it was issued with: Invalid. Raises Forbidden (who posts money may),
    NotFound."""
    permissions.require(session, actor, POST_MONEY, message="You may not change invoices.")
    invoice = get_invoice(session, actor, invoice_id, lock=True)  # not issued meanwhile with the old address
    if invoice.status != "draft":
        raise Invalid({"invoice_address_id": f"Invoice {invoice.number} is issued: it keeps the address it was "
                                             "issued with."})
    reseller_id = session.scalar(select(Customer.reseller_id).where(Customer.id == invoice.customer_id))
    chosen = _usable(session, actor, address_id, reseller_id)
    if invoice.invoice_address_id != chosen:
        invoice.invoice_address_id = chosen
    commit(session)
    return invoice


@dataclass(frozen=True)
class Usage:
    customers: int  # customers whose invoice address it is
    open_invoices: int  # draft, issued or part-paid invoices made out to it

    @property
    def message(self) -> str:
        said = f"Used by {self.customers} customer{'' if self.customers == 1 else 's'}."
        if self.open_invoices:
            said += (f" {self.open_invoices} open invoice{' uses' if self.open_invoices == 1 else 's use'} it: it "
                     "cannot be deleted until they are paid or void.")
        return said


def _usage(session: Session, address_id: int) -> Usage:
    customers = session.scalar(select(func.count()).select_from(Customer)
                               .where(Customer.invoice_address_id == address_id))
    # An open invoice uses it when it names it (an issued one names the address it was made out to), or
    # names none and its customer chose it: a draft following its customer's choice, or an invoice issued
    # before invoices recorded their addressee (its text may be this address's).
    open_invoices = session.scalar(
        select(func.count()).select_from(Invoice).join(Customer, Customer.id == Invoice.customer_id)
        .where(Invoice.status.in_(OPEN), or_(Invoice.invoice_address_id == address_id,
                                              and_(Invoice.invoice_address_id.is_(None),
                                                   Customer.invoice_address_id == address_id))))
    return Usage(customers, open_invoices)


def usage(session: Session, actor, address_id) -> Usage:
    """What deleting it would touch, for the confirmation ("Used by 3 customers"). Raises NotFound."""
    return _usage(session, get(session, actor, address_id).id)


def delete(session: Session, actor, address_id) -> Usage:
    """Delete the address (committed): refused (Invalid) while an open invoice uses it; the customers that
    chose it go back to their own address, and paid or void invoices that named it keep their issued text.
    Returns what it was used by. Raises Forbidden (who may delete customer data or post money), NotFound."""
    address = get(session, actor, address_id)  # exists (for this user), then allowed
    permissions.require(session, actor, *DELETE, message="You may not delete invoice addresses.")
    used = _usage(session, address.id)
    if used.open_invoices:
        raise Invalid({"invoice_address": used.message})
    for customer in session.scalars(select(Customer).where(Customer.invoice_address_id == address.id)):
        customer.invoice_address_id = None  # audited, one row each
    for invoice in session.scalars(select(Invoice).where(Invoice.invoice_address_id == address.id)):
        invoice.invoice_address_id = None
    session.flush()
    session.delete(address)
    commit(session)
    return used
