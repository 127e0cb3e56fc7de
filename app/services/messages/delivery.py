"""Delivering messages from the outbox, by id: at most once, never lost, never to someone who
opted out since, every attempt logged.

The database holds the whole state of delivery; a job on Redis (or a thread) only says "look
now". A queued message has a due time (its first send, or a retry after a transient failure):
whoever runs due work (a worker's maintenance, `flask jobs run-due`, the app's own thread
without Redis) sends what is due, so nothing waits on a job that was lost.

One message at a time, each in its own committed step before it is handed to the transport:
its customer's status and the recipient's opt-in are read again (a message queued before an
unsubscribe is skipped, with the reason; a payment reminder an admin sent by hand despite the
customer's status, `sent_despite_status`, passes the status only), and it is claimed (queued -> sending, with this
worker's name and a lease the worker renews while it sends). Of two workers given the same
message, one claims it. After a crash only the message being sent is in doubt: when its lease
lapses, `recover` marks it "uncertain" (it may have gone out); the others are still queued,
and go out once. An outcome is written only while the worker still holds the claim.

A transient failure puts the message back in the queue with its next due time, until the
attempts run out; a failure after the server had the whole message is "uncertain", never
tried again by itself.
"""
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from types import SimpleNamespace

from rq.timeouts import JobTimeoutException
from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.models import Contact, Customer, Message, MessageAttempt
from app.models.comms import MessageAttachment
from app.models.resellers import utcnow
from app.services.messages import transports, unsubscribe
from app.services.messages.preferences import skip_reason

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (30, 120, 600)  # seconds before the 2nd, 3rd and 4th attempts
DEFAULT_LEASE_SECONDS = 120  # a sending message whose worker has not renewed its claim for this long is in doubt
DUE_BATCH = 100
INTERRUPTED = ("Interrupted while sending: it may or may not have gone out. "
               "Send it again if it did not arrive.")
PREFERENCES = ("service_email", "service_sms", "marketing_email", "marketing_sms")  # customer's and contact's
MESSAGE_COLUMNS = (Message.id, Message.customer_id, Message.contact_id, Message.channel, Message.purpose,
                   Message.recipient, Message.subject, Message.body, Message.attempts, Message.attach_statement_on,
                   Message.attach_invoice_id)


