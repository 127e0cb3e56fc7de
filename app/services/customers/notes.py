"""Notes on a customer: written by staff, pinned when important, private ones for admins and staff.

Who reads and writes private notes is a FAB permission, PRIVATE_NOTES (granted by default to
Admin and Staff, not to Read-only nor Reseller: app/security.py), never a role's name; a user
confined to a reseller never does, whatever their roles hold. Every read of notes goes through
`visible` (lists, the pinned ones, the profile's count) or `get_note`, and the Changes tab
leaves out the history of notes for whom `history_visible` says so (a private note's words
are in it).

A "do not work with again" note (Commusoft) also makes the customer dormant, through the
status machine; the customer's page shows the warning for as long as such a note exists.
"""
from sqlalchemy import exists, inspect, or_, select, true
from sqlalchemy.orm import Session

from app.models import AuditEntry, Customer, Note
from app.services.customers.status import cascade, check_transition
from app.services import fields
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Forbidden, Invalid, NotFound
from app.services.forms import claim_form_key
from app.services.permissions import may
from app.services.scope import get_customer, is_scoped, load_in_scope

MAX_NOTE = 10_000
ALREADY_ADDED = "This note was already added; it was not added twice."
FLAGS = ("important", "private", "do_not_work")
# The permission to read and write private notes, on the view whose routes serve notes.
PRIVATE_NOTES = ("can_see_private_notes", "CustomerView")


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "on", "y", "yes")


def may_see_private(session: Session, actor) -> bool:
    """Whether `actor` may read and write private notes: their roles grant PRIVATE_NOTES and
    they are not confined to a reseller (a reseller's user never does)."""
    return not is_scoped(actor) and may(session, actor, PRIVATE_NOTES)


def visible(actor, session: Session | None = None):
    """A WHERE clause on Note: the notes `actor` may read (private ones only for who may see
    them). `session` answers the permission question; without it, the session `actor` was
    loaded in (none: no private notes)."""
    session = session if session is not None else _session_of(actor)
    allowed = session is not None and may_see_private(session, actor)
    return true() if allowed else Note.private.is_(False)


def history_visible(session: Session, actor):
    """A WHERE clause on AuditEntry for a customer's Changes tab: the history of notes only for
    who may see private notes (the words of a private note are in its history)."""
    return true() if may_see_private(session, actor) else AuditEntry.entity != "note"


def _session_of(actor) -> Session | None:
    return getattr(inspect(actor, raiseerr=False), "session", None)


def notes_for(session: Session, actor, customer_id, limit: int = 200) -> list[Note]:
    """A customer's notes for `actor`: important ones first (pinned), then newest first."""
    return notes_page(session, actor, customer_id, limit=limit)[0]


def notes_page(session: Session, actor, customer_id, before: int | None = None,
               limit: int = 200) -> tuple[list[Note], int | None]:
    """A page of a customer's notes: on the first, the pinned ones, then the newest others;
    `before` (the id the previous page ended at) gives older ones. Returns the page and the
    next `before`, or None on the last page."""
    customer = get_customer(session, actor, customer_id)
    mine = select(Note).where(Note.customer_id == customer.id, visible(actor, session))
    pinned = [] if before is not None else pinned_of(session, actor, customer.id)
    others = mine.where(Note.important.is_(False))
    if before is not None:
        others = others.where(Note.id < before)
    rest = list(session.scalars(others.order_by(Note.id.desc()).limit(limit + 1)))
    more = len(rest) > limit
    rest = rest[:limit]
    return pinned + rest, (rest[-1].id if more else None)


def pinned_of(session: Session, actor, customer_id: int) -> list[Note]:
    """A customer's important (pinned) notes that `actor` may read, newest first (the customer
    already loaded in the actor's scope)."""
    return list(session.scalars(select(Note).where(Note.customer_id == customer_id, visible(actor, session),
                                                   Note.important.is_(True)).order_by(Note.id.desc())))


def pinned_and_never_again(session: Session, actor, customer_id: int) -> tuple[list[Note], bool]:
    """The customer's page header in one query: its pinned notes `actor` may read (newest first),
    and whether any note says "do not work with again" (whoever may read it)."""
    allowed = may_see_private(session, actor)
    rows = session.scalars(select(Note).where(Note.customer_id == customer_id,
                                              or_(Note.important.is_(True), Note.do_not_work.is_(True)))
                           .order_by(Note.id.desc()))
    rows = list(rows)
    return ([n for n in rows if n.important and (allowed or not n.private)], any(n.do_not_work for n in rows))


def never_again(session: Session, customer_id: int) -> bool:
    """Whether the customer carries a "do not work with again" note."""
    return session.scalar(select(exists().where(Note.customer_id == customer_id, Note.do_not_work.is_(True))))


def add_note(session: Session, actor, customer_id, data: dict, form_key=None) -> Note:
    """Write a note on a customer in `actor`'s scope (committed). Raises Invalid for an empty or
    over-long note (or a `form_key` that is not one), Forbidden for a private note by who may not
    see private notes, NotFound outside the scope, AlreadyDone when the form's `form_key` was
    claimed before (a double click: the note was written once). Without a key (a script), the
    note is written unguarded."""
    customer = get_customer(session, actor, customer_id)
    if form_key is not None and not claim_form_key(session, form_key):
        raise AlreadyDone(ALREADY_ADDED)
    errors = FieldErrors()
    body = fields.long_text(errors, "body", data.get("body"), MAX_NOTE, label="A note")
    if body is None and "body" not in errors:
        errors.add("body", "Write the note.")
    flags = {flag: _flag(data.get(flag)) for flag in FLAGS}
    if flags["private"] and not may_see_private(session, actor):
        raise Forbidden("Only admins and staff can write private notes.")
    if flags["do_not_work"] and customer.status != "dormant":
        try:
            check_transition(customer.status, "dormant")
        except Invalid:
            errors.add("do_not_work", f"A {customer.status} customer cannot be made dormant.")
    errors.raise_if_any()
    note = Note(customer_id=customer.id, body=body, created_by=getattr(actor, "username", None), **flags)
    session.add(note)
    if flags["do_not_work"] and customer.status != "dormant":
        customer.status = "dormant"
        cascade(session, [customer.id], "dormant")
    commit(session)
    return note


def get_note(session: Session, actor, note_id) -> Note:
    """A note `actor` may read; NotFound otherwise (another reseller's, or a private one to who
    may not see private notes: missing and hidden look the same)."""
    note = load_in_scope(session, actor, Note, note_id, (Customer,), "No such note.")
    if note.private and not may_see_private(session, actor):
        raise NotFound("No such note.")
    return note


def set_important(session: Session, actor, note_id, important: bool) -> Note:
    """Pin or unpin a note (committed)."""
    note = get_note(session, actor, note_id)
    note.important = bool(important)
    commit(session)
    return note


def delete_note(session: Session, actor, note_id) -> int:
    """Delete a note (committed); returns its customer's id."""
    note = get_note(session, actor, note_id)
    customer_id = note.customer_id
    session.delete(note)
    commit(session)
    return customer_id
