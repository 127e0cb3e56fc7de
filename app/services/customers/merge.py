"""Merging a duplicate customer into another (the survivor), in one transaction.

Everything on the duplicate moves to the survivor: contacts, addresses, notes, files,
messages, services, tags (a tag on both stays once), custom field values (the survivor's
own win), its money, its payment reminders (the overdue episode further along goes on), and its audit
trail. Fields empty on the survivor are filled from the duplicate.
The duplicate is then deleted, and its id kept as an alias that leads to the survivor.

Refused when the two have different currencies (their money could not be added up), when
either is outside the user's scope, and to a user whose roles lack `can_merge` on customers
(MERGE: the Admin's by default; admins may give it to any role in the browser).
"""
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.models import (
    Address,
    AuditEntry,
    Contact,
    Customer,
    CustomerAlias,
    CustomerFile,
    CustomerService,
    Message,
    Note,
    customer_tag,
)
from app.models.custom_fields import CustomValue
from app.models.money import Adjustment, Allocation, Invoice, LedgerEntry, Payment, Release
from app.models.quotes import Quote
from app.models.cards import CardCharge, StoredCard
from app.models.credit_notes import CreditNote
from app.models.reminders import PaymentReminder, ReminderState
from app.services import audit, permissions
from app.services.billing import POST_MONEY, ledger
from app.services.billing.payments import has_money
from app.services.db import commit
from app.services.errors import Invalid, NotFound
from app.services.fields import record_id
from app.services.scope import get_customer

MERGE = ("can_merge", "CustomerView")
# Filled on the survivor from the duplicate when empty (None or "").
FILLED = ("title", "first_name", "surname", "company_name", "email", "phone", "mobile", "advertising_source",
          "creditor_days", "building_type", "third_party_reference", "reseller_id")
# Children that simply change hands, with what the confirmation calls them.
MOVED = {Contact: "Contacts", Address: "Addresses", Note: "Notes", CustomerFile: "Files", Message: "Messages",
         CustomerService: "Services", Invoice: "Invoices", Quote: "Quotes", Payment: "Payments and credits",
         Allocation: "Allocations", Release: "Refunds and voided credit", Adjustment: "Balance adjustments",
         LedgerEntry: "Ledger entries", CreditNote: "Credit notes", StoredCard: "Cards", CardCharge: "Card charges"}


@dataclass
class Preview:
    """What a merge would do, for the confirmation page."""

    survivor: Customer
    duplicate: Customer
    moving: dict[str, int]
    filled: dict[str, object]


def _pair(session: Session, actor, survivor_id, duplicate_id) -> tuple[Customer, Customer]:
    survivor = get_customer(session, actor, survivor_id)  # another reseller's: NotFound, as everywhere
    permissions.require(session, actor, MERGE, message="You may not merge customers.")
    try:
        duplicate = get_customer(session, actor, duplicate_id)
    except NotFound:
        raise Invalid({"duplicate": "No customer with this ID can be merged here."}) from None
    if duplicate.id == survivor.id:
        raise Invalid({"duplicate": "A customer cannot be merged into itself."})
    if duplicate.currency != survivor.currency:
        raise Invalid({"duplicate": f"The customers have different currencies ({duplicate.currency} and "
                                    f"{survivor.currency}): their money cannot be merged."})
    if has_money(session, duplicate.id):  # moving invoices, payments and the ledger is posting money
        permissions.require(session, actor, POST_MONEY, message="This duplicate has invoices, payments or credits: "
                                                                "only who may post money (Finance, Admin) merges it.")
    return survivor, duplicate


def _empty(value) -> bool:
    return value is None or value == ""


def preview(session: Session, actor, survivor_id, duplicate_id) -> Preview:
    survivor, duplicate = _pair(session, actor, survivor_id, duplicate_id)
    moving = {label: session.scalar(select(func.count()).select_from(model).where(model.customer_id == duplicate.id))
              for model, label in MOVED.items()}
    moving["Tags"] = session.scalar(select(func.count()).select_from(customer_tag)
                                    .where(customer_tag.c.customer_id == duplicate.id))
    moving["Payment reminders sent"] = session.scalar(select(func.count()).select_from(PaymentReminder)
                                                      .where(PaymentReminder.customer_id == duplicate.id))
    moving["Custom field values"] = session.scalar(select(func.count()).select_from(CustomValue)
                                                   .where(CustomValue.customer_id == duplicate.id))
    filled = {name: getattr(duplicate, name) for name in FILLED
              if _empty(getattr(survivor, name)) and not _empty(getattr(duplicate, name))}
    return Preview(survivor, duplicate, moving, filled)


