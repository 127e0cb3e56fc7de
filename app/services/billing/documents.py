"""An invoice or a quote as a document: its PDF, and e-mailing it with the PDF attached.

One machinery for every kind of priced document: each function takes the document and its `Kind`
(INVOICE, QUOTE: its title, the date that closes it, whether amounts are owed on it, how it is
loaded within the user's scope). The invoice names (invoice_pdf, email_invoice, email_recipients,
email_defaults, filename_for, invoice_document, invoice_html) stay as they were, for the invoice.
A quote's PDF says "Quote", its expiry date instead of a due date and no amounts paid or
outstanding. E-mailing a DRAFT quote sends it (its number, status sent: quotes.send_in) in the
same transaction as the message, as Payaca's "send estimate" does; a declined or expired quote is
not e-mailed.

The PDF is templates/invoices/pdf.html rendered by xhtml2pdf: the company's letterhead
(services/company.letterhead, its logo as a data URI), the invoice's stored billing address (a
draft: the customer's current one, marked DRAFT), its lines, the tax per rate, its totals and what
is outstanding, all from the stored figures (services/billing/invoices.py computed them once)
formatted by services/money.format. Nothing is recomputed here.

Anyone who sees the invoice (its customer is in the user's scope: get_invoice, else NotFound) may
have its PDF; the route asks can_pdf. E-mailing it posts a message, so it asks POST_MONEY, and is
one command: the permission, the invoice, the form's fields, the form's key (the same key twice
sends once), the message and its PDF written to the outbox, commit, then its delivery queued.
The recipient's preferences are respected as the outbox does for service e-mail: a customer who
is archived, blocked or dormant, or a recipient who opted out of service e-mail, is not sent it;
the message is kept as skipped, with the reason.
"""
import base64
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import tasks
from app.models import Contact, Customer, Invoice, Message
from app.services import company, fields, money, permissions
from app.services.billing import POST_MONEY, ledger, quotes
from app.services.billing.invoices import billing_address, get_invoice, tax_by_rate
from app.services.billing.tax import EXEMPT
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Invalid, ServiceError
from app.services.forms import claim_form_key
from app.services.messages import outbox
from app.services.messages.preferences import skip_reason
from app.services.settings import settings

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# The PDFs' font: DejaVu Sans (its licence beside it), embedded so that names in any European,
# Greek or Cyrillic script print (Helvetica, xhtml2pdf's own, has Latin-1 alone). The only local
# files a PDF reads; the logo is a data URI.
FONTS = Path(__file__).resolve().parents[2] / "static" / "fonts"
PDF_TYPE = "application/pdf"
ALREADY_EMAILED = "This invoice was already e-mailed with this form: it was not sent twice."
STATUS_WORDS = {"draft": "Draft", "issued": "Issued", "part_paid": "Part paid", "paid": "Paid", "void": "Void"}

# Our own Jinja environment: the document is made without a request (a job may make it), and the
# template prints what this module gives it.
_templates = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                         trim_blocks=True, lstrip_blocks=True)
_templates.globals["fonts"] = FONTS.as_posix()  # the PDFs' @font-face (invoices/_pdf.html)


class PdfError(ServiceError):
    """xhtml2pdf could not make the document (a bug in the template, never the user's input)."""

    status = 500


@dataclass(frozen=True)
class Recipient:
    label: str  # "Ada Lovelace <ada@example.com>", what the form lists
    address: str
    name: str
    contact_id: int | None
    allows: bool  # opted in to service e-mail


def _invoice_mailable(invoice) -> None:
    if invoice.status == "draft":
        raise Invalid({"status": "A draft cannot be e-mailed: issue it first."})
    if invoice.status == "void":
        raise Invalid({"status": f"Invoice {invoice.number} is void: it is not e-mailed."})


def _quote_mailable(quote) -> None:
    if quote.status == "declined":
        raise Invalid({"status": f"Quote {quote.number} was declined: it is not e-mailed."})
    if quotes.is_expired(quote):
        raise Invalid({"status": f"Quote {quote.number} expired on {quote.expires_on.isoformat()}: move its "
                                 f"expiry date before e-mailing it."})


