"""How a message leaves: SMTP through Flask-Mail (its Mail extension, app/extensions.py, holds
the MAIL_* settings and opens the connection), an SMS gateway over HTTP, or nowhere ("outbox
only": the message is kept in the app, for a machine with no mail server).

Flask-Mail cannot address a mailbox whose name has non-ASCII characters ("zoë@example.com",
which our e-mail validation accepts): it would write the name as an encoded word, another
address. Such a message is built with the standard library's EmailMessage and goes out over
the same connection with SMTPUTF8.

An e-mail's files (`message.attachments`: filename, content type, bytes, when delivery found
some) go as MIME attachments on either path; the SMS gateway and the outbox ignore them.

A transport's may_have_it() says, after send() was cut short by something else (the job's
timeout, an interrupt), whether the other end may have the message.

A transport raises Transient for a failure worth retrying (a connection refused, a 4xx
reply), Permanent for one that is not (a 5xx reply, a refused address), and Uncertain when the
attempt broke off after the other end had the whole message (no final reply to the body, no
answer to the gateway's request): it may have gone out, and trying again could send it twice.
"""
import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate

from flask_mail import BadHeaderError
from flask_mail import Message as MailMessage

from app.extensions import mail

class Transient(Exception):
    """Worth trying again later."""


class Permanent(Exception):
    """Trying again will not help."""


class Uncertain(Exception):
    """It may have gone out: never tried again by itself."""


class OutboxOnly:
    """Keeps the message in the outbox (shown in the app) and sends nothing."""

    name = "outbox"

    def send(self, message, headers: dict) -> None:
        return None

    def may_have_it(self) -> bool:
        return False

    def close(self) -> None:
        pass


class Smtp:
    """One Flask-Mail connection for a batch, opened on the first message and again after a
    failure. Needs an app context (Flask-Mail reads its settings from the app)."""

    name = "smtp"

    def __init__(self, state=None):
        self.state = state or mail.state_of()
        self.connection = None

    def send(self, message, headers: dict) -> None:
        try:
            if self.connection is None:
                self.connection = self.state.connect().__enter__()
            if self.connection.host is not None:
                self.connection.host.body_sent = False  # the last message's body is not this one's
            mailbox = message.recipient.rpartition("@")[0]
            if mailbox.isascii():
                self.connection.send(self._mail(message, headers))
            else:
                self._send_smtputf8(message, headers)
        except BadHeaderError as e:
            raise Permanent("The address or subject holds a line break.") from e
        except smtplib.SMTPNotSupportedError as e:
            raise Permanent(f"The mail server cannot deliver to this address ({e}).") from e
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = next(iter(e.recipients.values()))
            raise (Permanent if code >= 500 else Transient)(f"{code} {reply.decode(errors='replace')}") from e
        except smtplib.SMTPResponseException as e:  # a reply: the server did not take the message
            self.close()
            error = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
            raise (Permanent if e.smtp_code >= 500 else Transient)(f"{e.smtp_code} {error}") from e
        except (smtplib.SMTPException, OSError) as e:
            body_sent = self.connection is not None and getattr(self.connection.host, "body_sent", False)
            self.close()
            if body_sent:
                raise Uncertain(f"No reply from the mail server after it had the message ({type(e).__name__}: "
                                f"{e}): it may have gone out.") from e
            raise Transient(f"{type(e).__name__}: {e}") from e

    def may_have_it(self) -> bool:
        """Whether the server had the whole body of the message being sent."""
        host = self.connection.host if self.connection is not None else None
        return bool(getattr(host, "body_sent", False))

    def _mail(self, message, headers: dict) -> MailMessage:
        extra = dict(headers)
        mail_message = MailMessage(subject=message.subject or "", recipients=[message.recipient], body=message.body,
                                   sender=self.state.default_sender, extra_headers=extra)
        if "Message-ID" in extra:  # Flask-Mail writes its own Message-ID: give it ours
            mail_message.msgId = extra.pop("Message-ID")
        for filename, content_type, content in getattr(message, "attachments", ()):
            mail_message.attach(filename=filename, content_type=content_type, data=content)
        return mail_message

    def _send_smtputf8(self, message, headers: dict) -> None:
        """What Flask-Mail cannot send: the standard library's message, over Flask-Mail's connection."""
        built = EmailMessage()
        built["From"] = self.state.default_sender
        built["To"] = message.recipient
        built["Subject"] = message.subject or ""
        built["Date"] = formatdate(localtime=False)
        for name, value in headers.items():
            built[name] = value
        built.set_content(message.body)
        for filename, content_type, content in getattr(message, "attachments", ()):
            maintype, _, subtype = content_type.partition("/")
            built.add_attachment(content, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
        if self.connection.host is None:  # MAIL_SUPPRESS_SEND
            return
        refused = self.connection.host.send_message(built, mail_options=["SMTPUTF8"])
        if refused:
            code, reply = next(iter(refused.values()))
            raise (Permanent if code >= 500 else Transient)(f"{code} {reply.decode(errors='replace')}")

    def close(self) -> None:
        if self.connection is not None and self.connection.host is not None:
            try:
                self.connection.host.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self.connection = None


class HttpSmsGateway:
    """POSTs {"to", "from", "text"} as JSON to SMS_GATEWAY_URL with a bearer token.

    2xx: sent; 5xx, 429 or no connection: Transient; any other 4xx: Permanent; the request
    sent but no answer read: Uncertain."""

    name = "sms-http"

    def __init__(self, config: dict):
        self.url = config["SMS_GATEWAY_URL"]
        self.token = config.get("SMS_GATEWAY_TOKEN")
        self.sender = config.get("SMS_SENDER")
        self.timeout = config.get("SMS_GATEWAY_TIMEOUT", 10)

    def send(self, message, headers: dict) -> None:
        body = json.dumps({"to": message.recipient, "from": self.sender, "text": message.body,
                           "reference": headers.get("Message-ID")}).encode()
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as e:
            kind = Transient if e.code >= 500 or e.code == 429 else Permanent
            raise kind(f"gateway answered {e.code}") from e
        except urllib.error.URLError as e:  # urllib wraps what fails before the request is sent
            raise Transient(f"gateway unreachable: {e.reason}") from e
        except OSError as e:  # the request went; its answer did not come (a timeout, a dropped line)
            raise Uncertain(f"No answer from the gateway after it had the text ({type(e).__name__}: {e}): "
                            f"it may have gone out.") from e

    def may_have_it(self) -> bool:
        return True  # cut short while talking to the gateway: it may have the text

    def close(self) -> None:
        pass


def for_channel(channel: str, config: dict):
    if channel == "email":
        return Smtp() if config.get("MAIL_TRANSPORT") == "smtp" else OutboxOnly()
    return HttpSmsGateway(config) if config.get("SMS_GATEWAY_URL") else OutboxOnly()
