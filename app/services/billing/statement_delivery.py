"""A customer's statement asked for, printed and e-mailed (issue 16; Commusoft's "Send statements").

`build` reads what the screen asks (kind, date or period) and makes the one Statement (statements.py)
that the screen shows, the PDF prints (statement_documents.py) and the e-mail's words quote: its
amounts are the same figures everywhere. `email` writes one outbox message to one of the customer's
addresses with the statement's PDF, and the PDFs of the invoices ticked among those it lists (the
customer's "attach invoices to statement e-mails" setting ticks them all to begin with); the files
together are capped by the outbox (16 MB). The form's key sends it once.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import tasks
from app.models import Customer, Invoice, Message
from app.services import company, fields, money, permissions
from app.services.billing import POST_MONEY, documents, statement_documents, statements
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors
from app.services.forms import claim_form_key
from app.services.messages import outbox
from app.services.messages.preferences import skip_reason
from app.services.scope import get_customer

ALREADY_SENT = "This statement was already e-mailed (the form was sent twice)."


@dataclass(frozen=True)
class Asked:
    """What a statement is of: its kind and dates, as the screen's form gives them back."""
    kind: str
    as_at: date
    start: date | None = None

    def args(self) -> dict:
        """The query string that asks for it again (the PDF's and the e-mail's links)."""
        if self.kind == "activity":
            return {"kind": self.kind, "start": self.start.isoformat(), "end": self.as_at.isoformat()}
        return {"kind": self.kind, "as_at": self.as_at.isoformat()}


def asked(params: dict, today: date | None = None) -> Asked:
    """The kind and dates from `params` (kind, as_at; or start and end): an outstanding statement as at
    today when nothing is given, an activity statement of the last 30 days to today by default. Raises
    Invalid naming the field."""
    today = today or date.today()
    errors = FieldErrors()
    kind = fields.choice(errors, "kind", params.get("kind") or "outstanding", statements.KINDS, label="Statement")
    if kind == "activity":
        end = fields.a_date(errors, "end", params.get("end") or today.isoformat())
        start = fields.a_date(errors, "start",
                              params.get("start") or ((end or today) - timedelta(days=30)).isoformat())
        if start and end and start > end:
            errors.add("start", "The period must start on or before its last day.")
        errors.raise_if_any()
        return Asked(kind, end, start)
    as_at = fields.a_date(errors, "as_at", params.get("as_at") or today.isoformat())
    errors.raise_if_any()
    return Asked(kind or "outstanding", as_at)


def build(session: Session, actor, customer_id, params: dict) -> tuple[Asked, statements.Statement]:
    """The statement `params` ask for (see `asked`), of a customer in `actor`'s scope (NotFound else)."""
    wanted = asked(params)
    if wanted.kind == "activity":
        return wanted, statements.activity(session, actor, customer_id, wanted.start, wanted.as_at)
    return wanted, statements.outstanding(session, actor, customer_id, wanted.as_at)


def pdf(session: Session, actor, customer_id, params: dict, config: dict) -> tuple[str, bytes]:
    """(file name, the PDF) of the statement `params` ask for."""
    _, statement = build(session, actor, customer_id, params)
    return statement_documents.filename_for(statement), statement_documents.pdf(session, statement, config)


def invoices_listed(session: Session, statement: statements.Statement) -> list[Invoice]:
    """The issued invoices the statement names (by number), whose PDFs may go with its e-mail."""
    numbers = [line.reference for line in statement.lines if line.kind == "invoice" and line.reference]
    if not numbers:
        return []
    found = session.scalars(select(Invoice).where(Invoice.customer_id == statement.customer_id,
                                                  Invoice.number.in_(numbers)).order_by(Invoice.issue_date, Invoice.id))
    return list(found)


