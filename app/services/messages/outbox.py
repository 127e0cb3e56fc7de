"""Writing messages to the outbox: one row per recipient, queued or skipped with its reason.

The rows are written in the transaction of the request that sends them; delivery
(app/services/messages/delivery.py) picks them up by id afterwards.
"""
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from app.jobs import tasks
from app.models import Contact, ContactPhone, Customer, Job, Message
from app.models.comms import MessageAttachment
from app.models.resellers import utcnow
from app.services import fields
from app.services import jobs
from app.services.db import commit, in_ids, insert_rows
from app.services.errors import AlreadyDone, FieldErrors, Invalid
from app.services.forms import claim_form_key
from app.services.messages import placeholders, sms, unsubscribe
from app.services.messages.preferences import skip_reason
from app.services.scope import load_in_scope

CHANNELS = {"email": "E-mail", "sms": "Text"}
ALREADY_SENT = "This message was already sent."
PURPOSES = {"service": "Service (reminders, notices, account)", "marketing": "Marketing (offers, news)"}
RECIPIENTS = {"primary": "The primary contact", "all": "Every contact"}
NO_PUBLIC_URL = ("Marketing e-mail carries an unsubscribe link, and the address people reach this app at is "
                 "not known here: set PUBLIC_URL.")
MAX_SUBJECT, MAX_EMAIL_BODY = 200, 50_000
# What one e-mail's files may weigh together: well under what mail servers take (often 20-25 MB,
# with base64 adding a third).
MAX_ATTACHMENT_BYTES = 16 * 1024 * 1024
CHUNK = 2000
CUSTOMER_COLUMNS = ("id", "name", "title", "first_name", "surname", "company_name", "email", "mobile", "balance",
                    "currency", "status")
CONTACT_COLUMNS = ("id", "customer_id", "title", "first_name", "surname", "email", "is_primary")
CUSTOMER_KEYS, CONTACT_KEYS = (*CUSTOMER_COLUMNS, "allows"), (*CONTACT_COLUMNS, "allows")


def clean(channel: str, data: dict) -> dict:
    """The compose form's values, checked; raises Invalid with every field error."""
    errors = FieldErrors()
    if channel not in CHANNELS:
        raise Invalid({"channel": "Choose e-mail or text."})
    out = {
        "channel": channel,
        "purpose": fields.choice(errors, "purpose", data.get("purpose") or "service", PURPOSES, required=True),
        "recipients": fields.choice(errors, "recipients", data.get("recipients") or "primary", RECIPIENTS,
                                    required=True),
        "subject": None,
    }
    body = (data.get("body") or "").replace("\r\n", "\n")
    if not body.strip():
        errors.add("body", "Write the message.")
    elif channel == "email" and len(body) > MAX_EMAIL_BODY:
        errors.add("body", f"An e-mail can be at most {MAX_EMAIL_BODY:,} characters.")
    elif channel == "sms":
        counted = sms.count(body)
        if counted.segments > sms.MAX_SEGMENTS:
            errors.add("body", f"This text would take {counted.segments} messages; at most {sms.MAX_SEGMENTS} "
                               f"({sms.MAX_SEGMENTS * counted.per_segment if counted.segments > 1 else 160:,} "
                               f"{counted.encoding} characters) can be sent.")
    placeholders.check(errors, "body", body)
    if channel == "email":
        subject = (data.get("subject") or "").strip()
        if not subject:
            errors.add("subject", "Write a subject.")
        elif len(subject) > MAX_SUBJECT or "\n" in subject or "\r" in subject:
            errors.add("subject", f"The subject must be one line of at most {MAX_SUBJECT} characters.")
        placeholders.check(errors, "subject", subject)
        out["subject"] = subject
    out["body"] = body
    errors.raise_if_any()
    return out


@dataclass
class Draft:
    """One message as it would be written: to whom, what, or why not."""

    customer_id: int
    contact_id: int | None
    recipient: str | None
    recipient_name: str
    subject: str | None
    body: str
    skip: str | None


def recipients(session: Session, customer_ids: list[int], values: dict):
    """(customer, contact or None, address, opted-in) for each recipient of these customers, in order:
    values' channel, purpose and recipients ("primary": the primary contact, else the customer)."""
    channel, purpose = values["channel"], values["purpose"]
    pref = f"{purpose}_{channel}"
    # Plain dicts, keyed as the columns plus "allows" (the opt-in this message needs).
    customers = {row[0]: dict(zip(CUSTOMER_KEYS, row)) for row in session.execute(
        select(*[Customer.__table__.c[c] for c in CUSTOMER_COLUMNS], Customer.__table__.c[pref])
        .where(in_ids(session, Customer.id, customer_ids)))}
    stmt = select(*[Contact.__table__.c[c] for c in CONTACT_COLUMNS], Contact.__table__.c[pref]).where(
        in_ids(session, Contact.customer_id, customer_ids))
    if values["recipients"] == "primary":
        stmt = stmt.where(Contact.is_primary.is_(True))
    contacts: dict[int, list[dict]] = {}
    for row in session.execute(stmt.order_by(Contact.customer_id, Contact.id)):
        contacts.setdefault(row[1], []).append(dict(zip(CONTACT_KEYS, row)))
    mobiles = {}
    if channel == "sms" and contacts:
        contact_ids = [c["id"] for cs in contacts.values() for c in cs]
        for contact_id, number in session.execute(
                select(ContactPhone.contact_id, func.min(ContactPhone.number))
                .where(in_ids(session, ContactPhone.contact_id, contact_ids), ContactPhone.kind == "mobile")
                .group_by(ContactPhone.contact_id)):
            mobiles[contact_id] = number
    for customer_id in customer_ids:
        customer = customers.get(customer_id)
        if customer is None:
            continue
        people = contacts.get(customer_id)
        if not people:
            address = customer["email"] if channel == "email" else customer["mobile"]
            yield customer, None, address, customer["allows"]
            continue
        for contact in people:
            address = contact["email"] if channel == "email" else mobiles.get(contact["id"])
            yield customer, contact, address, contact["allows"]


