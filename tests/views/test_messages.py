"""E-mail and text from the customer list (iBill), preferences and unsubscribe (Commusoft, Launch27),
messages and notification logs on the customer (getSoapy)."""
import re

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Contact, Customer, Message, MessageAttempt
from app.services.customers import contacts
from app.services.messages import unsubscribe
from tests import factories as f


def form_key(html):
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def compose(browser, action, rowids, **fields):
    """Open the compose screen for these rows and post it (preview unless send=1)."""
    page = browser.post("/customers/action_post", {"action": action, "rowid": [str(i) for i in rowids]})
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    data = {"rowid": [str(i) for i in rowids], "form_key": form_key(page.get_data(as_text=True)), **fields}
    name = "send_email" if action == "send_email" else "send_text"
    return browser.post(f"/customers/compose/{name}", data)


def messages_of(app, customer_id):
    with app.app_context():
        return db.session.scalars(select(Message).where(Message.customer_id == customer_id)
                                  .order_by(Message.id)).all()


@pytest.fixture
def three(app):
    with app.app_context():
        admin = f.user("admin")
        ada = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com")
        bob = f.customer(first_name="Bob", surname="Builder", email="bob@example.com")
        contacts.create_contact(db.session, admin, bob.id, {"first_name": "Wendy", "surname": "Works",
                                                            "email": "wendy@example.com"})
        gone = f.customer(first_name="Old", surname="Gone", email="gone@example.com", status="archived")
        return ada.id, bob.id, gone.id


def test_preview_fills_the_placeholders_for_the_first_recipient(app, login, three):
    ada, bob, _ = three
    r = compose(login("staff"), "send_email", [ada, bob], subject="Hello {first_name}",
                body="Dear {first_name} {surname}, your balance is {balance}.", send="0")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Dear Ada Lovelace, your balance is £0.00." in html and "Hello Ada" in html
    assert messages_of(app, ada) == []  # a preview writes nothing


def test_all_customers_matching_a_filter_get_it_and_the_preview_is_the_first_of_them(app, login, three):
    ada, bob, gone = three
    browser = login("admin")
    data = {"all_matching": "1", "query": "_flt_0_surname=l", "rowid": [str(ada)]}  # Lovelace, Builder
    page = browser.post("/customers/action_post", {"action": "send_email", **data}).get_data(as_text=True)
    assert "To <strong>2</strong> customers" in page
    preview = browser.post("/customers/compose/send_email", {**data, "form_key": form_key(page), "subject": "S",
                                                             "body": "Hi {first_name}", "send": "0"})
    assert "Hi Ada" in preview.get_data(as_text=True)
    browser.post("/customers/compose/send_email", {**data, "form_key": form_key(page), "subject": "S",
                                                   "body": "Hi {first_name}", "send": "1"})
    assert [len(messages_of(app, i)) for i in (ada, bob, gone)] == [1, 1, 0]


def test_send_writes_one_message_per_customer_and_each_shows_on_the_customer(app, login, three):
    ada, bob, gone = three
    browser = login("staff")
    r = compose(browser, "send_email", [ada, bob, gone], subject="Hello {first_name}", body="Hi {first_name}",
                send="1")
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    [to_ada] = messages_of(app, ada)
    assert (to_ada.recipient, to_ada.subject, to_ada.body, to_ada.status) == (
        "ada@example.com", "Hello Ada", "Hi Ada", "sent")
    assert to_ada.transport == "outbox"  # no mail server here: kept in the outbox
    [to_bob] = messages_of(app, bob)
    assert (to_bob.recipient, to_bob.body) == ("wendy@example.com", "Hi Wendy")  # the primary contact
    [to_gone] = messages_of(app, gone)
    assert (to_gone.status, to_gone.skip_reason) == ("skipped", "customer archived")
    job_page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "<strong>2</strong> sent" in job_page and "1 skipped: customer archived" in job_page
    listed = browser.get(f"/customer-messages/list/?_flt_0_customer={ada}").get_data(as_text=True)
    assert "Hello Ada" in listed


def test_all_contacts_get_it_when_asked(app, login, three):
    _, bob, _ = three
    compose(login("admin"), "send_email", [bob], subject="S", body="Hi {first_name}", recipients="all", send="1")
    with app.app_context():
        contacts.create_contact(db.session, f.user("admin"), bob, {"surname": "Second", "email": "second@example.com"})
    compose(login("admin"), "send_email", [bob], subject="S", body="Hi {surname}", recipients="all", send="1")
    assert [m.recipient for m in messages_of(app, bob)] == ["wendy@example.com", "wendy@example.com",
                                                            "second@example.com"]


