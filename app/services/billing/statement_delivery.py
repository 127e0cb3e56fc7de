"""A customer's statement asked for, printed and e-mailed (issue 16; Commusoft's "Send statements").

`build` reads what the screen asks (kind, date or period, grouped by contact or not, which group) and
makes the Statements (statements.py) that the screen shows, the PDF prints (statement_documents.py) and
the e-mail's words quote: its amounts are the same figures everywhere. Grouped by contact (the form's
"Group by contact", by default the customer's setting; outstanding statements only), it is one statement
per billing contact (statements.by_contact): the screen shows each, a PDF holds one group or all of them
(each from a page of its own), an e-mail sends one group, an additional address's to that address first.
`email` writes one outbox message to one of the statement's recipients with the statement's PDF, and the
PDFs of the invoices ticked among those it lists (the customer's "attach invoices to statement e-mails"
setting ticks them all to begin with); the files together are capped by the outbox (16 MB). The form's
key sends it once.
"""
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import tasks
from app.models import Customer, Invoice, InvoiceAddress, Message
from app.services import company, fields, money, permissions
from app.services.billing import POST_MONEY, documents, statement_documents, statements
from app.services.db import commit
from app.services.errors import AlreadyDone, FieldErrors, Invalid
from app.services.forms import claim_form_key
from app.services.messages import outbox
from app.services.messages.preferences import skip_reason
from app.services.scope import get_customer

ALREADY_SENT = "This statement was already e-mailed (the form was sent twice)."


BY_CONTACT = {"yes": True, "no": False}
NOT_GROUPED = "An activity statement is not grouped by contact: its opening and running balances are the account's."


@dataclass(frozen=True)
class Asked:
    """What a statement is of: its kind and dates, whether it is grouped by contact (None: as the
    customer's setting says) and which group (`contact`: "customer" or an additional address's id; None:
    every group), as the screen's form gives them back."""
    kind: str
    as_at: date
    start: date | None = None
    by_contact: bool | None = None
    contact: str | None = None

    def args(self) -> dict:
        """The query string that asks for it again (the PDF's and the e-mail's links)."""
        if self.kind == "activity":
            found = {"kind": self.kind, "start": self.start.isoformat(), "end": self.as_at.isoformat()}
        else:
            found = {"kind": self.kind, "as_at": self.as_at.isoformat()}
        if self.by_contact is not None:
            found["by_contact"] = "yes" if self.by_contact else "no"
        if self.contact is not None:
            found["contact"] = self.contact
        return found

    @property
    def grouped(self) -> bool:
        """Whether the statement is shown grouped by contact (an activity statement never is)."""
        return bool(self.by_contact) and self.kind == "outstanding"

    def of(self, contact: str) -> "Asked":
        """The same statement's one group `contact`."""
        return replace(self, contact=contact)


def asked(params: dict, today: date | None = None) -> Asked:
    """The kind and dates from `params` (kind, as_at; or start and end; by_contact: yes or no; contact):
    an outstanding statement as at today when nothing is given, an activity statement of the last 30 days
    to today by default. Raises Invalid naming the field."""
    today = today or date.today()
    errors = FieldErrors()
    kind = fields.choice(errors, "kind", params.get("kind") or "outstanding", statements.KINDS, label="Statement")
    by_contact = params.get("by_contact") or None
    if by_contact is not None:
        by_contact = BY_CONTACT.get(str(by_contact).strip().lower())
        if by_contact is None:
            errors.add("by_contact", "Group by contact must be Yes or No.")
    contact = str(params["contact"]).strip()[:20] if params.get("contact") else None
    if kind == "activity":
        end = fields.a_date(errors, "end", params.get("end") or today.isoformat())
        start = fields.a_date(errors, "start",
                              params.get("start") or ((end or today) - timedelta(days=30)).isoformat())
        if start and end and start > end:
            errors.add("start", "The period must start on or before its last day.")
        errors.raise_if_any()
        return Asked(kind, end, start, by_contact, contact)
    as_at = fields.a_date(errors, "as_at", params.get("as_at") or today.isoformat())
    errors.raise_if_any()
    return Asked(kind or "outstanding", as_at, None, by_contact, contact)