@dataclass(frozen=True)
class Kind:
    """What differs between the kinds of priced document made into PDFs and e-mailed."""

    name: str  # "invoice": file names, messages
    title: str  # "Invoice"
    load: Callable  # (session, actor, id) -> the document within the actor's scope, else NotFound
    closes_label: str  # the PDF's label of the date that closes it: "Due", "Expires"
    closes_on: str  # that date's attribute: "due_date", "expires_on"
    owed: bool  # amounts paid and outstanding, "How to pay"
    draft_note: str  # under "DRAFT INVOICE" on the PDF
    to_label: str  # above the address: "Bill to"
    mailable: Callable  # (document) -> None, or Invalid: why it is not e-mailed
    status_words: dict


INVOICE = Kind("invoice", "Invoice", get_invoice, "Due", "due_date", True, "Not issued: not a demand for payment.",
               "Bill to", _invoice_mailable, STATUS_WORDS)
QUOTE = Kind("quote", "Quote", quotes.get_quote, "Expires", "expires_on", False,
             "Not sent yet: not an offer.", "Prepared for", _quote_mailable,
             {"draft": "Draft", "sent": "Sent", "accepted": "Accepted", "declined": "Declined",
              "expired": "Expired"})


def filename_for(document, kind: Kind = INVOICE) -> str:
    """A name safe in any file system and header: invoice-INV-12.pdf (draft-invoice-7.pdf),
    quote-QUO-3.pdf."""
    if document.number is None:
        return f"draft-{kind.name}-{document.id}.pdf"
    return f"{kind.name}-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", document.number).strip("-.") or str(document.id)) \
        + ".pdf"


@dataclass(frozen=True)
class RateToBase:
    """An issued document's stored rate to the base currency, as shown: "1 USD = 0.8 GBP"."""

    currency: str
    base: str
    rate: str  # without trailing zeros
    rate_on: str  # the rate's date, YYYY-MM-DD
    total: str  # the document's total in the base currency, formatted


def rate_to_base(document) -> RateToBase | None:
    """The rate the document was issued with (Invoice.fx_rate, fx_rate_on) when its currency is not
    the base currency; None otherwise, and for a document that keeps no rate (a draft, one issued
    while no rate was known, a quote)."""
    rate, rate_on = getattr(document, "fx_rate", None), getattr(document, "fx_rate_on", None)
    base = settings.base_currency
    if rate is None or rate_on is None or document.currency == base:
        return None
    return RateToBase(document.currency, base, f"{rate.normalize():f}", rate_on.isoformat(),
                      money.format(document.total * rate, base))


def _day(value: date | None) -> str:
    return format_date(value, "d MMMM y", locale=money.DEFAULT_LOCALE) if value else ""