@pytest.mark.parametrize("fields, field, message", [
    ({"subject": "", "body": "x"}, "subject", "Write a subject."),
    ({"subject": "x", "body": "   "}, "body", "Write the message."),
    ({"subject": "x", "body": "Dear {firstname}"}, "body", "Unknown placeholder {firstname}"),
    ({"subject": "Hi {nope}", "body": "x"}, "subject", "Unknown placeholder {nope}"),
    ({"subject": "x", "body": "{balance:>99999}"}, "body", "without a format"),
])
def test_bad_e_mails_are_refused_with_the_reason_and_nothing_is_written(app, login, three, fields, field, message):
    ada = three[0]
    r = compose(login("admin"), "send_email", [ada], send="1", **fields)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert messages_of(app, ada) == []


def test_a_10000_character_text_is_refused(app, login, three):
    ada = three[0]
    with app.app_context():
        db.session.get(Customer, ada).mobile = "+447700900123"
        db.session.commit()
    r = compose(login("admin"), "send_text", [ada], body="x" * 10_000, send="1")
    assert r.status_code == 422 and "at most 10" in r.get_data(as_text=True)
    assert messages_of(app, ada) == []
    compose(login("admin"), "send_text", [ada], body="Your engineer arrives at 9 {first_name}", send="1")
    [text] = messages_of(app, ada)
    assert (text.channel, text.recipient, text.body, text.status) == (
        "sms", "+447700900123", "Your engineer arrives at 9 Ada", "sent")


def test_the_text_screen_counts_characters_and_messages(app, login, three):
    r = compose(login("admin"), "send_text", [three[0]], body="€" * 80 + "a", send="0")
    assert "161 characters (GSM-7), 2 messages" in r.get_data(as_text=True)


def test_a_double_submitted_send_writes_once(app, login, three):
    ada = three[0]
    browser = login("admin")
    page = browser.post("/customers/action_post", {"action": "send_email", "rowid": [str(ada)]})
    data = {"rowid": [str(ada)], "form_key": form_key(page.get_data(as_text=True)), "subject": "S", "body": "B",
            "send": "1"}
    assert browser.post("/customers/compose/send_email", data).status_code == 302
    assert browser.post("/customers/compose/send_email", data).status_code == 302
    assert len(messages_of(app, ada)) == 1


def test_a_forged_row_outside_the_resellers_scope_gets_nothing(app, login, resellers):
    with app.app_context():
        own = f.customer(email="own@example.com", reseller_id=resellers["Reseller A"]).id
        theirs = f.customer(email="theirs@example.com", reseller_id=resellers["Reseller B"]).id
    r = compose(login("reseller_a"), "send_email", [own, theirs], subject="S", body="B", send="1")
    assert r.status_code == 302
    assert len(messages_of(app, own)) == 1 and messages_of(app, theirs) == []


