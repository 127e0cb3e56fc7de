"""E-mail leaves through Flask-Mail; only a mailbox with non-ASCII characters takes the
standard library's SMTPUTF8 path, over the same connection. Failures are typed."""
import socket
from types import SimpleNamespace

import pytest
from flask_mail import email_dispatched

from app.extensions import MailConnection, db, mail
from app.services.messages import transports
from tests.conftest import make_app
from tests.smtp_sink import mail_settings, smtp  # noqa: F401  (smtp: a fixture)

HEADERS = {"Message-ID": "<message-7@example.com>", "List-Unsubscribe": "<https://example.com/u/x>",
           "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def message(recipient, subject="Hello", body="Dear Zoë, …"):
    return SimpleNamespace(recipient=recipient, subject=subject, body=body)


@pytest.fixture
def mail_app(app, smtp):
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], **mail_settings(smtp), MAIL_TIMEOUT=0.5)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def dispatched_through_flask_mail(app):
    sent = []
    email_dispatched.connect(lambda sender, message: sent.append(message), app, weak=False)
    return sent


def test_e_mail_goes_out_through_flask_mails_connection_with_our_headers(mail_app, smtp):
    sent = dispatched_through_flask_mail(mail_app)
    with mail_app.app_context():
        transport = transports.for_channel("email", mail_app.config)
        transport.send(message("ada@example.com"), HEADERS)
        transport.send(message("bob@example.com", subject="Again"), HEADERS)
        assert isinstance(transport.connection, MailConnection)
        transport.close()
    assert [m.recipients for m in sent] == [["ada@example.com"], ["bob@example.com"]]
    (to, content, utf8), _ = smtp.received
    assert (to, utf8) == ("ada@example.com", False)
    assert content.count("Message-ID:") == 1 and "Message-ID: <message-7@example.com>" in content
    assert "List-Unsubscribe: <https://example.com/u/x>" in content and "From: office@example.com" in content


def test_a_mailbox_with_accents_goes_out_with_smtputf8_and_keeps_its_name(mail_app, smtp):
    sent = dispatched_through_flask_mail(mail_app)
    with mail_app.app_context():
        transport = transports.for_channel("email", mail_app.config)
        transport.send(message("zoë@example.com"), HEADERS)
        transport.send(message("plain@example.com"), HEADERS)  # the same connection serves both
        transport.close()
    assert [(to, utf8) for to, _, utf8 in smtp.received] == [("zoë@example.com", True), ("plain@example.com", False)]
    assert [m.recipients for m in sent] == [["plain@example.com"]]


@pytest.mark.parametrize("reply, failure", [("550 5.1.1 No such user", transports.Permanent),
                                            ("451 4.3.0 Mailbox busy", transports.Transient)])
def test_a_refusal_is_permanent_or_transient_by_its_code(mail_app, smtp, reply, failure):
    smtp.reply = reply
    with mail_app.app_context():
        transport = transports.for_channel("email", mail_app.config)
        with pytest.raises(failure, match=reply.split()[0]):
            transport.send(message("ada@example.com"), HEADERS)
        transport.close()


def test_a_line_break_in_the_address_fails_that_message_for_good_and_sends_nothing(mail_app, smtp):
    with mail_app.app_context():
        transport = transports.for_channel("email", mail_app.config)
        with pytest.raises(transports.Permanent):
            transport.send(message("x@example.com\r\nBcc: victim@example.com"), HEADERS)
        transport.close()
    assert smtp.seen == 0


def test_a_server_that_never_answers_is_a_transient_failure_after_mail_timeout(mail_app):
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        mail_app.config["MAIL_PORT"] = silent.getsockname()[1]
        with mail_app.app_context():
            transport = transports.Smtp(mail.init_mail(mail_app.config))
            with pytest.raises(transports.Transient, match="timed out"):
                transport.send(message("ada@example.com"), HEADERS)


def test_nothing_leaves_when_the_transport_is_the_outbox(app):
    assert isinstance(transports.for_channel("email", {"MAIL_TRANSPORT": "outbox"}), transports.OutboxOnly)