def link_base(values: dict, config: dict) -> str | None:
    """The address a marketing e-mail's unsubscribe links start with (unsubscribe.base_url),
    decided once for all its messages; None for messages that carry no link. Invalid when a
    marketing e-mail is written where that address is unknown (no PUBLIC_URL, no request)."""
    if values["channel"] != "email" or values["purpose"] != "marketing":
        return None
    base = unsubscribe.base_url(config)
    if base is None:
        raise Invalid({"purpose": NO_PUBLIC_URL})
    return base


def drafts(session: Session, customer_ids: list[int], values: dict, config: dict, base: str | None = None):
    """The messages these customers would get (or the reason each is skipped); a marketing
    e-mail's unsubscribe links start with `base` (link_base's, when not given)."""
    channel, purpose = values["channel"], values["purpose"]
    base = base or link_base(values, config)
    used = placeholders.names(values["body"]) | placeholders.names(values["subject"] or "")
    for customer, contact, address, allows in recipients(session, customer_ids, values):
        person = contact or customer
        name = " ".join(p for p in (person.get("first_name"), person.get("surname")) if p) or customer["name"]
        reason = skip_reason(customer["status"], allows, channel, purpose, address)
        filled = placeholders.values_for(customer, contact, address, used)
        body = placeholders.render(values["body"], filled)
        if channel == "email" and purpose == "marketing":
            body += unsubscribe.footer(unsubscribe.url(config, customer["id"], contact["id"] if contact else None,
                                                       base))
        subject = placeholders.render(values["subject"], filled) if values["subject"] else None
        yield Draft(customer["id"], contact["id"] if contact else None, address, name[:250],
                    subject[:MAX_SUBJECT] if subject else None, body, reason)


def preview(session: Session, customer_id: int, values: dict, config: dict) -> Draft | None:
    """The first recipient's message, as it will be sent."""
    return next(iter(drafts(session, [customer_id], values, config)), None)


def preview_for(session: Session, actor, channel: str, data: dict, config: dict, *, ids=None,
                matching=None) -> Draft | None:
    """The compose form checked (Invalid with every field error), and the message the first of
    the chosen customers would get (None when none is found)."""
    values = clean(channel, data)
    first = jobs.first_chosen(session, actor, ids=ids, matching=matching)
    return preview(session, first, values, config) if first else None


def send(session: Session, actor, channel: str, data: dict, form_key, config: dict, *, ids=None,
         matching=None) -> Job:
    """The command behind "Send": claim the form's key, check the message, write one message per
    recipient to the outbox (queued, or skipped with its reason) as a job, commit, then queue
    their delivery. Returns the job (its page follows the delivery).

    Raises Invalid with every field error (a marketing e-mail where the app's address is
    unknown: link_base), AlreadyDone for a form sent before; nothing is written then."""
    values = clean(channel, data)
    base = link_base(values, config)
    if not claim_form_key(session, form_key):
        raise AlreadyDone(ALREADY_SENT)
    job = start(session, actor, values, ids=ids, matching=matching)
    queued = write(session, job, config, base)
    commit(session)
    tasks.queue_delivery(queued)
    return job


def start(session: Session, actor, values: dict, *, ids=None, matching=None) -> Job:
    """A messages job for the chosen customers (see jobs.new_job); flushed, not committed."""
    return jobs.new_job(session, actor, "email" if values["channel"] == "email" else "sms", values,
                        ids=ids, matching=matching)


