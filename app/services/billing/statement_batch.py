"""Send statement to many customers: a bulk action of the customer list (issue 16; Commusoft's "Send
statements"), ticked rows or all that match the list's filter.

`start` is the confirmed form's command (POST_MONEY: Finance and Admin): it claims the form's key,
checks the statement's date ("as at"; outstanding statements only) and whether invoices go with it
(each customer's own "attach invoices to statement e-mails" setting, or always, or never), fixes the
customers in a Job (jobs.new_job: within the user's scope), commits and queues the job. `run` is the
worker's: a few customers a transaction, each customer's statement built (statements.outstanding_for),
its PDF rendered (statement_delivery.files) and written as one outbox message to the customer's own
e-mail address, else its primary contact's, in the words of the Statement screen's e-mail
(statement_delivery.email_defaults: the amounts are the statement's own). Each chunk's messages are
queued for delivery once it commits; the job's done_through says where it got to.

Not written, counted by reason: customers owing nothing (closing balance <= 0 and no lines: "nothing
owed"), those with no address ("no e-mail address"), those gone meanwhile ("not found"). Written
skipped with the reason, as the one-customer e-mail does (preferences.skip_reason): dormant, blocked
and archived customers, recipients opted out of service e-mail.

Grouped by contact (the customer's "group statements by contact"): one message per group owing something
(statements.by_contact): the customer's own group as above, an additional invoice address's group (an
insurer, a landlord) to that address's e-mail, else where the customer's goes. The job's "sent" counts
messages; its progress counts customers.

Sent once: each message carries the key "statement:<job>:<customer>" (an additional address's group:
"statement:<job>:<customer>:<address id>"; message.send_key, unique), so a
job started again after its worker died, or the same job run twice, writes no customer's statement
twice (a key already written is counted "already sent"; a second write of it at the same moment is a
no-op, ON CONFLICT DO NOTHING).
"""
from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import enqueue, tasks
from app.models import Contact, Customer, InvoiceAddress, Job, Message
from app.models.comms import MessageAttachment
from app.models.resellers import utcnow
from app.services import fields, jobs, permissions
from app.services.billing import POST_MONEY, documents, statement_delivery, statements
from app.services.db import commit, in_ids
from app.services.errors import AlreadyDone, FieldErrors
from app.services.forms import claim_form_key
from app.services.messages import outbox
from app.services.messages.preferences import skip_reason

ACTION = "send_statement"
LABEL = "Send statement"
ALREADY_STARTED = "These statements were already sent (the form was sent twice)."
# Whether invoices go with each statement: the customer's own setting, or for all of them, or none.
ATTACH = {"setting": "As each customer's settings say", "all": "Attach the invoices each statement lists",
          "none": "Send the statement alone"}
# Customers a transaction: each renders a PDF (tens of ms to seconds), so progress moves often and a
# job started again redoes little.
CHUNK = 20
NOTHING_OWED, NO_ADDRESS, NOT_FOUND, ALREADY_SENT = "nothing owed", "no e-mail address", "not found", "already sent"
TOO_BIG = "attachments over 16 MB"


def send_key(job_id: int, customer_id: int, contact_id: int | None = None) -> str:
    """The key a customer's statement in this job is written once under (grouped by contact: an additional
    address's group under "statement:<job>:<customer>:<address id>")."""
    return f"statement:{job_id}:{customer_id}" + (f":{contact_id}" if contact_id is not None else "")


# ---- starting ----------------------------------------------------------------------------------
def clean_params(params: dict, today: date | None = None) -> dict:
    """The confirmation's values: as_at (a date, default today) and attach (ATTACH); Invalid with every
    field error."""
    errors = FieldErrors()
    as_at = fields.a_date(errors, "as_at", params.get("as_at") or (today or date.today()).isoformat())
    attach = fields.choice(errors, "attach", params.get("attach") or "setting", ATTACH, label="Invoices")
    errors.raise_if_any()
    return {"kind": "outstanding", "as_at": as_at.isoformat(), "attach": attach}


