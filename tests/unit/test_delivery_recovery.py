"""Messages a stopped worker left "sending": marked uncertain once their worker's claim (its lease,
renewed while it sends) has lapsed; never while the worker still holds it, however slow the send."""
from datetime import timedelta

from app.models import Message
from app.models.resellers import utcnow
from app.services.messages import delivery
from tests import factories as f

CONFIG = {"DELIVERY_LEASE_SECONDS": 120}


def test_only_messages_whose_lease_has_lapsed_are_marked_uncertain(ctx):
    customer = f.customer(email="a@example.com")
    long_ago, now = utcnow() - timedelta(hours=2), utcnow()

    def message(status, claimed_at, lease_until=None):
        m = Message(customer_id=customer.id, channel="email", subject="S", body="B", recipient="a@example.com",
                    status=status, attempts=1, created_at=long_ago, claimed_at=claimed_at, lease_until=lease_until,
                    claimed_by="host:1:1")
        ctx.add(m)
        return m
    lapsed = message("sending", long_ago, lease_until=now - timedelta(seconds=1))
    slow_send = message("sending", long_ago, lease_until=now + timedelta(seconds=60))  # its worker renews it
    old_row = message("sending", None)  # claimed before leases existed: its age is its own
    claimed_long_ago = message("sending", now - timedelta(minutes=30))
    claimed_just_now = message("sending", now - timedelta(seconds=5))
    sent = message("sent", long_ago)
    ctx.commit()

    assert delivery.recover(ctx, CONFIG, now=now) == 3
    ctx.expire_all()
    assert [m.status for m in (lapsed, slow_send, old_row, claimed_long_ago, claimed_just_now, sent)] == [
        "uncertain", "sending", "uncertain", "uncertain", "sending", "sent"]
    assert lapsed.error.startswith("Interrupted while sending") and lapsed.claimed_by is None
    assert [a.outcome for a in lapsed.attempt_log] == ["interrupted"]
    assert delivery.recover(ctx, CONFIG, now=now) == 0  # nothing twice