def merge(session: Session, actor, survivor_id, duplicate_id) -> Customer:
    """Merge the duplicate into the survivor (committed); returns the survivor."""
    plan = preview(session, actor, survivor_id, duplicate_id)
    survivor, duplicate = plan.survivor, plan.duplicate
    sid, did = survivor.id, duplicate.id
    for customer_id in sorted((sid, did)):  # the money of both stays still until the merge commits
        ledger.lock(session, customer_id)
    # One billing address and one primary contact: the survivor's stay so, the duplicate's give way.
    if session.scalar(select(Address.id).where(Address.customer_id == sid, Address.kind == "billing")):
        session.execute(update(Address).where(Address.customer_id == did, Address.kind == "billing")
                        .values(kind="site"))
    if session.scalar(select(Contact.id).where(Contact.customer_id == sid, Contact.is_primary.is_(True))):
        session.execute(update(Contact).where(Contact.customer_id == did).values(is_primary=False))
    # One default card: the survivor's, if it has one.
    if session.scalar(select(StoredCard.id).where(StoredCard.customer_id == sid, StoredCard.is_default.is_(True))):
        session.execute(update(StoredCard).where(StoredCard.customer_id == did).values(is_default=False))
    for model in MOVED:
        session.execute(update(model).where(model.customer_id == did).values(customer_id=sid)
                        .execution_options(synchronize_session=False))
    # Tags: the duplicate's that the survivor lacks.
    session.execute(insert(customer_tag).from_select(
        ["customer_id", "tag_id"],
        select(sid, customer_tag.c.tag_id).where(customer_tag.c.customer_id == did, customer_tag.c.tag_id.not_in(
            select(customer_tag.c.tag_id).where(customer_tag.c.customer_id == sid)))))
    session.execute(delete(customer_tag).where(customer_tag.c.customer_id == did))
    _merge_custom_values(session, sid, did)
    _merge_reminders(session, sid, did)
    # The duplicate's history becomes the survivor's; its old aliases now lead to the survivor.
    session.execute(update(AuditEntry).where(AuditEntry.customer_id == did).values(customer_id=sid))
    session.execute(update(CustomerAlias).where(CustomerAlias.customer_id == did).values(customer_id=sid))
    ledger.merged(session, survivor, duplicate)
    session.expire(duplicate)
    # The duplicate goes before its e-mail address moves (unique among live customers).
    session.execute(delete(Customer).where(Customer.id == did))
    session.flush()
    for name, value in plan.filled.items():
        setattr(survivor, name, value)
    session.add(CustomerAlias(alias_id=did, customer_id=sid, merged_by=getattr(actor, "username", None)))
    audit.record(session, "customer", "merge", [(sid, sid, {
        "merged": [did, None], **{k: [None, audit._plain(v)] for k, v in plan.filled.items()}})])
    audit.record(session, "customer", "delete", [(did, sid, {"merged into": [None, sid]})])
    commit(session)
    return survivor


def _merge_custom_values(session: Session, sid: int, did: int) -> None:
    """Custom field values: the duplicate's fill the survivor's empty fields."""
    session.execute(update(CustomValue).where(CustomValue.customer_id == did, CustomValue.field_id.not_in(
        select(CustomValue.field_id).where(CustomValue.customer_id == sid))).values(customer_id=sid)
        .execution_options(synchronize_session=False))
    session.execute(delete(CustomValue).where(CustomValue.customer_id == did))


# What an overdue episode is, in reminder_state: carried over whole from the duplicate when its is further along.
EPISODE = ("episode_started_on", "last_step", "last_sent_on", "next_reminder_on", "next_moved", "suspended_on",
           "suspension_held")


def _merge_reminders(session: Session, sid: int, did: int) -> None:
    """Payment reminders (reminders.py): the duplicate's sent reminders join the survivor's history and the
    merged account carries on the open overdue episode further along (the higher last step), so its
    debts already reminded are not reminded from the first step again. Reminder rows are keyed (customer,
    episode, step): the duplicate's are numbered after the survivor's episodes when its episode goes on
    (the survivor's counter moves to it), else below 1 (history only: the survivor's next episodes never
    meet them). A postponed suspension keeps the later of the two dates."""
    gone = session.get(ReminderState, did)
    if gone is None:
        return
    kept = session.get(ReminderState, sid)
    if kept is None:
        kept = ReminderState(customer_id=sid, episode=0)
        session.add(kept)
    further = gone.episode_started_on is not None and (
        kept.episode_started_on is None or (gone.last_step or 0) > (kept.last_step or 0))
    shift = kept.episode if further else -gone.episode
    session.execute(update(PaymentReminder).where(PaymentReminder.customer_id == did)
                    .values(customer_id=sid, episode=PaymentReminder.episode + shift)
                    .execution_options(synchronize_session=False))
    if further:
        kept.episode = gone.episode + shift
        for name in EPISODE:
            setattr(kept, name, getattr(gone, name))
    postponed = [d for d in (kept.suspension_postponed_until, gone.suspension_postponed_until) if d]
    kept.suspension_postponed_until = max(postponed, default=None)
    session.delete(gone)
    session.flush()


def alias_target(session: Session, actor, customer_id) -> int | None:
    """The customer a merged-away id leads to, if the actor may see it; else None."""
    alias_id = record_id(customer_id)
    alias = session.get(CustomerAlias, alias_id) if alias_id is not None else None
    if alias is None:
        return None
    try:
        return get_customer(session, actor, alias.customer_id).id
    except NotFound:
        return None
