"""Extension objects, created once and bound to each app in create_app()."""
import smtplib
import sqlite3

import flask_mail
from flask import current_app
from flask_appbuilder import Model
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

# FAB's own tables live in Model.metadata; ours must share it so that Alembic
# sees both when it autogenerates.
db = SQLAlchemy(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()


class _KnowsWhenTheBodyIsSent:
    """An SMTP client that knows whether the server has the message's whole body (`body_sent`),
    and waits for the server's final reply after it as long as RFC 5321 (4.5.3.2.6) advises
    (`data_timeout`, 10 minutes), not the short timeout of every other step: after the body, a
    reply that comes late is not a failure, and giving up on it could send the message twice."""

    body_sent = False
    data_timeout: float = 600

    def mail(self, *args, **kwargs):  # a new message begins
        self.body_sent = False
        if self.sock is not None:
            self.sock.settimeout(self.timeout)
        return super().mail(*args, **kwargs)

    def data(self, msg):
        try:
            return super().data(msg)
        finally:  # the final reply is in (or never came): the next step waits as long as any
            if self.sock is not None:
                self.sock.settimeout(self.timeout)

    def send(self, s):
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):  # smtplib.data() ends the body so
            self.body_sent = True
            if self.sock is not None:
                self.sock.settimeout(self.data_timeout)


class SMTP(_KnowsWhenTheBodyIsSent, smtplib.SMTP):
    pass


class SMTP_SSL(_KnowsWhenTheBodyIsSent, smtplib.SMTP_SSL):
    pass


class MailConnection(flask_mail.Connection):
    """Flask-Mail's connection, with the timeout (MAIL_TIMEOUT seconds) its own lacks: without
    one, a server that accepts and never answers holds a worker for good. Its host knows when
    a message's body has been sent (see _KnowsWhenTheBodyIsSent)."""

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        factory = SMTP_SSL if state.use_ssl else SMTP
        host = factory(state.server, state.port, timeout=state.timeout)
        host.data_timeout = state.data_timeout
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class MailState(flask_mail._Mail):
    """An app's MAIL_* settings as Flask-Mail reads them, plus MAIL_TIMEOUT and MAIL_DATA_TIMEOUT."""

    def __init__(self, settings: flask_mail._Mail, timeout: float, data_timeout: float):
        self.__dict__.update(vars(settings))
        self.timeout = timeout
        self.data_timeout = data_timeout

    def connect(self) -> MailConnection:
        return MailConnection(self)


class Mail(flask_mail.Mail):
    """Flask-Mail's extension: owns the MAIL_* settings and opens connections that time out.

    MAIL_SUPPRESS_SEND is not tied to TESTING here (config.py sets it): whether mail leaves at
    all is MAIL_TRANSPORT's business, and a suppressed send would count as delivered."""

    def init_mail(self, config, debug=False, testing=False) -> MailState:
        return MailState(super().init_mail(config, debug, testing), float(config.get("MAIL_TIMEOUT", 10)),
                         float(config.get("MAIL_DATA_TIMEOUT", 600)))

    def connect(self) -> MailConnection:
        return self.state_of().connect()

    def state_of(self, app=None) -> MailState:
        """The app's mail state (the current app's by default), made by init_app in create_app."""
        return (app or current_app).extensions["mail"]


mail = Mail()
SQLITE_BUSY_TIMEOUT_MS = 30_000


@event.listens_for(Engine, "connect")
def _sqlite_as_postgresql(dbapi_connection, connection_record):
    """SQLite's lower() folds only A-Z, so ILIKE missed "Ó'Súilleabháin"; use Python's. And
    foreign keys are enforced, with their ON DELETE CASCADE: FAB relies on it to drop a
    deleted role's permissions, which a new role given the same id inherited. SQLite allows
    one writer at a time: a request writing while a job's thread commits a chunk waits for
    it (up to SQLITE_BUSY_TIMEOUT_MS) instead of failing with "database is locked"."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(
            "lower", 1, lambda s: s.lower() if isinstance(s, str) else s, deterministic=True)
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
