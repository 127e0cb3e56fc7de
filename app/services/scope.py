"""Which customers a user may see: the one place that decides.

Every route that touches customer data (FAB lists and forms, our views, the
REST API, CSV export, bulk actions, jobs, PDFs) narrows its query with
`customer_scope(user)`. A user who carries a reseller sees that reseller's
customers only; a user in the Reseller role without one sees none.
"""
from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from app.models import Customer, Reseller
from app.services.errors import NotFound
from app.services.fields import record_id as parse_record_id

RESELLER_ROLE = "Reseller"


def reseller_id_of(user) -> int | None:
    """The reseller a user is confined to, or None for an unscoped user."""
    return getattr(user, "reseller_id", None)


def is_scoped(user) -> bool:
    if user is None or not getattr(user, "is_authenticated", True):
        return True
    return reseller_id_of(user) is not None or any(
        r.name == RESELLER_ROLE for r in getattr(user, "roles", [])
    )


def customer_scope(user) -> ColumnElement[bool]:
    """A WHERE clause on Customer limiting rows to those `user` may see."""
    if user is None or not getattr(user, "is_authenticated", True):
        return false()
    reseller_id = reseller_id_of(user)
    if reseller_id is not None:
        return Customer.reseller_id == reseller_id
    if is_scoped(user):
        # In the Reseller role but not linked to a reseller: fail closed.
        return false()
    return true()


def reseller_choice_scope(user) -> ColumnElement[bool]:
    """A WHERE clause on Reseller: the resellers `user` may pick (all, or only their own)."""
    if not is_scoped(user):
        return true()
    own = reseller_id_of(user)
    return Reseller.id == own if own is not None else false()


def customer_ids_in_scope(user):
    """A subquery of customer ids `user` may see, for child tables."""
    return select(Customer.id).where(customer_scope(user))


def load_in_scope(session: Session, user, model, record_id, through=(), message="Not found."):
    """One record of `model` whose customer (reached by joining `through`) `user` may see.

    Raises NotFound for a missing id, a malformed one, or one outside the scope:
    the three are indistinguishable to the caller on purpose.
    """
    record_id = parse_record_id(record_id)
    if record_id is None:
        raise NotFound(message)
    stmt = select(model)
    for target in through:
        stmt = stmt.join(target)
    record = session.scalars(stmt.where(model.id == record_id, customer_scope(user))).first()
    if record is None:
        raise NotFound(message)
    return record


def get_customer(session: Session, user, customer_id) -> Customer:
    """Load one customer in `user`'s scope; raise NotFound otherwise (missing or not theirs)."""
    return load_in_scope(session, user, Customer, customer_id, message="No such customer.")