def test_marketing_goes_only_to_those_who_opted_in_and_carries_a_working_unsubscribe_link(app, login, three):
    ada, bob, _ = three
    with app.app_context():
        wendy = db.session.scalar(select(Contact).where(Contact.customer_id == bob))
        wendy.marketing_email = True
        db.session.commit()
        wendy_id = wendy.id
    compose(login("admin"), "send_email", [ada, bob], purpose="marketing", subject="Offer", body="20% off",
            send="1")
    [to_ada] = messages_of(app, ada)
    assert (to_ada.status, to_ada.skip_reason) == ("skipped", "not opted in to marketing by e-mail")
    [to_bob] = messages_of(app, bob)
    assert to_bob.status == "sent"
    link = re.search(r"unsubscribe: (\S+)", to_bob.body).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = app.test_client()
    page = anonymous.get("/" + path)
    assert page.status_code == 200 and "we***@example.com" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, wendy_id).marketing_email is True  # a GET changes nothing
    done = anonymous.post("/" + path, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no CSRF token
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    with app.app_context():
        contact = db.session.get(Contact, wendy_id)
        assert contact.marketing_email is False and contact.unsubscribed_at is not None
        assert contact.service_email is True
    compose(login("admin"), "send_email", [bob], purpose="marketing", subject="Offer", body="again", send="1")
    assert messages_of(app, bob)[-1].skip_reason == "not opted in to marketing by e-mail"


def marketing_state(app, customer_id, contact_id):
    """Everything an unsubscribe could change: who takes marketing e-mail, since when, and the trail."""
    with app.app_context():
        customer, contact = db.session.get(Customer, customer_id), db.session.get(Contact, contact_id)
        return ((customer.marketing_email, customer.unsubscribed_at), (contact.marketing_email, contact.unsubscribed_at),
                db.session.scalar(select(func.count()).select_from(AuditEntry)))


def forged_tokens(app, customer_id, contact_id):
    real = unsubscribe.token(app.config, customer_id, contact_id)
    payload = real.split(".")[0]
    other_key = URLSafeSerializer("not-the-apps-secret-key-but-as-long-as-one", salt=unsubscribe.SALT)
    mangled = real[:-2] + ("AA" if real[-2:] != "AA" else "BB")
    return ["nonsense", "<script>alert(1)<", payload, payload + ".forged", mangled,
            other_key.dumps([customer_id, contact_id]), other_key.dumps([customer_id, 0])]


def test_a_forged_unsubscribe_link_changes_nothing(app, three):
    _, bob, _ = three
    with app.app_context():
        wendy = db.session.scalar(select(Contact).where(Contact.customer_id == bob))
        wendy.marketing_email = True
        db.session.get(Customer, bob).marketing_email = True
        db.session.commit()
        wendy_id = wendy.id
    before = marketing_state(app, bob, wendy_id)
    assert before[:2] == ((True, None), (True, None))
    anonymous = app.test_client()
    for token in forged_tokens(app, bob, wendy_id):
        r = anonymous.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert r.status_code == 404 and "This link does not work" in r.get_data(as_text=True), token
        assert marketing_state(app, bob, wendy_id) == before, token
    # the real link still works, so the checks above could have seen a change
    assert anonymous.post(f"/unsubscribe/{unsubscribe.token(app.config, bob, wendy_id)}").status_code == 200
    assert marketing_state(app, bob, wendy_id)[1][0] is False


def test_an_admin_can_resend_a_failed_message_and_staff_cannot(app, login, three):
    ada = three[0]
    with app.app_context():
        failed = Message(customer_id=ada, channel="email", subject="S", body="B", recipient="ada@example.com",
                         status="failed", error="550 no such user", attempts=1)
        db.session.add(failed)
        db.session.commit()
        failed_id = failed.id
    staff = login("staff")
    assert "Send again" not in staff.get(f"/messages/show/{failed_id}").get_data(as_text=True)
    assert staff.post(f"/messages/resend/{failed_id}").status_code in (302, 403)
    assert [(m.id, m.status, m.attempts) for m in messages_of(app, ada)] == [(failed_id, "failed", 1)]
    admin = login("admin")
    shown = admin.get(f"/messages/show/{failed_id}").get_data(as_text=True)
    assert "Send again" in shown
    r = admin.post(f"/messages/resend/{failed_id}")
    assert r.status_code == 302
    old, new = messages_of(app, ada)
    assert (old.status, new.status, new.resend_of_id) == ("failed", "sent", failed_id)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MessageAttempt)
                                 .where(MessageAttempt.message_id == new.id)) == 1


def test_another_resellers_messages_are_not_found(app, login, resellers):
    with app.app_context():
        theirs = f.customer(email="t@example.com", reseller_id=resellers["Reseller B"]).id
        m = Message(customer_id=theirs, channel="email", subject="Secret subject", body="B", status="sent")
        db.session.add(m)
        db.session.commit()
        mid = m.id
    browser = login("reseller_a")
    assert browser.get(f"/messages/show/{mid}").status_code == 404
    assert "Secret subject" not in browser.get("/messages/list/").get_data(as_text=True)


def test_the_customer_page_lists_messages_and_notification_logs(app, login, three):
    ada = three[0]
    with app.app_context():
        db.session.add_all([
            Message(customer_id=ada, channel="email", subject="Manual one", body="B", status="sent"),
            Message(customer_id=ada, channel="sms", kind="notification", body="Reminder: tomorrow 9am",
                    status="failed", error="gateway answered 503")])
        db.session.commit()
    html = login("admin").get(f"/customers/show/{ada}?tab=messages&logs=1").get_data(as_text=True)
    assert "notification logs" in html and "Manual one" in html and "gateway answered 503" in html


# ---- received messages (getSoapy: "messages exchanged with the customer") ----------------

TOKEN = "inbound-secret"


