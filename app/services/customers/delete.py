"""Deleting customers for good: one set-based delete for one customer (the form, the REST API)
and for a bulk delete alike.

The rules are the same on every path: the actor must hold a delete permission (checked here
as well as at the route), a customer with financial documents is never deleted, and a
customer goes with every record that belongs to it: its contacts and their phones,
addresses, services, notes, files (their bytes once committed) and custom values, each
audited with its old values; and its tags, aliases, messages and their attempts.
"""
from collections import Counter

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from app.models import (
    Address,
    Adjustment,
    CardCharge,
    Contact,
    ContactPhone,
    Customer,
    CustomerAlias,
    CustomerFile,
    CustomerService,
    CustomValue,
    Message,
    MessageAttempt,
    Invoice,
    Quote,
    Note,
    Payment,
    customer_tag,
)
from app.services import audit, jobs, permissions
from app.services.customers import files
from app.services.db import commit, in_ids
from app.services.errors import Invalid
from app.services.scope import get_customer
from app.services.settings import settings

# Tables holding a customer's financial documents (each with a customer_id column); a customer
# with a row in any of them is never deleted (archive it instead). Credit notes join them.
FINANCIAL_DOCUMENTS: list[Table] = [Invoice.__table__, Payment.__table__, Adjustment.__table__, Quote.__table__,
                                     CardCharge.__table__]
HAS_MONEY = "has invoices, credit notes or payments"
# Any of these lets a user delete customers (each route asks for its own as well); an admin
# who gives a role one of them in the browser lets it delete.
DELETE_GRANTS = (("can_delete", "CustomerView"), ("bulk_delete", "CustomerView"), ("can_delete", "CustomerApi"))


def require_delete_permission(session: Session, actor) -> None:
    """Forbidden unless `actor` may delete customers."""
    permissions.require(session, actor, *DELETE_GRANTS, message="You may not delete customers.")


def delete_customer(session: Session, actor, customer_id) -> None:
    """Delete a customer in `actor`'s scope for good (see the module), committed.

    Raises NotFound when it is missing or out of scope, Forbidden when the actor may not
    delete customers, Invalid when it has financial documents.
    """
    customer = get_customer(session, actor, customer_id)
    require_delete_permission(session, actor)
    customer_id = customer.id
    session.expunge(customer)  # deleted below by SQL: the session must not hold a stale copy
    deleted, reasons = delete_customers(session, [customer_id])
    if not deleted:
        raise Invalid({"_": f"This customer {HAS_MONEY} and cannot be deleted: archive it instead (its data is kept and it can be restored)."})
    commit(session)


def with_money(session: Session, ids: list[int]) -> set[int]:
    """The customers among `ids` that have financial documents."""
    found: set[int] = set()
    for table in FINANCIAL_DOCUMENTS:
        found |= set(session.scalars(select(table.c.customer_id)
                                     .where(in_ids(session, table.c.customer_id, ids)).distinct()))
    return found


def delete_customers(session: Session, ids: list[int]) -> tuple[int, Counter]:
    """Delete these customers (ids the caller found within the actor's scope) and what belongs to
    them, in the session's transaction (not committed). Returns how many were deleted and, for
    the others, why each stayed."""
    reasons = Counter()
    if session.get_bind().dialect.name == "postgresql":
        # Locked first, in id order (as money commands lock), against a concurrent change: a money
        # record written meanwhile has committed before the look below, or waits for the delete.
        session.execute(select(Customer.id).where(in_ids(session, Customer.id, ids)).order_by(Customer.id)
                        .with_for_update())
    blocked = with_money(session, ids)
    if blocked:
        reasons[HAS_MONEY] += len(blocked)
    doomed = [i for i in ids if i not in blocked]
    if not doomed:
        return 0, reasons
    stored = files.stored_names_of(session, doomed)
    contact_of = dict(session.execute(select(Contact.id, Contact.customer_id)
                                      .where(in_ids(session, Contact.customer_id, doomed))).all())
    # The messages as a semi-join with the doomed customers, not `customer_id = ANY(ids)`: right
    # after a large send the planner still believes the table small and scans it, testing each
    # row against the whole array (100,000 messages x 5,000 ids: 21 s a chunk); a semi-join
    # hashes the ids instead.
    doomed_ids = select(Customer.id).where(in_ids(session, Customer.id, doomed))
    jobs.keep_message_figures(session, select(Message.batch_id).where(Message.customer_id.in_(doomed_ids),
                                                                     Message.batch_id.is_not(None)).distinct())
    messages = select(Message.id).where(Message.customer_id.in_(doomed_ids))
    # Children before their parents (the foreign keys are enforced); customer data with
    # RETURNING, so that each row's deletion is audited with its old values.
    session.execute(delete(MessageAttempt).where(MessageAttempt.message_id.in_(messages))
                    .execution_options(synchronize_session=False))
    session.execute(delete(Message).where(Message.customer_id.in_(doomed_ids))
                    .execution_options(synchronize_session=False))
    session.execute(delete(CustomerAlias).where(in_ids(session, CustomerAlias.customer_id, doomed))
                    .execution_options(synchronize_session=False))
    session.execute(delete(customer_tag).where(in_ids(session, customer_tag.c.customer_id, doomed)))
    if contact_of:
        _delete_audited(session, ContactPhone, ContactPhone.contact_id, list(contact_of),
                        lambda row: contact_of.get(row.contact_id))
    for model in (Note, CustomerFile, CustomValue, Contact, Address, CustomerService):
        _delete_audited(session, model, model.customer_id, doomed, lambda row: row.customer_id)
    deleted = _delete_audited(session, Customer, Customer.id, doomed, lambda row: row.id)
    if settings.files_folder:
        files.remove_after_commit(session, settings.files_folder, stored)
    return deleted, reasons


def _delete_audited(session: Session, model, column, ids: list[int], customer_of) -> int:
    """DELETE ... RETURNING the rows of `model` whose `column` is in `ids`, each audited as a
    delete with its old values (as the audit hook records an ORM delete)."""
    skipped = audit.SKIPPED_ALWAYS | audit.SKIPPED.get(model, set())
    key = list(model.__table__.primary_key.columns)[0].key  # the entity id, as the hook takes it
    columns = [c for c in model.__table__.c if c.key not in skipped or c.key == key]
    audited = [(i, c.key) for i, c in enumerate(columns) if c.key not in skipped]
    at = [c.key for c in columns].index(key)
    rows = session.execute(delete(model).where(in_ids(session, column, ids)).returning(*columns)
                           .execution_options(synchronize_session=False)).all()
    entries = []
    for row in rows:  # a bulk delete audits thousands of rows: plain tuple reads, text and numbers as they are
        values = tuple(row)
        changes = {}
        for i, name in audited:
            value = values[i]
            if value is not None:
                changes[name] = [value if type(value) is str or type(value) is int else audit._plain(value), None]
        entries.append((values[at], customer_of(row), changes))
    audit.record(session, model.__tablename__, "delete", entries)
    return len(rows)
