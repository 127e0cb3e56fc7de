"""Messages from customers: a text or e-mail that arrives is kept on the customer it came from.

The SMS gateway (or a mail hook) posts each one to the app (app/views/messages.py). Who
sent it is found, in this order, from:
1. the last message we sent to that address (it is most likely a reply to it);
2. a contact with that e-mail address or phone number;
3. a customer with that e-mail address or phone number.
A live customer is preferred to an archived one. Nobody found: nothing is written, and the
caller says so.
"""
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from app.models import Contact, ContactPhone, Customer, Message
from app.models.resellers import utcnow
from app.services import fields
from app.services.db import commit
from app.services.errors import FieldErrors
from app.services.messages.outbox import CHANNELS, MAX_EMAIL_BODY, MAX_SUBJECT
from app.services.settings import settings

LIVE_FIRST = case((Customer.status == "archived", 1), else_=0)


def clean(channel: str, data: dict) -> dict:
    """The sender, subject and body of a received message; raises Invalid naming each bad field."""
    errors = FieldErrors()
    if channel not in CHANNELS:
        errors.add("channel", "Messages can be received by e-mail or text.")
        errors.raise_if_any()
    if channel == "email":
        sender = fields.email(errors, "from", data.get("from"), required=True)
    else:
        sender = fields.phone(errors, "from", data.get("from"), settings.phone_region, required=True,
                              possible=True)
    # The text rules of everything typed into the app: no NUL (PostgreSQL cannot store it),
    # control characters or bidirectional overrides.
    body = fields.long_text(errors, "body", data.get("body"), MAX_EMAIL_BODY, required=True, label="The message")
    subject = None
    if channel == "email":  # one line, however the mail hook folded it; cut to what the column holds
        subject = fields.text(errors, "subject", " ".join(str(data.get("subject") or "").split())[:MAX_SUBJECT],
                              MAX_SUBJECT, label="Subject")
    errors.raise_if_any()
    return {"channel": channel, "sender": sender, "subject": subject, "body": body}


def sender_of(session: Session, channel: str, address: str) -> tuple[int, int | None] | None:
    """(customer id, contact id or None) of whoever sends from `address`, or None."""
    replied_to = session.execute(
        select(Message.customer_id, Message.contact_id).join(Customer, Customer.id == Message.customer_id)
        .where(Message.recipient == address, Message.channel == channel, Message.direction == "out")
        .order_by(LIVE_FIRST, Message.id.desc()).limit(1)).first()
    if replied_to:
        return replied_to.customer_id, replied_to.contact_id
    contacts = select(Contact.customer_id, Contact.id).join(Customer, Customer.id == Contact.customer_id)
    if channel == "email":
        contacts = contacts.where(Contact.email == address)
    else:
        contacts = contacts.join(ContactPhone, ContactPhone.contact_id == Contact.id).where(
            ContactPhone.number == address)
    contact = session.execute(contacts.order_by(LIVE_FIRST, Contact.is_primary.desc(), Contact.id).limit(1)).first()
    if contact:
        return contact.customer_id, contact.id
    column = Customer.email if channel == "email" else Customer.phone
    customer_id = session.scalar(select(Customer.id).where(column == address).order_by(LIVE_FIRST, Customer.id)
                                 .limit(1))
    return (customer_id, None) if customer_id else None


def receive(session: Session, channel: str, data: dict) -> Message | None:
    """Keep a received message on the customer who sent it (committed); None if nobody matches."""
    values = clean(channel, data)
    found = sender_of(session, channel, values["sender"])
    if found is None:
        return None
    customer_id, contact_id = found
    name = None
    if contact_id:
        contact = session.get(Contact, contact_id)
        name = contact.name if contact else None
    name = name or session.scalar(select(Customer.name).where(Customer.id == customer_id))
    now = utcnow()
    message = Message(customer_id=customer_id, contact_id=contact_id, channel=channel, purpose="service",
                      kind="message", direction="in", recipient=values["sender"], recipient_name=(name or "")[:250],
                      subject=values["subject"], body=values["body"], status="received", attempts=0,
                      created_at=now, sent_at=now)
    session.add(message)
    commit(session)
    return message