@pytest.fixture
def inbound(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MESSAGE_TOKEN", TOKEN)
    client = app.test_client()

    def post(channel, token=TOKEN, **data):
        return client.post(f"/messages/inbound/{channel}", data=data,
                           headers={"Authorization": f"Bearer {token}"} if token else {})
    return post


def test_a_reply_to_a_text_is_kept_on_the_customer_it_was_sent_to_and_can_be_answered(app, login, three, inbound):
    ada, bob, _ = three
    with app.app_context():
        db.session.add(Message(customer_id=bob, channel="sms", body="Your window clean is due", status="sent",
                               recipient="+447700900123"))
        db.session.commit()
    r = inbound("sms", From="07700 900123", Body="Yes please, <b>Tuesday</b>")  # Twilio's names
    assert r.status_code == 201 and r.json["customer_id"] == bob
    received = messages_of(app, bob)[-1]
    assert (received.direction, received.status, received.recipient, received.body) == (
        "in", "received", "+447700900123", "Yes please, <b>Tuesday</b>")
    page = login("staff").get(f"/customers/show/{bob}?tab=messages").get_data(as_text=True)
    assert "from them" in page and "Yes please, &lt;b&gt;Tuesday&lt;/b&gt;" in page
    shown = login("staff").get(f"/messages/show/{received.id}").get_data(as_text=True)
    assert f'href="/customers/action/send_text/{bob}"' in shown and "Reply" in shown
    assert login("staff").get(f"/customers/action/send_text/{bob}").status_code == 200  # the compose screen
    assert "Reply" not in login("readonly").get(f"/messages/show/{received.id}").get_data(as_text=True)


def test_an_e_mail_is_matched_to_a_contact_or_else_the_customer(app, three, inbound):
    ada, bob, _ = three
    r = inbound("email", **{"from": "Wendy@Example.com", "subject": "Invoice\r\nquestion", "body": "Hi"})
    assert r.status_code == 201 and r.json["customer_id"] == bob
    to_bob = messages_of(app, bob)[-1]
    assert (to_bob.recipient_name, to_bob.subject) == ("Wendy Works", "Invoice question")
    assert inbound("email", **{"from": "ada@example.com", "body": "Hello"}).json["customer_id"] == ada


def test_a_message_from_an_unknown_address_is_not_kept(app, three, inbound):
    r = inbound("email", **{"from": "stranger@example.com", "body": "Hello"})
    assert r.status_code == 202 and r.json["matched"] is False
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize("channel, data, field", [
    ("email", {"from": "not an address", "body": "Hi"}, "from"),
    ("sms", {"from": "=HYPERLINK(1)", "body": "Hi"}, "from"),
    ("sms", {"from": "+447700900123", "body": "   "}, "body"),
    ("email", {"body": "Hi"}, "from"),
    ("email", {"from": "ada@example.com", "body": "x" * 50_001}, "body"),
])
def test_bad_received_messages_are_refused_naming_the_field(app, three, inbound, channel, data, field):
    r = inbound(channel, **data)
    assert r.status_code == 422 and field in r.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


@pytest.mark.parametrize("channel, data", [
    ("email", {"from": "ada@example.com", "body": "Hi\x00there"}),
    ("email", {"from": "ada@example.com", "subject": "Re\x00: invoice", "body": "Hi"}),
    ("email", {"from": "ada\x00@example.com", "body": "Hi"}),
    ("sms", {"from": "+447700900123", "body": "Yes\x00please"}),
])
def test_a_received_message_with_a_nul_byte_is_refused_with_a_message_and_nothing_is_kept(app, three, inbound,
                                                                                        channel, data):
    r = inbound(channel, **data)
    said = r.get_data(as_text=True)
    assert r.status_code in (400, 422) and ("NUL" in said or "control characters" in said), said[:300]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_receiving_needs_the_shared_token(app, three, inbound, monkeypatch):
    data = {"from": "ada@example.com", "body": "Hi"}
    assert inbound("email", token=None, **data).status_code == 403
    assert inbound("email", token="guess", **data).status_code == 403
    assert inbound("fax", **data).status_code == 404
    monkeypatch.setitem(app.config, "INBOUND_MESSAGE_TOKEN", None)
    assert inbound("email", **data).status_code == 404  # switched off unless a token is set
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_sent_batch_keeps_no_list_of_its_customers_once_written(app, login, three):
    """The customers a job is for are kept only while it works (a send to a million customers
    would otherwise keep a million rows); its messages say who they went to."""
    from sqlalchemy import func, select

    from app.models import job_customer
    ada, bob, _ = three
    compose(login("admin"), "send_email", [ada, bob], subject="S", body="Hi {first_name}", recipients="all", send="1")
    assert messages_of(app, ada)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(job_customer)) == 0