def files(session: Session, statement: statements.Statement, invoices: list[Invoice],
          config: dict) -> list[outbox.Attachment]:
    """What the statement's e-mail carries: its PDF, then each of `invoices`' PDFs (of those it lists)."""
    found = [outbox.Attachment(statement_documents.filename_for(statement), documents.PDF_TYPE,
                               statement_documents.pdf(session, statement, config))]
    for invoice in invoices:
        found.append(outbox.Attachment(documents.filename_for(invoice), documents.PDF_TYPE,
                                       documents.invoice_document(session, invoice, config)))
    return found


def email_defaults(session: Session, statement: statements.Statement, config: dict) -> dict:
    """The subject and body the form starts with: the amounts are the statement's own."""
    name = company.letterhead(session, config).name
    owed = money.format(statement.closing_balance, statement.currency)
    day = statement.as_at.isoformat()
    if statement.kind == "activity":
        what = f"your statement for {statement.start.isoformat()} to {day}"
    else:
        what = f"your statement as at {day}"
    if statement.closing_balance > 0:
        standing = f"The balance owed is {owed}."
    elif statement.closing_balance < 0:
        standing = f"You have {money.format(-statement.closing_balance, statement.currency)} of credit with us."
    else:
        standing = "Nothing is owed, with thanks."
    subject = "Statement" + (f" from {name}" if name else "") + f" as at {day}"
    body = f"Hello,\n\nPlease find attached {what}. {standing}\n\nKind regards,\n{name or ''}".rstrip() + "\n"
    return {"subject": subject[:outbox.MAX_SUBJECT], "body": body}


def email_form(session: Session, statement: statements.Statement, invoices: list[Invoice], config: dict) -> dict:
    """What the e-mail form starts with: email_defaults' words, the first of the customer's addresses, and
    ticked the invoices it lists (`invoices`: invoices_listed) when the customer's "attach invoices to
    statement e-mails" says so (the bulk Send statement's default too)."""
    customer = session.get(Customer, statement.customer_id)
    found = documents.recipients(session, statement.customer_id)
    return {**email_defaults(session, statement, config), "to": found[0].address if found else "",
            "invoice_ids": [str(i.id) for i in invoices] if customer.attach_invoices_to_statements else []}


def email(session: Session, actor, customer_id, params: dict, data: dict, key, config: dict) -> Message:
    """E-mail the statement `params` ask for (POST_MONEY): `data` has `to` (one of the customer's
    addresses: documents.recipients), `subject`, `body` (absent: email_defaults') and `invoice_ids`
    (of the invoices it lists: their PDFs go with it). Returns the message, queued or skipped with the
    reason (the customer's status, the recipient's opt-out). Raises Forbidden, NotFound, Invalid (the
    fields; an invoice it does not list; the files over 16 MB together), AlreadyDone (the key again)."""
    permissions.require(session, actor, POST_MONEY, message="You may not e-mail statements.")
    _, statement = build(session, actor, customer_id, params)
    defaults = email_defaults(session, statement, config)
    recipient, subject, body = documents._clean(data, documents.recipients(session, statement.customer_id), defaults)
    listed = {invoice.id: invoice for invoice in invoices_listed(session, statement)}
    errors = FieldErrors()
    wanted = fields.integer_list(errors, "invoice_ids", data.get("invoice_ids") or [])
    if any(i not in listed for i in wanted):
        errors.add("invoice_ids", "Attach only invoices this statement lists.")
    errors.raise_if_any()
    if not claim_form_key(session, key):
        raise AlreadyDone(ALREADY_SENT)
    customer = get_customer(session, actor, customer_id)
    reason = skip_reason(customer.status, recipient.allows, "email", "service", recipient.address)
    message = Message(customer_id=customer.id, contact_id=recipient.contact_id, channel="email", purpose="service",
                      kind="message", direction="out", recipient=recipient.address,
                      recipient_name=recipient.name[:250], subject=subject, body=body,
                      status="skipped" if reason else "queued", skip_reason=reason, attempts=0,
                      created_by=getattr(actor, "username", None))
    outbox.attach(session, message, files(session, statement, [listed[i] for i in dict.fromkeys(wanted)], config))
    commit(session)
    if not reason:
        tasks.queue_delivery([message.id])
    return message
