"""Messages a dead worker left "sending": marked failed once they have been stuck long enough,
counted from when a worker claimed them (not from when they were written: a long queue is not
a stuck message)."""
from datetime import timedelta

from app.models import Message
from app.models.resellers import utcnow
from app.services.messages import delivery
from tests import factories as f


def test_only_messages_claimed_long_ago_are_marked_failed(ctx):
    customer = f.customer(email="a@example.com")
    long_ago = utcnow() - timedelta(hours=2)

    def message(status, claimed_at):
        m = Message(customer_id=customer.id, channel="email", subject="S", body="B", recipient="a@example.com",
                    status=status, attempts=1, created_at=long_ago, claimed_at=claimed_at)
        ctx.add(m)
        return m
    stuck = message("sending", utcnow() - timedelta(minutes=30))
    slow_queue = message("sending", utcnow() - timedelta(seconds=5))  # written long ago, claimed just now
    old_row = message("sending", None)  # claimed before claimed_at existed: its age is its own
    sent = message("sent", long_ago)
    ctx.commit()

    assert delivery.recover(ctx, older_than=timedelta(minutes=10)) == 2
    ctx.expire_all()
    assert [m.status for m in (stuck, slow_queue, old_row, sent)] == ["failed", "sending", "failed", "sent"]
    assert stuck.error.startswith("Interrupted while sending")
    assert [a.outcome for a in stuck.attempt_log] == ["interrupted"]
    assert delivery.recover(ctx, older_than=timedelta(minutes=10)) == 0  # nothing twice