def prepare(session: Session, actor, params: dict, *, ids=None, matching=None) -> Job:
    """Check who asks (POST_MONEY: Forbidden) and the values (Invalid), fix the customers (ticked `ids`
    within the actor's scope, or `matching`: the list's filter, already scoped); flushed, not committed."""
    permissions.require(session, actor, POST_MONEY, message="You may not send statements.")
    values = clean_params(params)
    return jobs.new_job(session, actor, ACTION, values, ids=ids, matching=matching)


def start(session: Session, actor, params: dict, form_key, *, ids=None, matching=None) -> Job:
    """The confirmed "Send statement": claim the form's key, fix the customers (see prepare), commit,
    then queue the job (run at once when it is small: BULK_SYNC_LIMIT). Raises AlreadyDone for a form
    sent before, and what prepare raises; nothing is written then."""
    if not claim_form_key(session, form_key):
        raise AlreadyDone(ALREADY_STARTED)
    job = prepare(session, actor, params, ids=ids, matching=matching)
    commit(session)
    enqueue(tasks.run_statement_batch, job.id, size=job.total)
    return job


# ---- running -----------------------------------------------------------------------------------
def run(session: Session, job: Job, config: dict, chunk: int = CHUNK, runner: str | None = None) -> Job:
    """Write the statements of the job's customers not done yet, a chunk a transaction, each chunk's
    messages queued for delivery once it commits; return the job, done. Started again (done_through
    set), it goes on with its counts."""
    resumed = job.done_through is not None
    result = {"sent": 0, "skipped": {}, "unwritten": {},
              **{k: v for k, v in (job.result or {}).items() if k == "not_found" or resumed}}
    job.status, job.done, job.result = "running", job.done if resumed else 0, dict(result)
    jobs.beat(job, runner)
    session.commit()
    skipped, unwritten = Counter(result["skipped"]), Counter(result["unwritten"])
    as_at = date.fromisoformat(job.params["as_at"])
    for ids in jobs.customer_chunks(session, job, chunk):
        queued = []
        for customer, written in _write_chunk(session, job, ids, as_at, config):
            for reason, message_id in written:
                if message_id is not None and reason is None:
                    queued.append(message_id)
                    result["sent"] += 1
                else:
                    skipped[reason] += 1
                    if message_id is None:
                        unwritten[reason] += 1
        job.done += len(ids)
        result["skipped"], result["unwritten"] = dict(skipped), dict(unwritten)
        job.result = dict(result)
        jobs.beat(job, runner, done_through=ids[-1])
        session.commit()
        tasks.queue_delivery(queued)
    jobs.finish(session, job)
    session.commit()
    return job


def _primary_contacts(session: Session, ids: list[int]) -> dict[int, Contact]:
    """Each customer's primary contact that has an e-mail address."""
    found = {}
    for contact in session.scalars(select(Contact).where(in_ids(session, Contact.customer_id, ids),
                                                         Contact.is_primary.is_(True), Contact.email.is_not(None))
                                   .order_by(Contact.id)):
        found.setdefault(contact.customer_id, contact)
    return found


def recipient(customer: Customer, primary: Contact | None) -> documents.Recipient | None:
    """Where a customer's statement goes: its own e-mail address, else its primary contact's (None: neither)."""
    if customer.email:
        return documents.Recipient(customer.email, customer.email, customer.name, None, customer.service_email)
    if primary is not None:
        name = " ".join(p for p in (primary.first_name, primary.surname) if p) or customer.name
        return documents.Recipient(primary.email, primary.email, name, primary.id, primary.service_email)
    return None


def _write_chunk(session: Session, job: Job, ids: list[int], as_at: date, config: dict):
    """(customer id, [(skip reason or None, message id or None), ...]) for each customer of `ids`: a
    message each of its statements (grouped by contact: one per group owing something), written (not
    committed)."""
    done = set(session.scalars(select(Message.send_key).where(in_ids(session, Message.customer_id, ids),
                                                              Message.batch_id == job.id)))
    customers = {c.id: c for c in session.scalars(select(Customer).where(in_ids(session, Customer.id, ids)))}
    primaries = _primary_contacts(session, ids)
    for customer_id in ids:
        customer = customers.get(customer_id)
        if customer is None:  # deleted since the job started
            yield customer_id, [(ALREADY_SENT if send_key(job.id, customer_id) in done else NOT_FOUND, None)]
            continue
        yield customer_id, list(_write_customer(session, job, customer, primaries.get(customer_id), as_at, done,
                                                config))


