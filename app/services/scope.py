"""Which customers a user may see: the one place that decides.

Every route that touches customer data (FAB lists and forms, our views, the
REST API, CSV export, bulk actions, jobs, PDFs) narrows its query with
`customer_scope(user)`. A user who carries a reseller sees that reseller's
customers only; a user in the Reseller role without one sees none.
"""
from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from app.models import Customer
from app.services.errors import NotFound

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


def customer_ids_in_scope(user):
    """A subquery of customer ids `user` may see, for child tables."""
    return select(Customer.id).where(customer_scope(user))


def get_customer(session: Session, user, customer_id) -> Customer:
    """Load one customer in `user`'s scope; raise NotFound otherwise (missing or not theirs)."""
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound("No such customer.")
    customer = session.scalars(
        select(Customer).where(Customer.id == customer_id, customer_scope(user))
    ).first()
    if customer is None:
        raise NotFound("No such customer.")
    return customer
