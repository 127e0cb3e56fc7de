from sqlalchemy.orm import Session

from app.services.db import commit
from app.services.scope import get_customer


def delete_customer(session: Session, actor, customer_id) -> None:
    """Delete a customer in `actor`'s scope for good, with its contacts and addresses.

    Raises NotFound when it is missing or out of scope. The audit hook records it.
    """
    customer = get_customer(session, actor, customer_id)
    # Load the children so that each one's deletion is audited too.
    session.refresh(customer, ["contacts", "addresses"])
    for contact in customer.contacts:
        session.refresh(contact, ["phones"])
    session.delete(customer)
    commit(session)
