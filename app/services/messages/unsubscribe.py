"""The one-click unsubscribe link of every marketing e-mail: signed, public, no login.

The token names the recipient (a contact, or the customer itself when it has none)
and is signed with the app's secret, so it cannot be made up or pointed at someone else.
"""
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from app.models import Contact, Customer
from app.models.resellers import utcnow

SALT = "unsubscribe-marketing-email"


def _serializer(config: dict) -> URLSafeSerializer:
    return URLSafeSerializer(config["SECRET_KEY"], salt=SALT)


def token(config: dict, customer_id: int, contact_id: int | None) -> str:
    return _serializer(config).dumps([customer_id, contact_id or 0])


def url(config: dict, customer_id: int, contact_id: int | None) -> str:
    return f"{config.get('PUBLIC_URL', '').rstrip('/')}/unsubscribe/{token(config, customer_id, contact_id)}"


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
