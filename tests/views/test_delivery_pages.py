"""What the pages say of delivery (issue 11): "/jobs/mine" is the user's own latest job (an
admin's too); a batch's page counts the messages that may have gone out, gives the reasons
messages were skipped (when written or when sent) and when the next retry is due; a message
that may have gone out says so and an admin may send it again, while a sent or received
message may not be sent again."""
import re
from collections import Counter
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Customer, Job, Message
from app.services.messages import delivery, transports
from tests import factories as f


def form_key(html):
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def send_email(browser, rowids, **fields):
    page = browser.post("/customers/action_post", {"action": "send_email", "rowid": [str(i) for i in rowids]})
    assert page.status_code == 200
    return browser.post("/customers/compose/send_email", {"rowid": [str(i) for i in rowids], "send": "1",
                                                          "form_key": form_key(page.get_data(as_text=True)),
                                                          **fields})


class ScriptedTransport:
    """Does, for each recipient, what `script` says (None: it goes out); counts hand-overs."""

    name = "fake"

    def __init__(self):
        self.script, self.tries = {}, Counter()

    def send(self, message, headers):
        self.tries[message.recipient] += 1
        what = self.script.get(message.recipient)
        if callable(what):
            what()
        elif what is not None:
            raise what

    def close(self):
        pass


@pytest.fixture
def transport(monkeypatch):
    fake = ScriptedTransport()
    monkeypatch.setattr(transports, "for_channel", lambda channel, config: fake)
    return fake


def messages_of(app, customer_id):
    with app.app_context():
        return db.session.scalars(select(Message).where(Message.customer_id == customer_id)
                                  .order_by(Message.id)).all()


# ---- /jobs/mine ------------------------------------------------------------------------------------
def a_job(username, action="email"):
    job = Job(action=action, params={}, user_id=f.user(username).id, username=username, status="done", total=1,
              done=1, result={})
    db.session.add(job)
    db.session.commit()
    return job.id


def test_jobs_mine_takes_an_admin_to_the_admins_own_latest_job_not_another_users_newer_one(app, login):
    with app.app_context():
        older_of_admin = a_job("admin")
        admins = a_job("admin")
        newer_of_staff = a_job("staff")
    assert admins > older_of_admin and newer_of_staff > admins
    r = login("admin").get("/jobs/mine")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/jobs/{admins}")
    r = login("staff").get("/jobs/mine")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/jobs/{newer_of_staff}")


def test_jobs_mine_is_not_found_for_a_user_with_no_job_of_their_own(app, login):
    with app.app_context():
        a_job("admin")
    assert login("staff").get("/jobs/mine").status_code == 404


