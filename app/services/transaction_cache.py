"""Answers kept for the rest of a session's transaction: a page asks some questions (may this
user see private notes? what are the company settings?) several times, and the answer cannot
change under the transaction's own reads. When the transaction ends (commit, rollback, the
request's session closed) they are forgotten, so the next one asks the database again."""
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")
KEY = "transaction_answers"


def remembered(session: Session, key: Hashable, answer: Callable[[], T]) -> T:
    answers = session.info.setdefault(KEY, {})
    if key not in answers:
        answers[key] = answer()
    return answers[key]


def forget(session: Session) -> None:
    session.info.pop(KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost one (not a savepoint)
        forget(session)


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, context) -> None:
    forget(session)  # the transaction wrote something: it may have changed an answer
