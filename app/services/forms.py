"""One-time form keys: a form submitted twice (a double click, a reload) acts once.

A form page carries a fresh key (a UUID); the command that acts on the form claims the
key in the same transaction as its work. The claim is the first write of that
transaction, so a second submit finds the key taken and does nothing.
"""
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import SubmittedForm
from app.services.errors import Invalid


def new_form_key() -> str:
    """A key for a form page to carry."""
    return str(uuid.uuid4())


def claim_form_key(session: Session, key) -> bool:
    """Record `key` in the session's transaction (flushed, not committed); False when it was
    claimed before, so the caller does nothing a second time.

    Call it before any other write of the transaction: a race with another submit of the same
    form ends in the primary key's IntegrityError, which rolls the transaction back.
    Raises Invalid (field `form_key`) for a key that is not a UUID.
    """
    try:
        key = str(uuid.UUID(str(key or "")))
    except ValueError:
        raise Invalid({"form_key": "This form has no valid key: open it again."}) from None
    if session.scalar(select(SubmittedForm.key).where(SubmittedForm.key == key)) is not None:
        return False
    try:
        session.add(SubmittedForm(key=key))
        session.flush()
    except IntegrityError:  # the other submit won the race since the look above
        session.rollback()
        return False
    return True
