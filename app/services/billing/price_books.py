"""Price books (Commusoft): books of items that lines are picked from, the book a customer's lines
come from, and the picker's search.

- One book is the default: the book of every customer without one of its own (customer.price_book_id
  NULL). Making a book the default takes it from the other; the default book cannot be un-made the
  default, made inactive or deleted (make another the default first).
- A customer's book: its own when it has one and that book is active, else the default (book_for).
- An item's unit price is in its own currency, rounded to that currency's minor units. When it is
  picked for a customer billed in another currency, it is converted at the document's date with the
  FX look-up (billing/fx.py rate: the customer's own rate first, inverse, through the base currency)
  and rounded once to the customer's currency. No rate: the item is still found, with an error
  naming the pair and the date instead of a price. A stale rate: its price with a warning.

Writes check can_add / can_edit / can_delete on the books' and items' screens (Finance, Admin), then
the field rules (all errors at once), then commit (the unique name, code-in-book and one-default
constraints are the backstop for races). The search checks can_list on the items' screen and loads
the customer through the user's scope (another reseller's customer: NotFound).
"""
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.models import Customer, PriceBook, PriceBookItem
from app.models.money import CATEGORIES
from app.services import audit, fields, money, permissions
from app.services.billing import fx
from app.services.billing.tax import rate_id as tax_rate_id
from app.services.db import commit
from app.services.errors import FieldErrors, Invalid, NotFound
from app.services.scope import get_customer

BOOK_VIEW = "PriceBookView"
ITEM_VIEW = "PriceBookItemView"
MAX_RESULTS = 50
MAX_QUERY = 100


# ---- books -------------------------------------------------------------------------------------
def default_book(session: Session) -> PriceBook | None:
    return session.scalar(select(PriceBook).where(PriceBook.is_default.is_(True)))


def active_books(session: Session) -> list[PriceBook]:
    """The books a customer may be given (the customer form's choice)."""
    return list(session.scalars(select(PriceBook).where(PriceBook.active.is_(True)).order_by(PriceBook.name)))


def book_for(session: Session, customer: Customer) -> PriceBook | None:
    """The book `customer`'s lines are picked from: its own when it has an active one, else the default."""
    if customer.price_book_id is not None:
        own = session.get(PriceBook, customer.price_book_id)
        if own is not None and own.active:
            return own
    return default_book(session)


def _clean_book(session: Session, data: dict, book: PriceBook | None) -> dict:
    errors = FieldErrors()

    def current(key, default=None):
        return data[key] if key in data else getattr(book, key, default)

    name = fields.text(errors, "name", current("name"), 80, required=True, label="Name")
    is_default = fields.boolean(current("is_default", False))
    active = fields.boolean(current("active", True))
    if name and "name" not in errors:
        clash = select(PriceBook.id).where(PriceBook.name == name)
        if book is not None and book.id is not None:
            clash = clash.where(PriceBook.id != book.id)
        if session.scalar(clash) is not None:
            errors.add("name", "A price book with this name already exists.")
    if book is not None and book.is_default and not is_default:
        errors.add("is_default", "There is always one default book: make another book the default instead.")
    if is_default and not active:
        errors.add("active", "The default book is always in use.")
    errors.raise_if_any()
    return {"name": name, "is_default": is_default, "active": active}


def _save_book(session: Session, book: PriceBook, values: dict) -> PriceBook:
    if values["is_default"] and not book.is_default:  # one default: this one takes over
        was = list(session.scalars(update(PriceBook).where(PriceBook.is_default.is_(True), PriceBook.id != book.id)
                                   .values(is_default=False).returning(PriceBook.id)
                                   .execution_options(synchronize_session=False)))
        audit.record(session, "price_book", "update", [(i, None, {"is_default": [True, False]}) for i in was])
        session.flush()
    for key, value in values.items():
        setattr(book, key, value)
    commit(session)
    return book