def lease_of(config: dict) -> timedelta:
    return timedelta(seconds=float(config.get("DELIVERY_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)))


def retry_delays(config: dict) -> tuple:
    return tuple(config.get("MESSAGE_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))


def headers_for(message, config: dict) -> dict:
    """A Message-ID made from the message's id (so a receiving server can spot a repeat),
    and RFC 8058 one-click unsubscribe headers on marketing e-mail (the body's own link)."""
    domain = (config.get("MAIL_DEFAULT_SENDER") or "localhost").rsplit("@", 1)[-1].strip("> ")
    headers = {"Message-ID": f"<message-{message.id}@{domain}>"}
    if message.purpose == "marketing" and message.channel == "email":
        # The link the body was written with (under the address of the request that wrote it).
        link = unsubscribe.link_in(message.body) or unsubscribe.url(config, message.customer_id, message.contact_id)
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


class Lease:
    """While a worker sends, a thread renews the lease of the message it is sending (every
    quarter of the lease, on a connection of its own), so that `recover` leaves a slow send
    alone and takes over only from a worker that stopped."""

    def __init__(self, session: Session, runner: str, lease: timedelta):
        self.engine, self.runner, self.lease = session.get_bind(), runner, lease
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._renew, name="message-lease", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(5)

    def _renew(self):
        while not self.stopped.wait(self.lease.total_seconds() / 4):
            try:
                with self.engine.begin() as connection:
                    connection.execute(update(Message).where(Message.status == "sending",
                                                             Message.claimed_by == self.runner)
                                       .values(lease_until=utcnow() + self.lease))
            except Exception:  # noqa: BLE001  the next turn tries again; recover() is the backstop
                log.exception("could not renew the lease of messages being sent")


class Sender:
    """Sends messages one at a time for one worker (`runner`); counts the outcomes.

    `batched`: an outcome is committed with the next message's claim (one commit a message, not
    two), and by finish() after the last. A crash in between leaves that message "sending" for
    recover() to mark uncertain, as a crash while it was sent would."""

    def __init__(self, session: Session, config: dict, runner: str, now: Callable[[], datetime] = utcnow,
                 batched: bool = False):
        self.session, self.config, self.runner, self.now = session, config, runner, now
        self.batched, self.uncommitted = batched, False
        self.delays, self.lease = retry_delays(config), lease_of(config)
        self.outcomes = Counter()
        self.retries: dict[float, list[int]] = {}
        self.transports = {}
        self.has_files = False  # the message just claimed carries attachments

    def finish(self):
        """Commit the last outcome (batched)."""
        if self.uncommitted:
            self.session.commit()
            self.uncommitted = False

    def close(self):
        for transport in self.transports.values():
            transport.close()
        self.transports.clear()

    def one(self, message_id: int) -> str:
        """Send one message if it is queued and due: check, claim (committed), send, record
        (committed). Returns the outcome: sent, retry, failed, uncertain, skipped, not due.

        Another error fails the message (it cannot be built), or makes it uncertain if the other
        end may have it. Cut short by the job's timeout or an interrupt, it records the message as
        uncertain when the other end may have it (else queued again, due now) and re-raises: the
        batch stops, and what it had not tried is still queued."""
        message = self._claim(message_id)
        if isinstance(message, str):
            self.outcomes[message] += 1
            return message
        transport = self._transport(message.channel)
        document = self._attach_statement if message.attach_statement_on is not None else \
            self._attach_invoice if message.attach_invoice_id is not None else None
        if document is not None and not self.has_files and message.channel == "email":
            try:
                problem = document(message)
            except BaseException as e:  # the job's timeout or an interrupt while rendering: nothing went out
                self.session.rollback()
                cause = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                self._record(message.id, "queued", "interrupted", transport.name,
                             f"Interrupted before it was handed over ({cause}); it goes again.",
                             due_at=self.now(), at_once=True)
                self.outcomes["interrupted"] += 1
                raise
            if problem:  # it cannot go as written (too big, cannot be built): failed, with the reason
                outcome = self._record(message.id, "failed", "failed", transport.name, problem)
                self.outcomes[outcome] += 1
                return outcome
            self.has_files = True
        try:
            if self.has_files and message.channel == "email":  # a text never carries files
                message = with_attachments(self.session, message)
            transport.send(message, headers_for(message, self.config))
        except transports.Transient as e:
            if message.attempts <= len(self.delays):
                delay = self.delays[message.attempts - 1]
                self.retries.setdefault(delay, []).append(message.id)
                outcome = self._record(message.id, "queued", "retry", transport.name, str(e),
                                       due_at=self.now() + timedelta(seconds=delay))
            else:
                outcome = self._record(message.id, "failed", "failed", transport.name, str(e))
        except transports.Uncertain as e:
            outcome = self._record(message.id, "uncertain", "uncertain", transport.name, str(e))
        except transports.Permanent as e:
            outcome = self._record(message.id, "failed", "failed", transport.name, str(e))
        except BaseException as e:  # not the transport's kinds of failure
            stop = not isinstance(e, Exception) or isinstance(e, JobTimeoutException)
            cause = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            if getattr(transport, "may_have_it", lambda: True)():
                outcome = self._record(message.id, "uncertain", "interrupted" if stop else "uncertain",
                                       transport.name, f"Interrupted while sending ({cause}): it may have gone out.",
                                       at_once=stop)
            elif stop:  # the job's timeout, an interrupt: it did not go; it goes again, the batch stops
                outcome = self._record(message.id, "queued", "interrupted", transport.name,
                                       f"Interrupted before it was handed over ({cause}); it goes again.",
                                       due_at=self.now(), at_once=True)
            else:  # a message that cannot be built: fail it, go on
                outcome = self._record(message.id, "failed", "failed", transport.name, cause)
            if stop:
                raise
        else:
            outcome = self._record(message.id, "sent", "sent", transport.name, None, sent_at=self.now())
        self.outcomes[outcome] += 1
        return outcome

    def _attach_statement(self, message) -> str | None:
        """Render the customer's outstanding statement as at `attach_statement_on` (a payment reminder's,
        services/billing/reminders.py) and store it (see _attach_rendered). The reason it cannot be
        attached, or None."""
        from app.services.billing import statement_documents, statements
        from app.services.messages import outbox  # (here: outbox imports this module)

        def render() -> outbox.Attachment:
            customer = self.session.get(Customer, message.customer_id)
            statement = statements.outstanding_for(self.session, customer, message.attach_statement_on)
            return outbox.Attachment(statement_documents.filename_for(statement), "application/pdf",
                                     statement_documents.pdf(self.session, statement, self.config))
        return self._attach_rendered(message, "statement", render)

    def _attach_invoice(self, message) -> str | None:
        """Render the invoice `attach_invoice_id` names (a billing run's e-mail, services/billing/recurring.py)
        and store it (see _attach_rendered); a draft, void or deleted invoice is not sent. The reason it
        cannot be attached, or None."""
        from app.models import Invoice
        from app.services.billing import documents
        from app.services.messages import outbox
        invoice = self.session.get(Invoice, message.attach_invoice_id)
        if invoice is None or invoice.status in ("draft", "void"):
            return f"The invoice could not be attached: it is {'gone' if invoice is None else invoice.status}."
        return self._attach_rendered(message, "invoice", lambda: outbox.Attachment(
            documents.filename_for(invoice), documents.PDF_TYPE,
            documents.invoice_document(self.session, invoice, self.config)))

    def _attach_rendered(self, message, what: str, render) -> str | None:
        """Store the file `render` makes as the message's attachment, committed: rendered once, a retry
        sends the stored file (nothing is stored unless the whole file is: a render cut short by the job's
        timeout raises, and the message goes again, rendered then). Kept to outbox.attach's size rule.
        The reason the `what` cannot be attached, or None."""
        from app.services.errors import Invalid
        from app.services.messages import outbox
        try:
            outbox.attach(self.session, message, [render()])
            self._commit()
        except JobTimeoutException:
            raise
        except Invalid as e:
            self.session.rollback()
            return f"The {what} could not be attached: {' '.join(m for ms in e.errors.values() for m in ms)}"
        except Exception as e:  # noqa: BLE001  a document that cannot be built fails this message only
            self.session.rollback()
            log.exception("could not attach the %s to message %s", what, message.id)
            return f"The {what} could not be attached ({type(e).__name__}: {e})"
        return None

    def _transport(self, channel: str):
        if channel not in self.transports:
            self.transports[channel] = transports.for_channel(channel, self.config)
        return self.transports[channel]

    def _claim(self, message_id: int):
        """The message, claimed for this worker (committed); or why not: "not due" (sent, taken
        by another worker, or not due yet), "skipped" (recorded, committed)."""
        connection, now = self.session.connection(), self.now()
        row = connection.execute(CHECK, {"message_id": message_id, "now": now}).first()
        self.has_files = bool(row[13]) if row is not None else False
        if row is None:
            self._commit()  # the last outcome, if it waits (nothing else was written)
            return "not due"
        channel, purpose, recipient, contact_id, status = row[:5]
        try:
            self._transport(channel)  # before the claim: a transport that cannot be made leaves it queued
        except BaseException:
            self._commit()
            raise
        prefs = row[9:13] if contact_id is not None else row[5:9]
        reason = skip_reason(status, bool(prefs[PREFERENCES.index(f"{purpose}_{channel}")]), channel, purpose,
                             recipient, despite_status=bool(row[14]))
        if reason:
            skipped = connection.execute(SKIP, {"message_id": message_id, "reason": reason}).rowcount
            if skipped:
                connection.execute(LOG, {"message_id": message_id, "at": now, "outcome": "skipped",
                                         "transport": None, "error": reason})
            self._commit()
            return "skipped" if skipped else "not due"
        claimed = connection.execute(CLAIM, {"message_id": message_id, "now": now, "runner": self.runner,
                                             "lease_until": now + self.lease}).first()
        self._commit()
        return claimed if claimed is not None else "not due"

    def _commit(self):
        self.session.commit()
        self.uncommitted = False

    def _record(self, message_id: int, status: str, outcome: str, transport: str, error: str | None,
                due_at: datetime | None = None, sent_at: datetime | None = None, at_once: bool = False) -> str:
        """What came of the attempt, written only if this worker still holds the claim; else only
        the attempt is logged, as "late" (recover() gave the message up meanwhile). Committed now,
        or with the next claim when batched (unless `at_once`)."""
        error = error[:2000] if error else None
        connection = self.session.connection()
        held = connection.execute(RECORD, {"message_id": message_id, "runner": self.runner, "status": status,
                                           "transport": transport, "error": error, "due_at": due_at,
                                           "sent_at": sent_at}).rowcount
        if not held:
            error = f"{outcome} after the message was given up" + (f": {error}" if error else "")
            outcome = "late"
        connection.execute(LOG, {"message_id": message_id, "at": self.now(), "outcome": outcome,
                                 "transport": transport, "error": error})
        if self.batched and not at_once:
            self.uncommitted = True
        else:
            self._commit()
        return outcome


def with_attachments(session: Session, message):
    """The claimed message with `attachments`: (filename, content_type, content) of each of its
    files, in the order they were attached (transports.Smtp attaches them)."""
    files = session.execute(select(MessageAttachment.filename, MessageAttachment.content_type,
                                   MessageAttachment.content)
                            .where(MessageAttachment.message_id == message.id).order_by(MessageAttachment.id)).all()
    return SimpleNamespace(**message._mapping, attachments=[tuple(f) for f in files])


# The statements of each message's steps, built once (they run a few hundred times a second).
_message, _customer, _contact = Message.__table__, Customer.__table__, Contact.__table__
_queued_and_due = and_(_message.c.id == bindparam("message_id"), _message.c.status == "queued",
                       _message.c.due_at <= bindparam("now"))
CHECK = (select(_message.c.channel, _message.c.purpose, _message.c.recipient, _message.c.contact_id,
                _customer.c.status, *(_customer.c[name] for name in PREFERENCES),
                *(_contact.c[name] for name in PREFERENCES),
                exists().where(MessageAttachment.__table__.c.message_id == _message.c.id).label("has_files"),
                _message.c.sent_despite_status)
         .select_from(_message.join(_customer, _customer.c.id == _message.c.customer_id)
                      .outerjoin(_contact, _contact.c.id == _message.c.contact_id))
         .where(_queued_and_due))
CLAIM = (update(_message).where(_queued_and_due)
         .values(status="sending", attempts=_message.c.attempts + 1, claimed_at=bindparam("now"),
                 claimed_by=bindparam("runner"), lease_until=bindparam("lease_until"))
         .returning(*(_message.c[column.key] for column in MESSAGE_COLUMNS)))
SKIP = (update(_message).where(_message.c.id == bindparam("message_id"), _message.c.status == "queued")
        .values(status="skipped", skip_reason=bindparam("reason")))
RECORD = (update(_message).where(_message.c.id == bindparam("message_id"), _message.c.status == "sending",
                                 _message.c.claimed_by == bindparam("runner"))
          .values(status=bindparam("status"), transport=bindparam("transport"), error=bindparam("error"),
                  claimed_by=None, lease_until=None,
                  due_at=func.coalesce(bindparam("due_at", type_=_message.c.due_at.type), _message.c.due_at),
                  sent_at=func.coalesce(bindparam("sent_at", type_=_message.c.sent_at.type), _message.c.sent_at)))
LOG = insert(MessageAttempt.__table__).values(
    message_id=bindparam("message_id"), at=bindparam("at"), outcome=bindparam("outcome"),
    transport=bindparam("transport"), error=bindparam("error"))


def deliver(session: Session, message_ids: Iterable[int], config: dict, *, runner: str,
            retry: Callable[[list[int], float], None] | None = None, now: Callable[[], datetime] = utcnow) -> Counter:
    """Send each of `message_ids` that is queued and due, one at a time (see Sender.one);
    returns the outcomes counted. `retry(ids, delay)` is told of messages put back in the
    queue for a later try (their due time is already kept with them)."""
    sender = Sender(session, config, runner, now, batched=True)
    try:
        with Lease(session, runner, sender.lease):
            for message_id in sorted(set(message_ids)):
                sender.one(message_id)
            sender.finish()
    finally:
        sender.close()
    if retry:
        for delay, ids in sender.retries.items():
            retry(ids, delay)
    return sender.outcomes


def due_ids(session: Session, limit: int, now: datetime, overdue_by: timedelta = timedelta(0)) -> list[int]:
    """Queued messages whose due time has come (`overdue_by` ago), oldest first."""
    return list(session.scalars(select(Message.id).where(Message.status == "queued",
                                                         Message.due_at <= now - overdue_by)
                                .order_by(Message.due_at, Message.id).limit(limit)))


def deliver_due(session: Session, config: dict, *, runner: str, now: Callable[[], datetime] = utcnow,
                batch: int = DUE_BATCH) -> Counter:
    """Send every queued message whose time has come, in order of due time, until none is due.
    Returns the outcomes counted. Safe beside other workers: each message is claimed once."""
    outcomes = Counter()
    while True:
        ids = due_ids(session, batch, now())
        session.rollback()
        if not ids:
            return outcomes
        done = deliver(session, ids, config, runner=runner, now=now)
        outcomes.update(done)
        if not done.keys() - {"not due"}:
            return outcomes  # another worker took them all: it goes on


def recover(session: Session, config: dict, now: datetime | None = None) -> int:
    """Messages whose worker stopped while sending them (its lease lapsed): "uncertain", for an
    admin to send again (they may or may not have gone out, and sending again could send twice).
    Messages the worker is still sending are left alone, however slow the server."""
    now = now or utcnow()
    lapsed = or_(Message.lease_until < now,
                 and_(Message.lease_until.is_(None), Message.claimed_at < now - lease_of(config)),
                 and_(Message.lease_until.is_(None), Message.claimed_at.is_(None),
                      Message.created_at < now - lease_of(config)))
    ids = list(session.scalars(
        update(Message).where(Message.status == "sending", lapsed)
        .values(status="uncertain", error=INTERRUPTED, claimed_by=None, lease_until=None)
        .returning(Message.id).execution_options(synchronize_session=False)))
    if ids:
        session.execute(insert(MessageAttempt), [
            {"message_id": message_id, "at": now, "outcome": "interrupted", "transport": None, "error": INTERRUPTED}
            for message_id in ids])
    session.commit()
    return len(ids)


def overdue(session: Session, now: datetime, by: timedelta) -> bool:
    """Whether some queued message has been due for longer than `by` (its job was lost)."""
    return bool(due_ids(session, 1, now, overdue_by=by))
