from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import CustomerAlias, CustomerFile, CustomValue, Message, MessageAttempt, Note
from app.services.customers.files import remove_after_commit
from app.services.db import commit
from app.services.scope import get_customer
from app.services.settings import settings


def delete_customer(session: Session, actor, customer_id) -> None:
    """Delete a customer in `actor`'s scope for good, with its contacts, addresses, notes,
    files (their bytes once committed) and messages.

    Raises NotFound when it is missing or out of scope. The audit hook records it.
    """
    customer = get_customer(session, actor, customer_id)
    # Load the children so that each one's deletion is audited too.
    session.refresh(customer, ["contacts", "addresses"])
    for contact in customer.contacts:
        session.refresh(contact, ["phones"])
    stored = list(session.scalars(select(CustomerFile.stored_name).where(CustomerFile.customer_id == customer.id)))
    # Children the customer has no relationship to (SQLite does not enforce ON DELETE CASCADE).
    for child in (*session.scalars(select(Note).where(Note.customer_id == customer.id)),
                  *session.scalars(select(CustomerFile).where(CustomerFile.customer_id == customer.id)),
                  *session.scalars(select(CustomValue).where(CustomValue.customer_id == customer.id))):
        session.delete(child)
    messages = select(Message.id).where(Message.customer_id == customer.id)
    session.execute(delete(MessageAttempt).where(MessageAttempt.message_id.in_(messages)))
    session.execute(delete(Message).where(Message.customer_id == customer.id))
    session.execute(delete(CustomerAlias).where(CustomerAlias.customer_id == customer.id))
    session.delete(customer)
    if settings.files_folder:
        remove_after_commit(session, settings.files_folder, stored)
    commit(session)