def create_book(session: Session, actor, data: dict) -> PriceBook:
    permissions.require(session, actor, ("can_add", BOOK_VIEW), message="You may not add price books.")
    values = _clean_book(session, data, None)
    book = PriceBook(name=values["name"], is_default=False, active=values["active"])
    session.add(book)
    session.flush()
    return _save_book(session, book, values)


def update_book(session: Session, actor, book_id, data: dict) -> PriceBook:
    permissions.require(session, actor, ("can_edit", BOOK_VIEW), message="You may not change price books.")
    book = get_book(session, book_id)
    return _save_book(session, book, _clean_book(session, data, book))


def delete_book(session: Session, actor, book_id) -> None:
    """Delete a book and its items; its customers go back to the default book. Lines already on
    documents keep what they were priced at. The default book is never deleted."""
    permissions.require(session, actor, ("can_delete", BOOK_VIEW), message="You may not delete price books.")
    book = get_book(session, book_id)
    if book.is_default:
        raise Invalid({"is_default": "The default price book cannot be deleted: make another book the default first."})
    # Its customers first (SQLite has no foreign key here, and would give a new book the same id).
    moved = list(session.scalars(update(Customer).where(Customer.price_book_id == book.id)
                                 .values(price_book_id=None).returning(Customer.id)
                                 .execution_options(synchronize_session=False)))
    audit.record(session, "customer", "update", [(i, i, {"price_book_id": [book.id, None]}) for i in moved])
    for item in session.scalars(select(PriceBookItem).where(PriceBookItem.price_book_id == book.id)):
        session.delete(item)  # one by one: each is audited
    session.delete(book)
    commit(session)


def get_book(session: Session, book_id) -> PriceBook:
    number = fields.record_id(book_id)
    book = session.get(PriceBook, number) if number is not None else None
    if book is None:
        raise NotFound("No such price book.")
    return book


# ---- items -------------------------------------------------------------------------------------
def _clean_item(session: Session, data: dict, item: PriceBookItem | None) -> dict:
    errors = FieldErrors()

    def current(key, default=None):
        return data[key] if key in data else getattr(item, key, default)

    book_id = fields.record_id(current("price_book_id"))
    if book_id is None or session.get(PriceBook, book_id) is None:
        errors.add("price_book_id", "Pick a price book from the list.")
        book_id = None
    code = fields.text(errors, "code", current("code"), 40, required=True, label="Code")
    name = fields.text(errors, "name", current("name"), 160, required=True, label="Name")
    description = fields.long_text(errors, "description", current("description"), 500, label="Description")
    raw_currency = current("currency")
    currency = None
    if raw_currency in (None, "") or not str(raw_currency).strip():
        errors.add("currency", "Currency is required.")
    else:
        currency = fields.currency(errors, "currency", str(raw_currency).strip(), "")
    price = None
    if currency:
        price = money.amount(errors, "unit_price", current("unit_price"), currency, required=True, label="Unit price")
        if price is not None and price < 0:
            errors.add("unit_price", "Unit price cannot be negative.")
    elif current("unit_price") in (None, ""):
        errors.add("unit_price", "Unit price is required.")
    tax = tax_rate_id(errors, "tax_rate_id", current("tax_rate_id"), session)
    category = fields.choice(errors, "category", current("category", "other") or "other", CATEGORIES,
                             required=True, label="Category")
    if book_id and code and "code" not in errors:
        clash = select(PriceBookItem.id).where(PriceBookItem.price_book_id == book_id, PriceBookItem.code == code)
        if item is not None and item.id is not None:
            clash = clash.where(PriceBookItem.id != item.id)
        if session.scalar(clash) is not None:
            errors.add("code", f"This book already has an item with the code {code}.")
    errors.raise_if_any()
    return {"price_book_id": book_id, "code": code, "name": name, "description": description,
            "unit_price": price, "currency": currency, "tax_rate_id": tax, "category": category,
            "active": fields.boolean(current("active", True))}