def build(session: Session, actor, customer_id, params: dict) -> tuple[Asked, list[statements.Statement]]:
    """The statement `params` ask for (see `asked`), of a customer in `actor`'s scope (NotFound else):
    what the screen shows, the PDF prints and the e-mail sends. The Asked comes back with by_contact
    decided (the customer's "group statements by contact" when the form did not say). Grouped (an
    outstanding statement): its groups (statements.by_contact), or the one `contact` names (NotFound when
    it is none of them); else the one statement. An activity statement is never grouped (NOT_GROUPED)."""
    wanted = asked(params)
    customer = get_customer(session, actor, customer_id)
    if wanted.by_contact is None:
        wanted = replace(wanted, by_contact=bool(customer.group_statements_by_contact))
    if wanted.kind == "activity":
        return wanted, [statements.activity(session, actor, customer_id, wanted.start, wanted.as_at)]
    statement = statements.outstanding_for(session, customer, wanted.as_at)
    if not wanted.by_contact:
        return wanted, [statement]
    if wanted.contact is not None:
        return wanted, [statements.group_of(session, statement, wanted.contact)]
    return wanted, statements.by_contact(session, statement)


def one(wanted: Asked, found: list[statements.Statement]) -> statements.Statement:
    """The one statement an e-mail sends: Invalid (on "contact") when a grouped statement has several
    groups and `wanted` names none of them."""
    if len(found) > 1:
        raise Invalid({"contact": "This statement is grouped by contact: e-mail one contact's statement at a time."})
    return found[0]


def pdf(session: Session, actor, customer_id, params: dict, config: dict) -> tuple[str, bytes]:
    """(file name, the PDF) of the statement `params` ask for; grouped and no one group asked for: every
    group's statement in one PDF, each starting on a page of its own (page numbers each its own)."""
    _, found = build(session, actor, customer_id, params)
    if len(found) == 1:
        return statement_documents.filename_for(found[0]), statement_documents.pdf(session, found[0], config)
    return (statement_documents.filename_for(replace(found[0], contact_id=None)),
            statement_documents.combined([statement_documents.pdf(session, s, config) for s in found]))


def invoices_listed(session: Session, statement: statements.Statement) -> list[Invoice]:
    """The issued invoices the statement lists (a group: its own), whose PDFs may go with its e-mail."""
    ids = [line.document_id for line in statement.lines if line.kind == "invoice" and line.document_id]
    if not ids:
        return []
    found = session.scalars(select(Invoice).where(Invoice.customer_id == statement.customer_id,
                                                  Invoice.id.in_(ids)).order_by(Invoice.issue_date, Invoice.id))
    return list(found)


def recipients(session: Session, statement: statements.Statement) -> list[documents.Recipient]:
    """Where the statement may be e-mailed: an additional address's group to that address's e-mail first
    (when it has one), then every address of the customer's (documents.recipients), each address once."""
    found = documents.recipients(session, statement.customer_id)
    address = session.get(InvoiceAddress, statement.contact_id) if statement.contact_id is not None else None
    if address is None or not address.email:
        return found
    own = documents.Recipient(f"{statement.contact_name} <{address.email}>", address.email,
                              address.contact_name or address.name, None, True)
    return [own] + [r for r in found if r.address.lower() != address.email.lower()]


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
    if statement.contact_id is not None:  # an insurer's or landlord's: whose account it is
        what += f" for the account of {statement.customer_name}"
    body = f"Hello,\n\nPlease find attached {what}. {standing}\n\nKind regards,\n{name or ''}".rstrip() + "\n"
    return {"subject": subject[:outbox.MAX_SUBJECT], "body": body}


def email_form(session: Session, statement: statements.Statement, invoices: list[Invoice], config: dict) -> dict:
    """What the e-mail form starts with: email_defaults' words, the first of `recipients`, and
    ticked the invoices it lists (`invoices`: invoices_listed) when the customer's "attach invoices to
    statement e-mails" says so (the bulk Send statement's default too)."""
    customer = session.get(Customer, statement.customer_id)
    found = recipients(session, statement)
    return {**email_defaults(session, statement, config), "to": found[0].address if found else "",
            "invoice_ids": [str(i.id) for i in invoices] if customer.attach_invoices_to_statements else []}


def email(session: Session, actor, customer_id, params: dict, data: dict, key, config: dict) -> Message:
    """E-mail the statement `params` ask for (POST_MONEY; grouped by contact: the one group `contact` names,
    Invalid when it has several and none is named: `one`): `data` has `to` (one of `recipients`: a group's
    own address, the customer's), `subject`, `body` (absent: email_defaults') and `invoice_ids` (of the
    invoices it lists: their PDFs go with it). Returns the message, queued or skipped with the
    reason (the customer's status, the recipient's opt-out). Raises Forbidden, NotFound, Invalid (the
    fields; an invoice it does not list; the files over 16 MB together), AlreadyDone (the key again)."""
    permissions.require(session, actor, POST_MONEY, message="You may not e-mail statements.")
    statement = one(*build(session, actor, customer_id, params))
    defaults = email_defaults(session, statement, config)
    recipient, subject, body = documents._clean(data, recipients(session, statement), defaults)
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