def _write_customer(session: Session, job: Job, customer: Customer, primary: Contact | None, as_at: date,
                    done: set[str], config: dict):
    """The customer's statement, or (its setting "group statements by contact") each group's that owes
    something: (skip reason or None, message id or None) each. A group already written is "already sent"."""
    whole = statements.outstanding_for(session, customer, as_at)
    found = statements.by_contact(session, whole) if customer.group_statements_by_contact else [whole]
    owed = [s for s in found if s.closing_balance > 0 or s.lines]
    if not owed:
        yield (ALREADY_SENT if send_key(job.id, customer.id) in done else NOTHING_OWED), None
        return
    for statement in owed:
        if send_key(job.id, customer.id, statement.contact_id) in done:
            yield ALREADY_SENT, None
            continue
        yield _write_one(session, job, customer, statement, _recipient_of(session, statement, customer, primary),
                         config)


def _recipient_of(session: Session, statement: statements.Statement, customer: Customer,
                  primary: Contact | None) -> documents.Recipient | None:
    """An additional address's group goes to that address's e-mail, else (and the customer's own) where
    the customer's statement goes (recipient)."""
    address = session.get(InvoiceAddress, statement.contact_id) if statement.contact_id is not None else None
    if address is not None and address.email:
        return documents.Recipient(address.email, address.email, address.contact_name or address.name, None, True)
    return recipient(customer, primary)


def _write_one(session: Session, job: Job, customer: Customer, statement: statements.Statement,
               to: documents.Recipient | None, config: dict) -> tuple[str | None, int | None]:
    reason = skip_reason(customer.status, to.allows if to else customer.service_email, "email", "service",
                         to.address if to else None)
    if reason == NO_ADDRESS:  # neither the customer nor its primary contact has one: nothing to write
        return NO_ADDRESS, None
    words = statement_delivery.email_defaults(session, statement, config)
    files = []
    if reason is None:  # a skipped message carries no files: it is never sent, nor sent again
        attach = job.params["attach"] == "all" or (job.params["attach"] == "setting"
                                                   and customer.attach_invoices_to_statements)
        invoices = statement_delivery.invoices_listed(session, statement) if attach else []
        files = statement_delivery.files(session, statement, invoices, config)
        if sum(len(f.content) for f in files) > outbox.MAX_ATTACHMENT_BYTES:
            reason, files = TOO_BIG, []
    now = utcnow()
    message_id = _insert_once(session, {
        "customer_id": customer.id, "contact_id": to.contact_id if to else None, "channel": "email",
        "purpose": "service", "kind": "message", "direction": "out", "recipient": to.address if to else None,
        "recipient_name": (to.name if to else customer.name)[:250], "subject": words["subject"],
        "body": words["body"], "status": "skipped" if reason else "queued", "skip_reason": reason, "attempts": 0,
        "batch_id": job.id, "created_by": job.username, "created_at": now, "due_at": now,
        "send_key": send_key(job.id, customer.id, statement.contact_id)})
    if message_id is None:  # another runner wrote it a moment ago
        return ALREADY_SENT, None
    if files:
        session.add_all(MessageAttachment(message_id=message_id, filename=f.filename, content_type=f.content_type,
                                          size=len(f.content), content=f.content) for f in files)
        session.flush()
    return reason, message_id


def _insert_once(session: Session, row: dict) -> int | None:
    """Insert the message unless its send_key is written already; its id, or None."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return session.scalar(insert(Message).values(row).on_conflict_do_nothing(index_elements=["send_key"])
                          .returning(Message.id))


def _restart(job_id: int) -> None:
    enqueue(tasks.run_statement_batch, job_id)


jobs.register(ACTION, LABEL, messages=True, restart=_restart, grants=(POST_MONEY,), done_word="sent")