def create_item(session: Session, actor, data: dict) -> PriceBookItem:
    permissions.require(session, actor, ("can_add", ITEM_VIEW), message="You may not add price book items.")
    item = PriceBookItem(**_clean_item(session, data, None))
    session.add(item)
    commit(session)
    return item


def update_item(session: Session, actor, item_id, data: dict) -> PriceBookItem:
    """Change an item. Lines already picked keep what they were priced at."""
    permissions.require(session, actor, ("can_edit", ITEM_VIEW), message="You may not change price book items.")
    item = get_item(session, item_id)
    for key, value in _clean_item(session, data, item).items():
        setattr(item, key, value)
    commit(session)
    return item


def delete_item(session: Session, actor, item_id) -> None:
    permissions.require(session, actor, ("can_delete", ITEM_VIEW), message="You may not delete price book items.")
    session.delete(get_item(session, item_id))
    commit(session)


def get_item(session: Session, item_id) -> PriceBookItem:
    number = fields.record_id(item_id)
    item = session.get(PriceBookItem, number) if number is not None else None
    if item is None:
        raise NotFound("No such price book item.")
    return item


# ---- a customer's book -------------------------------------------------------------------------
def check_customer_book(errors: FieldErrors, session: Session, value) -> int | None:
    """A customer's price book from a form: an active book's id, or empty (the default book)."""
    if value in (None, ""):
        return None
    number = fields.record_id(value)
    book = session.get(PriceBook, number) if number is not None else None
    if book is None or not book.active:
        errors.add("price_book_id", "Pick a price book in use from the list.")
        return None
    return book.id


# ---- the picker's search -----------------------------------------------------------------------
@dataclass(frozen=True)
class Match:
    """An item found for a customer: its price in the customer's currency (None, with `error`, when
    no rate converts it), the rate's `warning` when it is stale, and the item's own price."""

    id: int
    code: str
    name: str
    description: str | None
    unit_price: Decimal | None
    currency: str  # the customer's
    item_price: Decimal
    item_currency: str
    tax_rate_id: int | None
    category: str
    warning: str | None = None
    error: str | None = None


def _converted(session: Session, item: PriceBookItem, customer: Customer, on: date, rates: dict) -> Match:
    key = item.currency
    if key not in rates:
        try:
            rates[key] = fx.rate(session, item.currency, customer.currency, on, customer.id)
        except Invalid as e:
            rates[key] = e.messages
    found = rates[key]
    price, warning, error = None, None, None
    if isinstance(found, str):
        error = found
    else:
        price = money.quantize(item.unit_price * found.rate, customer.currency)
        if found.stale:
            warning = (f"The {item.currency}/{customer.currency} rate used is from "
                       f"{found.effective_on.isoformat()}: it may be out of date.")
    return Match(item.id, item.code, item.name, item.description, price, customer.currency, item.unit_price,
                 item.currency, item.tax_rate_id, item.category, warning, error)


def _literal(text: str) -> str:
    """`text` for LIKE with % and _ taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, actor, customer_id, text, on: date, limit: int = 20) -> list[Match]:
    """The active items of the customer's book whose code starts with `text` or whose name contains it
    (case-blind, any script), codes first, each priced in the customer's currency on `on`."""
    permissions.require(session, actor, ("can_list", ITEM_VIEW), message="You may not see price books.")
    customer = get_customer(session, actor, customer_id)
    words = (text or "").strip()[:MAX_QUERY]
    book = book_for(session, customer)
    if not words or book is None:
        return []
    limit = max(1, min(int(limit), MAX_RESULTS))
    by_code = PriceBookItem.code.istartswith(words, autoescape=True)
    stmt = (select(PriceBookItem)
            .where(PriceBookItem.price_book_id == book.id, PriceBookItem.active.is_(True),
                   or_(by_code, PriceBookItem.name.ilike(f"%{_literal(words)}%", escape="\\")))
            .order_by(by_code.desc(), PriceBookItem.code, PriceBookItem.id).limit(limit))
    rates: dict = {}
    return [_converted(session, item, customer, on, rates) for item in session.scalars(stmt)]
