"""The one-click unsubscribe link of every marketing e-mail: signed, public, no login.

The token names the recipient (a contact, or the customer itself when it has none)
and is signed with the app's secret, so it cannot be made up or pointed at someone else.

The link starts with the address people reach the app at (`base_url`): PUBLIC_URL, else the
host the request that writes the message came to. It is decided once, when the message is
written, and the body keeps it; nothing guesses a host or a port.
"""
from flask import has_request_context, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from app.models import Contact, Customer
from app.models.resellers import utcnow

SALT = "unsubscribe-marketing-email"


def _serializer(config: dict) -> URLSafeSerializer:
    return URLSafeSerializer(config["SECRET_KEY"], salt=SALT)


def token(config: dict, customer_id: int, contact_id: int | None) -> str:
    return _serializer(config).dumps([customer_id, contact_id or 0])


def base_url(config: dict) -> str | None:
    """The address people reach the app at, without a trailing slash: PUBLIC_URL when it is set,
    else the scheme, host and port the current request came to; None when neither is known (a
    worker or a command, without PUBLIC_URL).

    The one place the services read the request: a link in an e-mail must name the address the
    sender used, and only the request knows it when PUBLIC_URL is not set."""
    public = (config.get("PUBLIC_URL") or "").strip()
    if public:
        return public.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return None


def url(config: dict, customer_id: int, contact_id: int | None, base: str | None = None) -> str:
    """The recipient's unsubscribe link, under `base` (decided when the message was written),
    else under base_url(config). With neither (a worker sending without PUBLIC_URL) it is the
    path alone: the body's link, written with the address of the request, is the one to follow."""
    base = (base or base_url(config) or "").rstrip("/")
    return f"{base}/unsubscribe/{token(config, customer_id, contact_id)}"


FOOTER = "\n\n--\nTo stop receiving these e-mails, unsubscribe: "


def footer(link: str) -> str:
    """What a marketing e-mail's body ends with: the link, on a line of its own."""
    return FOOTER + link


def link_in(body: str | None) -> str | None:
    """The unsubscribe link a written message's body ends with (see footer), or None."""
    head, found, link = (body or "").rpartition(FOOTER)
    return link.strip() if found and link.strip() and "\n" not in link.strip() else None


def recipient(session: Session, config: dict, value: str) -> Contact | Customer | None:
    """Whom a token unsubscribes, or None for a forged, mangled or stale token."""
    try:
        customer_id, contact_id = _serializer(config).loads(value)
    except (BadSignature, ValueError, TypeError):
        return None
    if contact_id:
        contact = session.get(Contact, contact_id)
        return contact if contact is not None and contact.customer_id == customer_id else None
    return session.get(Customer, customer_id)


def unsubscribe(session: Session, who: Contact | Customer) -> None:
    """No more marketing e-mail; service messages (reminders, notices) still come. Audited."""
    who.marketing_email = False
    who.unsubscribed_at = utcnow()
    session.info["actor"] = (None, "unsubscribe link")
    try:
        session.commit()
    finally:
        session.info.pop("actor", None)


def display_address(who: Contact | Customer) -> str:
    """The address shown on the page, half hidden: "ad***@example.com"."""
    email = who.email or ""
    if "@" not in email:
        return "this address"
    local, domain = email.split("@", 1)
    return f"{local[:2]}***@{domain}"
