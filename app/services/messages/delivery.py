"""Delivering messages from the outbox, by id: at most once, retried with backoff, every attempt logged.

A message is claimed (queued -> sending) in its own committed transaction before it
is handed to the transport, and marked sent or failed after. A second run of the same
job finds nothing queued and sends nothing; a worker killed between the claim and the
mark leaves the message "sending", never sent twice (recover() later marks it failed,
for an admin to resend). A transient failure puts the message back in the queue for
a later try, until the attempts run out.
"""
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from app.models import Message, MessageAttempt
from app.models.resellers import utcnow
from app.services.db import in_ids
from app.services.messages import transports, unsubscribe

DEFAULT_RETRY_DELAYS = (30, 120, 600)  # seconds before the 2nd, 3rd and 4th attempts


def headers_for(message: Message, config: dict) -> dict:
    """A Message-ID made from the message's id (so a receiving server can spot a repeat),
    and RFC 8058 one-click unsubscribe headers on marketing e-mail."""
    domain = (config.get("MAIL_DEFAULT_SENDER") or "localhost").rsplit("@", 1)[-1].strip("> ")
    headers = {"Message-ID": f"<message-{message.id}@{domain}>"}
    if message.purpose == "marketing" and message.channel == "email":
        headers["List-Unsubscribe"] = f"<{unsubscribe.url(config, message.customer_id, message.contact_id)}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return headers


def deliver(session: Session, message_ids: Iterable[int], config: dict,
            retry: Callable[[list[int], float], None], commit_every: int = 20) -> dict:
    """Try each queued message of `message_ids` once; returns counts by outcome.

    The batch is claimed (queued -> sending) in one committed statement; outcomes are
    committed every `commit_every` messages. A crash in between leaves the claimed
    messages "sending": never sent again by themselves (see recover()).
    `retry(ids, delay)` schedules a later try of messages put back in the queue."""
    delays = tuple(config.get("MESSAGE_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))
    ids = list(message_ids)
    claimed = session.scalars(
        update(Message).where(in_ids(session, Message.id, ids), Message.status == "queued")
        .values(status="sending", attempts=Message.attempts + 1, claimed_at=utcnow()).returning(Message.id)
        .execution_options(synchronize_session=False)).all()
    session.commit()
    outcomes = {"sent": 0, "retry": 0, "failed": 0, "not queued": len(ids) - len(claimed)}
    columns = [Message.id, Message.customer_id, Message.contact_id, Message.channel, Message.purpose,
               Message.recipient, Message.subject, Message.body, Message.attempts]
    messages = session.execute(select(*columns).where(in_ids(session, Message.id, claimed)).order_by(Message.id)).all()
    open_transports, retries, pending = {}, {}, []
    try:
        for message in messages:
            if message.channel not in open_transports:
                open_transports[message.channel] = transports.for_channel(message.channel, config)
            transport = open_transports[message.channel]
            try:
                transport.send(message, headers_for(message, config))
            except transports.Transient as e:
                again = message.attempts <= len(delays)
                pending.append((message.id, "queued" if again else "failed", "retry" if again else "failed",
                                transport.name, str(e)))
                outcomes["retry" if again else "failed"] += 1
                if again:
                    retries.setdefault(delays[message.attempts - 1], []).append(message.id)
            except transports.Permanent as e:
                pending.append((message.id, "failed", "failed", transport.name, str(e)))
                outcomes["failed"] += 1
            except Exception as e:  # noqa: BLE001  a message that cannot be built: fail it, go on
                pending.append((message.id, "failed", "failed", transport.name, f"{type(e).__name__}: {e}"))
                outcomes["failed"] += 1
            else:
                pending.append((message.id, "sent", "sent", transport.name, None))
                outcomes["sent"] += 1
            if len(pending) >= commit_every:
                _record(session, pending)
    finally:
        _record(session, pending)
        for transport in open_transports.values():
            transport.close()
    for delay, retry_ids in retries.items():
        retry(retry_ids, delay)
    return outcomes


def _record(session: Session, outcomes: list[tuple]) -> None:
    """Write and commit what came of each message, and its attempt; empties `outcomes`."""
    if not outcomes:
        return
    now = utcnow()
    for message_id, status, _, transport, error in outcomes:
        values = {"status": status, "transport": transport, "error": error[:2000] if error else None}
        if status == "sent":
            values["sent_at"] = now
        session.execute(update(Message).where(Message.id == message_id).values(**values)
                        .execution_options(synchronize_session=False))
    session.execute(insert(MessageAttempt), [
        {"message_id": message_id, "at": now, "outcome": outcome, "transport": transport,
         "error": error[:2000] if error else None}
        for message_id, _, outcome, transport, error in outcomes])
    session.commit()
    outcomes.clear()


def _finish(session: Session, message: Message, status: str, outcome: str, transport: str, error: str | None):
    message.status, message.transport = status, transport
    message.error = error[:2000] if error else None
    session.add(MessageAttempt(message_id=message.id, outcome=outcome, transport=transport,
                               error=error[:2000] if error else None))
    session.commit()


def recover(session: Session, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Messages left "sending" by a worker that died: failed, for an admin to resend
    (they may or may not have gone out, and sending again could send twice)."""
    cutoff = utcnow() - older_than
    ids = list(session.scalars(select(Message.id).where(
        Message.status == "sending", func.coalesce(Message.claimed_at, Message.created_at) < cutoff)))
    for message_id in ids:
        message = session.get(Message, message_id)
        _finish(session, message, "failed", "interrupted", message.transport or "-",
                "Interrupted while sending: it may or may not have gone out. Resend it if it did not arrive.")
    return len(ids)

