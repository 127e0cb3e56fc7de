"""Delivery's outcomes in a real browser: a batch's page counts the messages that may have gone out,
those skipped when they were sent, and says when the next retry is due; an uncertain message's page
warns before it is sent again."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_batch_with_uncertain_skipped_and_waiting_messages_says_so(page_as, live_server, screenshots):
    from sqlalchemy import select

    from app.models import Customer, Job, Message, MessageAttempt, User
    from app.models.resellers import utcnow

    def batch(session):
        admin = session.scalar(select(User).where(User.username == "admin"))
        customers = session.scalars(select(Customer.id).where(Customer.reseller_id.is_(None))
                                    .order_by(Customer.id).limit(6)).all()
        job = Job(action="email", params={"channel": "email"}, user_id=admin.id, username="admin", status="done",
                  total=6, done=6, result={"queued": 6, "skipped": {}})
        session.add(job)
        session.flush()
        now = utcnow()
        states = [("sent", None, 1, None), ("sent", None, 1, None),
                  ("uncertain", None, 1, "No reply from the mail server after it had the message (timed out): "
                                         "it may have gone out."),
                  ("skipped", "opted out of service messages by e-mail", 0, None),
                  ("queued", None, 1, "451 4.3.0 Mailbox busy, try later"), ("failed", None, 4, "550 No such user")]
        messages = []
        for customer_id, (status, reason, attempts, error) in zip(customers, states):
            message = Message(customer_id=customer_id, channel="email", purpose="service", recipient="x@example.com",
                              recipient_name="X", subject="Your visit on Monday", body="Hello", status=status,
                              skip_reason=reason, attempts=attempts, error=error, batch_id=job.id,
                              due_at=now + timedelta(seconds=90) if status == "queued" else now, transport="smtp")
            session.add(message)
            messages.append(message)
        session.flush()
        session.add(MessageAttempt(message_id=messages[2].id, outcome="uncertain", transport="smtp",
                                   error=messages[2].error))
        session.commit()
        return job.id, messages[2].id

    job_id, uncertain_id = live_server.query(batch)
    page = page_as("admin")
    page.goto(f"/jobs/{job_id}")
    messages = page.locator("#job-messages")
    expect(messages.locator(".message-count-uncertain")).to_contain_text("1 may have gone out")
    expect(messages).to_contain_text("1 skipped: opted out of service messages by e-mail")
    expect(page.locator("#job-next-try")).to_contain_text("the next try is due at")
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(screenshots / f"delivery-batch-{width}.png"), full_page=True)

    page.goto(f"/messages/show/{uncertain_id}")
    expect(page.locator("#uncertain")).to_contain_text("may have gone out")
    expect(page.locator(".message-status").first).to_have_text("may have gone out")
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(screenshots / f"message-uncertain-{width}.png"), full_page=True)
    page.once("dialog", lambda dialog: dialog.dismiss())  # "It may have arrived already. Send it again?"
    page.locator("#resend").click()
    expect(page).to_have_url(f"{live_server.url}/messages/show/{uncertain_id}")  # cancelled: nothing sent
    copies = live_server.query(lambda s: s.scalar(select(Message.id).where(Message.resend_of_id == uncertain_id)))
    assert copies is None