# ---- a batch's page ----------------------------------------------------------------------------------
def test_a_batchs_page_counts_what_may_have_gone_out_the_reasons_skipped_and_the_next_retry(app, login,
                                                                                            transport):
    with app.app_context():
        ada, bob, cy = (f.customer(first_name=n, email=f"{n.lower()}@example.com").id for n in ("Ada", "Bob", "Cy"))
        dan = f.customer(first_name="Dan", email="dan@example.com", status="archived").id
        eve = f.customer(first_name="Eve", email="eve@example.com").id

    def eve_is_blocked_meanwhile():  # after her message was written, before it is sent
        with Session(db.engine) as elsewhere:
            elsewhere.execute(update(Customer).where(Customer.id == eve).values(status="blocked"))
            elsewhere.commit()
    transport.script = {"ada@example.com": eve_is_blocked_meanwhile,
                        "bob@example.com": transports.Uncertain("No reply from the mail server after it had it"),
                        "cy@example.com": transports.Transient("421 try again later")}
    browser = login("admin")
    r = send_email(browser, [ada, bob, cy, dan, eve], subject="S", body="Hi {first_name}")
    assert r.status_code == 302
    job_url = r.headers["Location"]
    assert transport.tries == Counter({"ada@example.com": 1, "bob@example.com": 1, "cy@example.com": 1})
    [to_cy] = messages_of(app, cy)
    due = to_cy.due_at.replace(tzinfo=timezone.utc) if to_cy.due_at.tzinfo is None else to_cy.due_at

    progress = browser.get(job_url + "/progress").get_json()
    assert progress["messages"] == {"sent": 1, "uncertain": 1, "queued": 1, "skipped": 2}
    assert progress["skipped"] == {"customer archived": 1, "customer blocked": 1}
    assert progress["status"] == "running" and progress["next_try"].startswith(due.strftime("%Y-%m-%dT%H:%M"))
    page = browser.get(job_url).get_data(as_text=True)
    assert "<strong>1</strong> sent" in page and "<strong>1</strong> queued" in page
    assert "<strong>1</strong> may have gone out" in page
    assert "1 skipped: customer archived" in page  # when written
    assert "1 skipped: customer blocked" in page  # when it was to be sent
    assert f'the next try is due at <span class="nowrap">{due:%Y-%m-%d %H:%M}</span>.' in page  # company time zone: UTC here

    transport.script = {}
    with app.app_context():
        assert delivery.deliver_due(db.session, app.config, runner="w1",
                                    now=lambda: due + timedelta(seconds=1)) == Counter(sent=1)
    assert browser.get(job_url + "/progress").get_json()["next_try"] is None
    page = browser.get(job_url).get_data(as_text=True)
    assert "<strong>2</strong> sent" in page and "next try" not in page and "Done." in page
    assert transport.tries["cy@example.com"] == 2


# ---- sending again ---------------------------------------------------------------------------------------
def a_message(app, **values):
    with app.app_context():
        customer = f.customer(email="ada@example.com")
        message = Message(**{"customer_id": customer.id, "channel": "email", "subject": "Invoice", "body": "B",
                             "recipient": "ada@example.com", "attempts": 1, **values})
        db.session.add(message)
        db.session.commit()
        return customer.id, message.id


def test_a_message_that_may_have_gone_out_says_so_and_an_admin_may_send_it_again(app, login, transport):
    customer, uncertain = a_message(app, status="uncertain", error=delivery.INTERRUPTED)
    staff = login("staff")
    shown = staff.get(f"/messages/show/{uncertain}").get_data(as_text=True)
    assert "may have gone out" in shown and "Send again" not in shown
    assert "may have gone out" in staff.get("/messages/list/").get_data(as_text=True)

    admin = login("admin")
    shown = admin.get(f"/messages/show/{uncertain}").get_data(as_text=True)
    assert "may have gone out" in shown and "Send again" in shown
    r = admin.post(f"/messages/resend/{uncertain}")
    assert r.status_code == 302
    old, new = messages_of(app, customer)
    assert (old.id, old.status) == (uncertain, "uncertain")  # kept, with its log
    assert (new.status, new.resend_of_id, new.recipient, new.attempts) == ("sent", uncertain, "ada@example.com", 1)
    assert r.headers["Location"].endswith(f"/messages/show/{new.id}")
    assert transport.tries == Counter({"ada@example.com": 1})


@pytest.mark.parametrize("values", [
    {"status": "sent"},
    {"status": "received", "direction": "in"},
    {"status": "queued", "attempts": 0},
    {"status": "skipped", "skip_reason": "customer blocked", "attempts": 0},
])
def test_a_sent_received_queued_or_skipped_message_may_not_be_sent_again(app, login, transport, values):
    customer, mid = a_message(app, **values)
    admin = login("admin")
    assert "Send again" not in admin.get(f"/messages/show/{mid}").get_data(as_text=True)
    r = admin.post(f"/messages/resend/{mid}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/messages/show/{mid}")
    assert "can be sent again" in admin.get(r.headers["Location"]).get_data(as_text=True)
    assert [m.id for m in messages_of(app, customer)] == [mid]
    assert transport.tries == Counter()
