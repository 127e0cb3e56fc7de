"""Unsubscribe links name the address the app is reached at: PUBLIC_URL, else the host and port
the request that wrote the message came to; never a guessed one. Where neither is known, a
marketing e-mail is refused with a clear error (issue 12)."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, Message
from app.services.errors import Invalid
from app.services.messages import delivery, outbox, unsubscribe
from tests import factories as f
from tests.conftest import PASSWORD, csrf_from

OFFICE = "http://office.example:8123"  # not the port anyone would guess


class Visitor:
    """A test client that reaches the app at `base` (scheme, host and port), logged in or not."""

    def __init__(self, app, base):
        self.client, self.base, self.token = app.test_client(), base, None

    def get(self, url):
        return self.client.get(url if "://" in url else self.base + url)

    def post(self, url, data):
        return self.client.post(url if "://" in url else self.base + url, data={"csrf_token": self.token, **data})

    def login(self, username):
        self.token = csrf_from(self.get("/login/").get_data(as_text=True))
        assert self.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
        return self


def send_marketing_email(visitor, customer_id):
    """Tick the customer on the list, open the compose screen and send a marketing e-mail."""
    page = visitor.post("/customers/action_post", {"action": "send_email", "rowid": [str(customer_id)]})
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    key = re.search(r'name="form_key" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return visitor.post("/customers/compose/send_email", {
        "rowid": [str(customer_id)], "form_key": key, "purpose": "marketing", "subject": "Spring offer",
        "body": "20% off window cleaning, {first_name}.", "send": "1"})


@pytest.fixture
def opted_in(app):
    """A customer who takes marketing e-mail, with no contacts: the link unsubscribes the customer."""
    with app.app_context():
        customer = f.customer(first_name="Mo", surname="Marketing", email="mo@example.com")
        customer.marketing_email = True
        db.session.commit()
        return customer.id


def written_message(app, customer_id):
    with app.app_context():
        [message] = db.session.scalars(select(Message).where(Message.customer_id == customer_id)).all()
        db.session.expunge(message)
        return message


def marketing_email_allowed(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).marketing_email


def test_the_link_names_the_host_and_port_the_sender_reached_the_app_at_and_unsubscribes(app, opted_in,
                                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    sent = send_marketing_email(Visitor(app, OFFICE).login("staff"), opted_in)
    assert sent.status_code == 302 and "/jobs/" in sent.headers["Location"]
    message = written_message(app, opted_in)
    link = unsubscribe.link_in(message.body)
    assert message.status == "sent" and link.startswith(OFFICE + "/unsubscribe/"), message.body
    assert "127.0.0.1" not in message.body and ":5000" not in message.body

    anonymous = Visitor(app, OFFICE)  # the recipient, who follows the link from the e-mail
    page = anonymous.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "mo***@example.com" in html and 'id="unsubscribe"' in html
    assert marketing_email_allowed(app, opted_in) is True  # opening the page changes nothing
    anonymous.token = csrf_from(html)
    done = anonymous.post(link, {})  # the page's own form posts back to the link
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert marketing_email_allowed(app, opted_in) is False


def test_the_list_unsubscribe_header_sent_from_the_request_names_the_same_address(app, opted_in, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    send_marketing_email(Visitor(app, OFFICE).login("admin"), opted_in)
    message = written_message(app, opted_in)
    with app.test_request_context("/", base_url=OFFICE):
        headers = delivery.headers_for(message, app.config)
    assert headers["List-Unsubscribe"] == f"<{unsubscribe.link_in(message.body)}>"


def test_public_url_wins_over_the_host_of_the_request(app, opted_in, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example.com/")
    send_marketing_email(Visitor(app, OFFICE).login("staff"), opted_in)
    message = written_message(app, opted_in)
    link = unsubscribe.link_in(message.body)
    assert link.startswith("https://crm.example.com/unsubscribe/") and "office.example" not in message.body
    with app.app_context():
        assert delivery.headers_for(message, app.config)["List-Unsubscribe"] == f"<{link}>"
    # The path of the public address reaches the same page (a proxy forwards it to the app).
    anonymous = Visitor(app, OFFICE)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    anonymous.token = csrf_from(anonymous.get(path).get_data(as_text=True))
    assert "You are unsubscribed" in anonymous.post(path, {}).get_data(as_text=True)
    assert marketing_email_allowed(app, opted_in) is False


def test_without_public_url_or_a_request_a_marketing_email_is_refused_and_nothing_guessed(app, opted_in,
                                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    with app.app_context():
        values = outbox.clean("email", {"purpose": "marketing", "subject": "Offer", "body": "News"})
        job = outbox.start(db.session, f.user("admin"), values, ids=[opted_in])
        with pytest.raises(Invalid) as refused:
            outbox.write(db.session, job, app.config)
        assert "set PUBLIC_URL" in refused.value.errors["purpose"][0]
        db.session.rollback()
        # A service e-mail carries no link: it is written as before.
        job = outbox.start(db.session, f.user("admin"), outbox.clean("email", {"subject": "Bill", "body": "Due"}),
                           ids=[opted_in])
        assert len(outbox.write(db.session, job, app.config)) == 1
        db.session.rollback()


def test_the_compose_screen_says_why_when_the_address_is_unknown(app, opted_in, monkeypatch):
    """A request always knows its host; the refusal reaches the form like any field error."""
    monkeypatch.setitem(app.config, "PUBLIC_URL", None)
    monkeypatch.setattr(unsubscribe, "has_request_context", lambda: False)  # as a worker would be
    r = send_marketing_email(Visitor(app, OFFICE).login("staff"), opted_in)
    assert r.status_code == 422 and "set PUBLIC_URL" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Message).where(Message.customer_id == opted_in)).all() == []