def _quantity(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _lines_of(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


def document(session: Session, invoice, config: dict, kind: Kind = INVOICE) -> dict:
    """What the template prints, every amount formatted in the document's currency. The document's
    facts are under "invoice" whatever its kind (the template's name for them), its kind's words
    under "kind"."""
    currency = invoice.currency

    def amount(value) -> str:
        return money.format(value, currency)

    head = company.letterhead(session, config)
    logo = (f"data:{head.logo_type};base64,{base64.b64encode(head.logo).decode()}"
            if head.logo and head.logo_type else None)
    draft = invoice.status == "draft"
    address = getattr(invoice, "billing_address", None) if not draft else None
    if address is None:  # a draft, or a document that keeps no address (a quote): the customer's own
        address = billing_address(session, session.get(Customer, invoice.customer_id), invoice)
    lines = [{
        "description": line.description, "quantity": _quantity(line.quantity), "unit_price": amount(line.unit_price),
        "tax": EXEMPT if line.tax_name == EXEMPT else (
            f"{line.tax_percent.normalize():f}%" if line.tax_name else "No tax"),
        "net": amount(line.net),
    } for line in invoice.lines]
    taxes = [{
        "name": EXEMPT if name == EXEMPT else (name or "No tax"),
        "percent": "" if name == EXEMPT or not name else f"{percent.normalize():f}%",
        "net": amount(net), "tax": amount(tax_),
    } for name, percent, net, tax_ in tax_by_rate(invoice)]
    owed = kind.owed and not draft and invoice.status != "void"
    paid = invoice.total - invoice.outstanding if kind.owed and invoice.status in ("issued", "part_paid", "paid") \
        else None
    status = quotes.shown_status(invoice) if kind is QUOTE else invoice.status
    return {
        "company": {"name": head.name, "address": _lines_of(head.address), "tax_number": head.tax_number,
                    "bank_details": _lines_of(head.bank_details), "logo": logo},
        "kind": {"title": kind.title, "heading": kind.title.upper(), "closes_label": kind.closes_label,
                 "draft_note": kind.draft_note, "to_label": kind.to_label, "owed": kind.owed},
        "invoice": {
            "title": "DRAFT" if draft else invoice.number, "number": invoice.number, "draft": draft,
            "void": invoice.status == "void", "status": kind.status_words.get(status, status),
            "issue_date": _day(invoice.issue_date), "due_date": _day(getattr(invoice, kind.closes_on)),
            "currency": currency, "billing_address": _lines_of(address), "notes": _lines_of(invoice.notes),
            "net_total": amount(invoice.net_total), "tax_total": amount(invoice.tax_total),
            "total": amount(invoice.total), "paid": amount(paid) if paid else None,
            "outstanding": amount(invoice.outstanding) if owed else None,
            "to_base": rate_to_base(invoice),
        },
        "lines": lines,
        "taxes": taxes,
    }


def invoice_html(session: Session, invoice: Invoice, config: dict, pages: int = 1) -> str:
    """The invoice as the HTML xhtml2pdf turns into the PDF; its footer says "Page n of `pages`"."""
    return document_html(session, invoice, config, INVOICE, pages)


def document_html(session: Session, doc, config: dict, kind: Kind = INVOICE, pages: int = 1) -> str:
    """Any kind's document as the HTML of its PDF."""
    return _html(document(session, doc, config, kind), pages)


def _html(data: dict, pages: int) -> str:
    return _templates.get_template("invoices/pdf.html").render(**data, pages=pages)


def render_pdf(html: str) -> bytes:
    from xhtml2pdf import pisa  # imported when a document is made: it is slow to import
    from xhtml2pdf.config.resources import ResourceAccessPolicy
    out = io.BytesIO()
    policy = ResourceAccessPolicy(base_dir=FONTS, allow_remote=False)  # nothing else, whatever the HTML says
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", resource_policy=policy)
    if result.err:
        raise PdfError("The document's PDF could not be made.")
    return out.getvalue()


_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def page_count(pdf: bytes) -> int:
    return len(_PAGE.findall(pdf))


def invoice_document(session: Session, invoice: Invoice, config: dict) -> bytes:
    """The invoice's PDF (pdf_of with INVOICE)."""
    return pdf_of(session, invoice, config, INVOICE)


def pdf_of(session: Session, doc, config: dict, kind: Kind = INVOICE) -> bytes:
    """The document's PDF. xhtml2pdf's <pdf:pagecount/> makes it lay the document out twice (three
    times slower); the count is printed as text instead, guessed as 1 and made again with the
    real count in the rare case of a longer document."""
    data = document(session, doc, config, kind)
    pdf = render_pdf(_html(data, 1))
    pages = page_count(pdf)
    if pages > 1:
        pdf = render_pdf(_html(data, pages))
    return pdf


def document_pdf(session: Session, actor, doc_id, config: dict, kind: Kind = INVOICE) -> tuple[str, bytes]:
    """(filename, PDF bytes) of a document `actor` may see; NotFound for another reseller's or a
    missing one. Reads only: nothing is written."""
    doc = kind.load(session, actor, doc_id)
    return filename_for(doc, kind), pdf_of(session, doc, config, kind)


def invoice_pdf(session: Session, actor, invoice_id, config: dict) -> tuple[str, bytes]:
    """(filename, PDF bytes) of an invoice `actor` may see (document_pdf with INVOICE)."""
    return document_pdf(session, actor, invoice_id, config, INVOICE)


def quote_pdf(session: Session, actor, quote_id, config: dict) -> tuple[str, bytes]:
    """(filename, PDF bytes) of a quote `actor` may see (document_pdf with QUOTE)."""
    return document_pdf(session, actor, quote_id, config, QUOTE)


# --- e-mailing it ----------------------------------------------------------------------------

def _recipients(session: Session, customer_id: int) -> list[Recipient]:
    customer = session.get(Customer, customer_id)
    found, seen = [], set()
    if customer.email:
        found.append(Recipient(f"{customer.name} <{customer.email}>", customer.email, customer.name, None,
                               customer.service_email))
        seen.add(customer.email.lower())
    for contact in session.scalars(select(Contact).where(Contact.customer_id == customer_id,
                                                         Contact.email.is_not(None))
                                   .order_by(Contact.is_primary.desc(), Contact.id)):
        if contact.email.lower() in seen:
            continue
        seen.add(contact.email.lower())
        name = " ".join(p for p in (contact.first_name, contact.surname) if p) or customer.name
        found.append(Recipient(f"{name} <{contact.email}>", contact.email, name, contact.id, contact.service_email))
    return found


def recipients(session: Session, customer_id: int) -> list[Recipient]:
    """Every address a document of the customer may be e-mailed to (see email_recipients)."""
    return _recipients(session, customer_id)


def email_recipients(session: Session, actor, invoice_id, kind: Kind = INVOICE) -> list[tuple[str, str]]:
    """(label, address) of each e-mail address the document may be sent to: the customer's own, then
    its contacts' (primary first), each address once. Empty: e-mail is not offered."""
    doc = kind.load(session, actor, invoice_id)
    return [(r.label, r.address) for r in _recipients(session, doc.customer_id)]


def email_defaults(session: Session, invoice, config: dict, kind: Kind = INVOICE) -> dict:
    """The subject and body the form starts with."""
    name = company.letterhead(session, config).name
    total = money.format(invoice.total, invoice.currency)
    if kind is QUOTE:
        number = f"quote {invoice.number}" if invoice.number else "our quote"
        subject = (f"Quote {invoice.number}" if invoice.number else "Quote") + (f" from {name}" if name else "")
        body = (f"Hello,\n\nPlease find attached {number} for {total}, valid until {_day(invoice.expires_on)}.\n\n"
                f"Kind regards,\n{name or ''}").rstrip() + "\n"
        return {"subject": subject[:outbox.MAX_SUBJECT], "body": body}
    return invoice_words(invoice, name)


def invoice_words(invoice, name: str | None) -> dict:
    """An issued invoice's e-mail subject and body from `name` (the letterhead's): email_defaults' words,
    for a writer of many e-mails (a billing run) that reads the letterhead once. `invoice` needs number,
    total, currency, status, outstanding and due_date."""
    total = money.format(invoice.total, invoice.currency)
    subject = f"Invoice {invoice.number}" + (f" from {name}" if name else "")
    owed = ""
    if invoice.status == "part_paid":
        owed = f" ({money.format(invoice.outstanding, invoice.currency)} still to pay)"
    elif invoice.status == "paid":
        owed = " (paid, with thanks)"
    due = f", due on {_day(invoice.due_date)}" if invoice.due_date and invoice.status != "paid" else ""
    body = (f"Hello,\n\nPlease find attached invoice {invoice.number} for {total}{owed}{due}.\n\n"
            f"Kind regards,\n{name or ''}").rstrip() + "\n"
    return {"subject": subject[:outbox.MAX_SUBJECT], "body": body}


def _mailable(invoice: Invoice) -> None:
    _invoice_mailable(invoice)


def _clean(data: dict, recipients: list[Recipient], defaults: dict) -> tuple[Recipient, str, str]:
    errors = FieldErrors()
    to = (data.get("to") or "").strip().lower()
    recipient = next((r for r in recipients if r.address.lower() == to), None)
    if not recipients:
        errors.add("to", "This customer has no e-mail address, nor any contact with one.")
    elif recipient is None:
        errors.add("to", "Choose one of the customer's e-mail addresses.")
    subject = data.get("subject")
    subject = defaults["subject"] if subject is None else fields.text(errors, "subject", subject, outbox.MAX_SUBJECT,
                                                                      required=True, label="Subject")
    body = data.get("body")
    body = defaults["body"] if body is None else fields.long_text(errors, "body", body, outbox.MAX_EMAIL_BODY,
                                                                  required=True, label="Message")
    errors.raise_if_any()
    return recipient, subject, body


def email_invoice(session: Session, actor, invoice_id, data: dict, key, config: dict) -> Message:
    """E-mail an issued invoice with its PDF attached (email_document with INVOICE)."""
    return email_document(session, actor, invoice_id, data, key, config, INVOICE)


def email_quote(session: Session, actor, quote_id, data: dict, key, config: dict) -> Message:
    """E-mail a quote with its PDF attached; a draft is sent by it (email_document with QUOTE)."""
    return email_document(session, actor, quote_id, data, key, config, QUOTE)


def email_document(session: Session, actor, doc_id, data: dict, key, config: dict, kind: Kind = INVOICE) -> Message:
    """E-mail a document with its PDF attached (POST_MONEY). `data`: `to` (one of
    email_recipients' addresses), `subject` and `body` (absent: email_defaults'). Returns the
    message: queued (its delivery queued after the commit), or skipped with the reason (the
    customer's status, the recipient's opt-out). A draft quote is sent in the same transaction
    (quotes.send_in: its number, status sent), whether or not the message is skipped.

    Raises Forbidden, NotFound (not in the actor's scope), Invalid (a draft or void invoice, a
    declined or expired quote, a draft quote that cannot be sent, the fields, attachments over
    outbox.MAX_ATTACHMENT_BYTES), AlreadyDone (the same key again: nothing is sent twice)."""
    permissions.require(session, actor, POST_MONEY, message=f"You may not e-mail {kind.name}s.")
    doc = kind.load(session, actor, doc_id)
    kind.mailable(doc)
    defaults = email_defaults(session, doc, config, kind)
    recipient, subject, body = _clean(data, _recipients(session, doc.customer_id), defaults)
    if not claim_form_key(session, key):
        raise AlreadyDone(ALREADY_EMAILED.replace("invoice", kind.name))
    customer = ledger.lock(session, doc.customer_id)  # a void meanwhile has committed, or waits
    session.refresh(doc)
    kind.mailable(doc)
    if kind is QUOTE and doc.status == "draft":
        quotes.send_in(session, customer, doc)
        # The defaults now name its number: the words left as the form gave them take it.
        named = email_defaults(session, doc, config, kind)
        subject = named["subject"] if subject == defaults["subject"] else subject
        body = named["body"] if body.replace("\r\n", "\n").strip() == defaults["body"].strip() else body
    reason = skip_reason(customer.status, recipient.allows, "email", "service", recipient.address)
    message = Message(customer_id=customer.id, contact_id=recipient.contact_id, channel="email", purpose="service",
                      kind="message", direction="out", recipient=recipient.address,
                      recipient_name=recipient.name[:250], subject=subject, body=body,
                      status="skipped" if reason else "queued", skip_reason=reason, attempts=0,
                      created_by=getattr(actor, "username", None))
    pdf = pdf_of(session, doc, config, kind)
    outbox.attach(session, message, [outbox.Attachment(filename_for(doc, kind), PDF_TYPE, pdf)])
    commit(session)
    if not reason:
        tasks.queue_delivery([message.id])
    return message
