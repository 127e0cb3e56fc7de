"""How a message leaves: SMTP with the MAIL_* settings (Flask-Mail's names), an SMS gateway
over HTTP, or nowhere ("outbox only": the message is kept in the app, for a machine with no
mail server).

The e-mail itself is built with the standard library's EmailMessage: Flask-Mail's Message
cannot address a mailbox with non-ASCII characters ("zoë@example.com", which our e-mail
validation accepts), and its connection has no timeout. Such mail goes out with SMTPUTF8.

A transport raises Transient for a failure worth retrying (a connection refused, a 4xx
reply) and Permanent for one that is not (a 5xx reply, a refused address).
"""
import json
import smtplib
import urllib.error
import urllib.request

from email.message import EmailMessage
from email.utils import formatdate


class Transient(Exception):
    """Worth trying again later."""


class Permanent(Exception):
    """Trying again will not help."""


class OutboxOnly:
    """Keeps the message in the outbox (shown in the app) and sends nothing."""

    name = "outbox"

    def send(self, message, headers: dict) -> None:
        return None

    def close(self) -> None:
        pass


class Smtp:
    """One SMTP connection for a batch, opened on the first message and reopened after a failure."""

    name = "smtp"

    def __init__(self, config: dict):
        self.config = config
        self.server = None

    def _connect(self):
        c = self.config
        cls = smtplib.SMTP_SSL if c.get("MAIL_USE_SSL") else smtplib.SMTP
        server = cls(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=c.get("MAIL_TIMEOUT", 10))
        if c.get("MAIL_USE_TLS"):
            server.starttls()
        if c.get("MAIL_USERNAME") and c.get("MAIL_PASSWORD"):
            server.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"])
        return server

    def build(self, message, headers: dict) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.config["MAIL_DEFAULT_SENDER"]
        mail["To"] = message.recipient
        mail["Subject"] = message.subject or ""
        mail["Date"] = formatdate(localtime=False)
        for name, value in headers.items():
            mail[name] = value
        mail.set_content(message.body)
        return mail

    def send(self, message, headers: dict) -> None:
        mail = self.build(message, headers)
        options = [] if message.recipient.isascii() else ["SMTPUTF8"]
        try:
            if self.server is None:
                self.server = self._connect()
            refused = self.server.send_message(mail, mail_options=options)
        except smtplib.SMTPNotSupportedError as e:
            raise Permanent(f"The mail server cannot deliver to this address ({e}).") from e
        except smtplib.SMTPRecipientsRefused as e:
            code, reply = next(iter(e.recipients.values()))
            raise (Permanent if code >= 500 else Transient)(f"{code} {reply.decode(errors='replace')}") from e
        except smtplib.SMTPResponseException as e:
            self.close()
            error = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else e.smtp_error
            raise (Permanent if e.smtp_code >= 500 else Transient)(f"{e.smtp_code} {error}") from e
        except (smtplib.SMTPException, OSError) as e:
            self.close()
            raise Transient(f"{type(e).__name__}: {e}") from e
        if refused:
            code, reply = next(iter(refused.values()))
            raise (Permanent if code >= 500 else Transient)(f"{code} {reply.decode(errors='replace')}")

    def close(self) -> None:
        if self.server is not None:
            try:
                self.server.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self.server = None


class HttpSmsGateway:
    """POSTs {"to", "from", "text"} as JSON to SMS_GATEWAY_URL with a bearer token.

    2xx: sent; 5xx, 429 or no answer: Transient; any other 4xx: Permanent."""

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
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise Transient(f"gateway unreachable: {e}") from e

    def close(self) -> None:
        pass


def for_channel(channel: str, config: dict):
    if channel == "email":
        return Smtp(config) if config.get("MAIL_TRANSPORT") == "smtp" else OutboxOnly()
    return HttpSmsGateway(config) if config.get("SMS_GATEWAY_URL") else OutboxOnly()
