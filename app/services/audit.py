"""Audit trail: one SQLAlchemy session hook records every create, change and
delete of customer data, with each field's old and new value.

Nothing else writes audit entries for ORM changes; set-based bulk changes call
`record()` with the rows they touched.
"""
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from app.models import (Address, Adjustment, Allocation, AuditEntry, CompanySettings, Contact, ContactPhone, Customer,
                        CustomerFile, CustomerFxRate, CustomerService, CustomField, CustomValue, FxRate, Invoice,
                        InvoiceAddress, Note, Payment, PaymentMethod, Quote, Reseller, StoredCard, Tag, TaxRate)
from app.models.credit_notes import CreditNote
from app.models.price_books import PriceBook, PriceBookItem
from app.models.resellers import utcnow
from app.services.db import copy_rows

# What is audited, and how to find the customer each record belongs to.
AUDITED: dict[type, Callable] = {
    Customer: lambda o: o.id,
    Contact: lambda o: o.customer_id,
    Address: lambda o: o.customer_id,
    CustomerService: lambda o: o.customer_id,
    Note: lambda o: o.customer_id,
    CustomerFile: lambda o: o.customer_id,
    CustomValue: lambda o: o.customer_id,
    CustomField: lambda o: None,
    ContactPhone: lambda o: o.contact.customer_id if o.contact is not None else None,
    Tag: lambda o: None,
    Reseller: lambda o: None,
    CompanySettings: lambda o: None,
    InvoiceAddress: lambda o: None,  # shared between customers: each customer's choice is its own entry
    # Money: what a user did to a document (the postings themselves are the ledger's own record).
    Invoice: lambda o: o.customer_id,
    Quote: lambda o: o.customer_id,
    CreditNote: lambda o: o.customer_id,
    Payment: lambda o: o.customer_id,
    Allocation: lambda o: o.customer_id,  # who paid what with what, and each un-allocation (a reversing row)
    Adjustment: lambda o: o.customer_id,
    TaxRate: lambda o: None,
    PaymentMethod: lambda o: None,
    StoredCard: lambda o: o.customer_id,
    FxRate: lambda o: None,
    CustomerFxRate: lambda o: o.customer_id,
    PriceBook: lambda o: None,
    PriceBookItem: lambda o: None,
}
# Columns that are derived from others (or set by the database) and would only repeat them.
SKIPPED = {Customer: {"name", "sort_name", "created_at", "status_index"},
           StoredCard: {"token"}}  # the processor's token charges the card: never copied into the trail
SKIPPED_ALWAYS = {"id", "created_at"}

Actor = tuple[int | None, str | None]
_actor_provider: Callable[[], Actor] = lambda: (None, None)


def set_actor_provider(provider: Callable[[], Actor]) -> None:
    """Tell the hook how to find who is acting (the web app passes the logged-in user)."""
    global _actor_provider
    _actor_provider = provider


def actor_of(session: Session) -> Actor:
    """Who is acting in `session`: the actor its info names (a job run for its user), else the provider's."""
    return session.info.get("actor") or _actor_provider()


def _plain(value):
    if isinstance(value, (bytes, bytearray, memoryview)):  # a file's bytes (a logo): its size, never the bytes
        return f"{len(value):,} bytes"
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _changes(obj, action: str) -> dict:
    state = inspect(obj)
    changes = {}
    skipped = SKIPPED_ALWAYS | SKIPPED.get(type(obj), set())
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in skipped:
            continue
        hist = state.attrs[key].history
        if action == "create":
            new = getattr(obj, key)
            if new is not None:
                changes[key] = [None, _plain(new)]
        elif action == "delete":
            old = hist.unchanged[0] if hist.unchanged else (hist.deleted[0] if hist.deleted else None)
            if old is not None:
                changes[key] = [_plain(old), None]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                changes[key] = [_plain(old), _plain(new)]
    # Many-to-many collections (a customer's tags) are recorded by name.
    for rel in state.mapper.relationships:
        if rel.secondary is None:
            continue
        hist = state.attrs[rel.key].history
        if action == "update" and not hist.has_changes():
            continue
        if action == "delete":
            continue
        old = sorted(str(t) for t in [*(hist.unchanged or ()), *(hist.deleted or ())])
        new = sorted(str(t) for t in [*(hist.unchanged or ()), *(hist.added or ())])
        if old != new:
            changes[rel.key] = [old, new]
    return changes


def _entry(session, obj, action: str) -> dict | None:
    customer_of = AUDITED.get(type(obj))
    if customer_of is None:
        return None
    changes = _changes(obj, action)
    if action == "update" and not changes:
        return None
    user_id, username = actor_of(session)
    return dict(
        at=utcnow(),
        user_id=user_id,
        username=username,
        action=action,
        entity=type(obj).__tablename__,
        # New rows have their id by now but no identity key until the flush ends.
        entity_id=inspect(obj).mapper.primary_key_from_instance(obj)[0],
        customer_id=customer_of(obj),
        changes=changes,
    )


def _after_flush(session: Session, flush_context) -> None:
    rows = []
    for action, objects in (("create", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            if action == "update" and not session.is_modified(obj, include_collections=True):
                continue
            row = _entry(session, obj, action)
            if row is not None:
                rows.append(row)
    if rows:
        session.connection().execute(insert(AuditEntry.__table__), rows)


def record(session: Session, entity: str, action: str, entries: list[tuple[int, int | None, dict]]) -> None:
    """Write audit entries for a set-based change: (entity_id, customer_id, changes) each."""
    if not entries:
        return
    user_id, username = actor_of(session)
    copy_rows(session, AuditEntry.__table__,
              dict(at=utcnow(), user_id=user_id, username=username, action=action, entity=entity),
              ("entity_id", "customer_id", "changes"), entries)


def install(session_class) -> None:
    """Attach the hook to a Session class (or sessionmaker); idempotent."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)
