"""A credit note as a document: its PDF in one of Commusoft's four breakdown styles, and e-mailing it.

The PDF is templates/credit_notes/pdf.html rendered by documents.render_pdf (xhtml2pdf), with the
company's letterhead, the credit note's stored billing address and its stored figures formatted by
services/money.format (nothing is recomputed but the sums of stored lines the breakdown groups):

- none:          one line, the credit note's description, with its net, tax and total;
- category:      one line per category (labour, parts, other) with its net, tax and total;
- full:          each line;
- full_category: the lines under their category's heading, each category with its subtotal.

Anyone who sees the credit note (get_credit_note: its customer in the user's scope) may have its
PDF. E-mailing it is one command as an invoice's (documents.email_invoice): POST_MONEY, the
recipient one of the customer's addresses (documents' own machinery), the key, the message and its
PDF written to the outbox, commit, then its delivery queued; a customer or recipient who must not
get it is skipped with the reason.
"""
import base64
import re
from decimal import Decimal

from sqlalchemy.orm import Session

from app.jobs import tasks
from app.models import CreditNote, Invoice, Message
from app.models.money import CATEGORIES
from app.services import company, money, permissions
from app.services.billing import POST_MONEY, ledger
from app.services.billing.credit_notes import get_credit_note
from app.services.billing.documents import (PDF_TYPE, _clean, _day, _lines_of, _quantity, _recipients, _templates,
                                            page_count, render_pdf)
from app.services.billing.invoices import tax_by_rate
from app.services.billing.tax import EXEMPT
from app.services.db import commit
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import claim_form_key
from app.services.messages import outbox
from app.services.messages.preferences import skip_reason

ALREADY_EMAILED = "This credit note was already e-mailed with this form: it was not sent twice."
STYLE_NAMES = {"none": "No breakdown", "category": "Breakdown by category", "full": "Full breakdown",
               "full_category": "Full breakdown by category"}
CATEGORY_NAMES = {"labour": "Labour", "parts": "Parts", "other": "Other"}


def filename_for(note: CreditNote) -> str:
    """A name safe in any file system and header: credit-note-CN-3.pdf."""
    return "credit-note-" + (re.sub(r"[^A-Za-z0-9._-]+", "-", note.number).strip("-.") or str(note.id)) + ".pdf"


def _tax_words(line) -> str:
    if line.tax_name == EXEMPT:
        return EXEMPT
    return f"{line.tax_percent.normalize():f}%" if line.tax_name else "No tax"


def breakdown(note: CreditNote, style: str | None = None) -> list[dict]:
    """The rows the PDF prints for `style` (the credit note's own by default), amounts formatted.
    Each row: kind ("line", "category", "heading", "subtotal"), description, and its figures."""
    style = style or note.breakdown_style
    amount = lambda value: money.format(value, note.currency)  # noqa: E731

    def sums(lines) -> dict:
        net = sum((line.net for line in lines), Decimal(0))
        tax_ = sum((line.tax for line in lines), Decimal(0))
        return {"net": amount(net), "tax": amount(tax_), "total": amount(net + tax_)}

    def line_row(line) -> dict:
        return {"kind": "line", "description": line.description, "quantity": _quantity(line.quantity),
                "unit_price": amount(line.unit_price), "tax_rate": _tax_words(line), "net": amount(line.net),
                "tax": amount(line.tax), "total": amount(line.net + line.tax)}

    if style == "none":
        return [{"kind": "line", "description": note.description, "net": amount(note.net_total),
                 "tax": amount(note.tax_total), "total": amount(note.total)}]
    if style == "full":
        return [line_row(line) for line in note.lines]
    groups = [(c, [line for line in note.lines if line.category == c]) for c in CATEGORIES]
    groups = [(c, lines) for c, lines in groups if lines]
    if style == "category":
        return [{"kind": "category", "description": CATEGORY_NAMES[c], **sums(lines)} for c, lines in groups]
    rows = []
    for c, lines in groups:
        rows.append({"kind": "heading", "description": CATEGORY_NAMES[c]})
        rows += [line_row(line) for line in lines]
        rows.append({"kind": "subtotal", "description": f"{CATEGORY_NAMES[c]} subtotal", **sums(lines)})
    return rows