def write(session: Session, job: Job, config: dict, base: str | None = None) -> list[int]:
    """Write the job's messages to the outbox (not committed); returns the ids queued for delivery.
    Unsubscribe links start with `base` (link_base's when not given: Invalid for marketing
    e-mail where the app's address is unknown)."""
    values = job.params
    base = base or link_base(values, config)
    skipped, queued_count = Counter(), 0
    now = utcnow()
    for customer_ids in jobs.customer_chunks(session, job, CHUNK):
        rows = []
        for draft in drafts(session, customer_ids, values, config, base):
            rows.append({
                "customer_id": draft.customer_id, "contact_id": draft.contact_id, "channel": values["channel"],
                "purpose": values["purpose"], "kind": "message", "direction": "out", "recipient": draft.recipient,
                "recipient_name": draft.recipient_name, "subject": draft.subject, "body": draft.body,
                "status": "skipped" if draft.skip else "queued", "skip_reason": draft.skip, "attempts": 0,
                "batch_id": job.id, "created_by": job.username, "created_at": now, "due_at": now,
            })
            if draft.skip:
                skipped[draft.skip] += 1
            else:
                queued_count += 1
        insert_rows(session, Message.__table__, rows)
        job.done += len(customer_ids)
    jobs.finish(session, job)
    job.result = {**(job.result or {}), "queued": queued_count, "skipped": dict(skipped)}
    return list(session.scalars(select(Message.id).where(Message.batch_id == job.id, Message.status == "queued")
                                .order_by(Message.id)))


@dataclass(frozen=True)
class Attachment:
    """A file for an e-mail: its name as the recipient sees it, its type, its bytes."""

    filename: str
    content_type: str
    content: bytes


def attach(session: Session, message: Message, files: list[Attachment]) -> None:
    """Add `files` to an e-mail being written (added and flushed with it, not committed).

    Raises Invalid ("attachments") for a text, or when the files weigh more than
    MAX_ATTACHMENT_BYTES together."""
    if message.channel != "email":
        raise Invalid({"attachments": "Only an e-mail carries files."})
    total = sum(len(f.content) for f in files)
    if total > MAX_ATTACHMENT_BYTES:
        raise Invalid({"attachments": f"The attached files come to {total / 1024 / 1024:.1f} MB: an e-mail "
                                      f"can carry at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB."})
    if message.id is None:
        session.add(message)
        session.flush()
    session.add_all(MessageAttachment(message_id=message.id, filename=f.filename, content_type=f.content_type,
                                      size=len(f.content), content=f.content) for f in files)
    session.flush()


def attachments_of(session: Session, message_id: int) -> list[Attachment]:
    """The files an e-mail carries, in the order they were attached."""
    return [Attachment(*row) for row in session.execute(
        select(MessageAttachment.filename, MessageAttachment.content_type, MessageAttachment.content)
        .where(MessageAttachment.message_id == message_id).order_by(MessageAttachment.id))]


def attachment_list(session: Session, message_id: int) -> list[tuple[int, str, int]]:
    """(id, file name, size) of each file an e-mail carries, without their bytes (its page)."""
    return [tuple(row) for row in session.execute(
        select(MessageAttachment.id, MessageAttachment.filename, MessageAttachment.size)
        .where(MessageAttachment.message_id == message_id).order_by(MessageAttachment.id))]


def attachment(session: Session, message_id: int, attachment_id: int) -> MessageAttachment | None:
    """One file of a message the caller has already found within the user's scope."""
    return session.scalar(select(MessageAttachment).where(MessageAttachment.message_id == message_id,
                                                          MessageAttachment.id == attachment_id))


def brief(session: Session, message_id):
    """A message's status, direction, channel and customer (what its page's buttons depend on);
    the caller has already found it within the user's scope."""
    return session.execute(select(Message.status, Message.direction, Message.channel, Message.customer_id)
                           .where(Message.id == fields.record_id(message_id))).first()


def may_resend(message) -> bool:
    """Only an outgoing message that failed, or may have gone out (uncertain), is sent again."""
    return message.status in ("failed", "uncertain") and message.direction == "out"


def resend(session: Session, actor, message_id) -> Message:
    """A failed (or uncertain) message in the actor's scope, queued again as a new message (the old one
    stays, with its log), committed, then its delivery queued. NotFound outside the scope. The copy has
    the old one's files, and the PDF its delivery is to render when the old one had none stored yet
    (attach_statement_on, attach_invoice_id). A hand-sent reminder's leave to go despite the customer's
    status (sent_despite_status) is not copied: it was Finance's or an Admin's, and a resend is anyone's."""
    message = load_in_scope(session, actor, Message, message_id, (Customer,), "No such message.")
    if not may_resend(message):
        raise Invalid({"status": "Only a message that failed or may not have gone out can be sent again."})
    copy = Message(customer_id=message.customer_id, contact_id=message.contact_id, channel=message.channel,
                   purpose=message.purpose, kind=message.kind, direction="out", recipient=message.recipient,
                   recipient_name=message.recipient_name, subject=message.subject, body=message.body,
                   status="queued", attempts=0, resend_of_id=message.id,
                   attach_statement_on=message.attach_statement_on, attach_invoice_id=message.attach_invoice_id,
                   created_by=getattr(actor, "username", None))
    session.add(copy)
    session.flush()
    # The copy carries the same files (copied in the database: the bytes never come through here).
    att = MessageAttachment.__table__
    session.execute(insert(att).from_select(
        ["message_id", "filename", "content_type", "size", "content"],
        select(literal(copy.id), att.c.filename, att.c.content_type, att.c.size, att.c.content)
        .where(att.c.message_id == message.id).order_by(att.c.id)))
    commit(session)
    tasks.queue_delivery([copy.id])
    return copy


jobs.register("email", "Send an e-mail", messages=True)
jobs.register("sms", "Send a text", messages=True)
