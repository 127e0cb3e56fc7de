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


class MailConnection(flask_mail.Connection):
    """Flask-Mail's connection, with the timeout (MAIL_TIMEOUT seconds) its own lacks: without
    one, a server that accepts and never answers holds a worker for good."""

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        factory = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = factory(state.server, state.port, timeout=state.timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class MailState(flask_mail._Mail):
    """An app's MAIL_* settings as Flask-Mail reads them, plus MAIL_TIMEOUT."""

    def __init__(self, settings: flask_mail._Mail, timeout: float):
        self.__dict__.update(vars(settings))
        self.timeout = timeout

    def connect(self) -> MailConnection:
        return MailConnection(self)


class Mail(flask_mail.Mail):
    """Flask-Mail's extension: owns the MAIL_* settings and opens connections that time out.

    MAIL_SUPPRESS_SEND is not tied to TESTING here (config.py sets it): whether mail leaves at
    all is MAIL_TRANSPORT's business, and a suppressed send would count as delivered."""

    def init_mail(self, config, debug=False, testing=False) -> MailState:
        return MailState(super().init_mail(config, debug, testing), float(config.get("MAIL_TIMEOUT", 10)))

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