def document(session: Session, note: CreditNote, config: dict, style: str | None = None) -> dict:
    """What the template prints, every amount formatted in the credit note's currency."""
    head = company.letterhead(session, config)
    logo = (f"data:{head.logo_type};base64,{base64.b64encode(head.logo).decode()}"
            if head.logo and head.logo_type else None)
    invoice = session.get(Invoice, note.invoice_id) if note.invoice_id else None
    style = style or note.breakdown_style
    taxes = [{"name": EXEMPT if name == EXEMPT else (name or "No tax"),
              "percent": "" if name == EXEMPT or not name else f"{percent.normalize():f}%",
              "net": money.format(net, note.currency), "tax": money.format(tax_, note.currency)}
             for name, percent, net, tax_ in tax_by_rate(note)]
    return {
        "company": {"name": head.name, "address": _lines_of(head.address), "tax_number": head.tax_number,
                    "logo": logo},
        "note": {"number": note.number, "void": note.status == "void", "date": _day(note.credit_date),
                 "currency": note.currency, "description": note.description,
                 "billing_address": _lines_of(note.billing_address), "notes": _lines_of(note.notes),
                 "invoice": invoice.number if invoice is not None else None,
                 "net_total": money.format(note.net_total, note.currency),
                 "tax_total": money.format(note.tax_total, note.currency),
                 "total": money.format(note.total, note.currency)},
        "style": style, "style_name": STYLE_NAMES.get(style, style),
        "rows": breakdown(note, style), "taxes": taxes if style != "none" else [],
    }


def credit_note_html(session: Session, note: CreditNote, config: dict, style: str | None = None,
                     pages: int = 1) -> str:
    """The credit note as the HTML xhtml2pdf turns into the PDF."""
    return _templates.get_template("credit_notes/pdf.html").render(**document(session, note, config, style),
                                                                   pages=pages)


def credit_note_document(session: Session, note: CreditNote, config: dict, style: str | None = None) -> bytes:
    """The credit note's PDF (the page count printed as text, made again when it is more than one)."""
    pdf = render_pdf(credit_note_html(session, note, config, style))
    pages = page_count(pdf)
    if pages > 1:
        pdf = render_pdf(credit_note_html(session, note, config, style, pages))
    return pdf


def credit_note_pdf(session: Session, actor, credit_note_id, config: dict,
                    style: str | None = None) -> tuple[str, bytes]:
    """(filename, PDF bytes) of a credit note `actor` may see (NotFound otherwise), in its own
    breakdown style or `style` (one of STYLE_NAMES; anything else: its own). Reads only."""
    note = get_credit_note(session, actor, credit_note_id)
    return filename_for(note), credit_note_document(session, note, config, style if style in STYLE_NAMES else None)


# --- e-mailing it ----------------------------------------------------------------------------

def email_recipients(session: Session, actor, credit_note_id) -> list[tuple[str, str]]:
    """(label, address) of each e-mail address the credit note may be sent to (as an invoice's)."""
    note = get_credit_note(session, actor, credit_note_id)
    return [(r.label, r.address) for r in _recipients(session, note.customer_id)]


def email_defaults(session: Session, note: CreditNote, config: dict) -> dict:
    name = company.letterhead(session, config).name
    subject = f"Credit note {note.number}" + (f" from {name}" if name else "")
    body = (f"Hello,\n\nPlease find attached credit note {note.number} for "
            f"{money.format(note.total, note.currency)}: {note.description}.\n\nKind regards,\n{name or ''}"
            ).rstrip() + "\n"
    return {"subject": subject[:outbox.MAX_SUBJECT], "body": body}


def _mailable(note: CreditNote) -> None:
    if note.status == "void":
        raise Invalid({"status": f"Credit note {note.number} is void: it is not e-mailed."})


def email_credit_note(session: Session, actor, credit_note_id, data: dict, key, config: dict) -> Message:
    """E-mail a credit note with its PDF attached (as documents.email_invoice: the same fields,
    the same errors; a void credit note is not e-mailed)."""
    permissions.require(session, actor, POST_MONEY, message="You may not e-mail credit notes.")
    note = get_credit_note(session, actor, credit_note_id)
    _mailable(note)
    recipient, subject, body = _clean(data, _recipients(session, note.customer_id),
                                      email_defaults(session, note, config))
    if not claim_form_key(session, key):
        raise AlreadyDone(ALREADY_EMAILED)
    customer = ledger.lock(session, note.customer_id)  # a void meanwhile has committed, or waits
    session.refresh(note)
    _mailable(note)
    reason = skip_reason(customer.status, recipient.allows, "email", "service", recipient.address)
    message = Message(customer_id=customer.id, contact_id=recipient.contact_id, channel="email", purpose="service",
                      kind="message", direction="out", recipient=recipient.address,
                      recipient_name=recipient.name[:250], subject=subject, body=body,
                      status="skipped" if reason else "queued", skip_reason=reason, attempts=0,
                      created_by=getattr(actor, "username", None))
    pdf = credit_note_document(session, note, config)
    outbox.attach(session, message, [outbox.Attachment(filename_for(note), PDF_TYPE, pdf)])
    commit(session)
    if not reason:
        tasks.queue_delivery([message.id])
    return message
