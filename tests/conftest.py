"""Shared fixtures: one migrated database and app per test session, users per role,
and a clean slate of customer data for each test.

The database is SQLite in a temp folder by default; set TEST_DATABASE_URL to a
PostgreSQL server URL (the integration run does) to run everything there, in a
database of its own that is dropped at the end.
"""
import os
import re
import uuid

import pytest
from sqlalchemy import create_engine, delete, select, text, update

PASSWORD = "Corr3ct-Horse-Battery-99"
DEFAULT_TAX_RATES = ("Standard rate", "Reduced rate", "Zero rate")  # migration 0018's
DEFAULT_PRICE_BOOK = "Standard prices"  # migration 0024's
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"')


def _database_url(tmp_path_factory):
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}", None
    name = f"test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return server.rsplit("/", 1)[0] + "/" + name, (admin, name)


def make_app(url, **overrides):
    from app import create_app
    config = dict(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY="test-secret-key-that-is-long-enough-for-jwt",
        RATELIMIT_ENABLED=False,
        AUTH_RATE_LIMITED=False,
        SERVER_NAME=None,
    )
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    url, cleanup = _database_url(tmp_path_factory)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    application = make_app(url, FILES_FOLDER=str(tmp_path_factory.mktemp("files")))
    with application.app_context():
        from flask_migrate import upgrade
        upgrade()
        application.appbuilder.sm.create_roles_and_permissions()
        _create_users(application)
    yield application
    if cleanup:
        from app.extensions import db
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
        admin, name = cleanup
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _create_users(application):
    from app.extensions import db
    from app.models import Reseller
    sm = application.appbuilder.sm
    a, b = Reseller(name="Reseller A"), Reseller(name="Reseller B")
    db.session.add_all([a, b])
    db.session.commit()
    for username, role, reseller in (
        ("admin", "Admin", None), ("finance", "Finance", None), ("staff", "Staff", None), ("readonly", "Read-only", None),
        ("reseller_a", "Reseller", a.id), ("reseller_b", "Reseller", b.id),
        ("reseller_none", "Reseller", None),
    ):
        user = sm.add_user(username, username, "Test", f"{username}@example.com", sm.find_role(role),
                           password=PASSWORD)
        user.reseller_id = reseller
    db.session.commit()


@pytest.fixture(autouse=True)
def clean_data(request):
    """Each test starts with no customers, tags, audit entries or extra resellers."""
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from app.extensions import db
    from app.models import (Address, CardCharge, AuditEntry, Contact, ContactPhone, Customer, CustomerService, Job, Message,
                            MessageAttempt, Note, Reseller, CustomerFile, CustomerAlias, CustomField, CustomValue, Tag, customer_tag, job_customer,
                            CompanySettings, Adjustment, Allocation, CustomerFxRate, DocumentSequence, FxRate, Invoice,
                            LedgerEntry, Payment, Quote, QuoteLine, Release, TaxRate, PriceBook, PriceBookItem)
    from app.models import CreditNote, CreditNoteLine, InvoiceAddress, PaymentReminder, PeriodicJob, ReminderState
    from app.models import BillingRun, ServicePeriod
    from app.services.billing import ledger
    with application.app_context():
        db.session.rollback()
        # Every test that wrote money leaves books that agree (flask ledger check).
        differences = ledger.check(db.session) if db.session.scalar(select(LedgerEntry.id).limit(1)) else []
        for table in (PaymentReminder.__table__, ReminderState.__table__, CardCharge.__table__, FxRate.__table__, CustomerFxRate.__table__, LedgerEntry.__table__, Allocation.__table__, Release.__table__, Adjustment.__table__,
                      CreditNoteLine.__table__, CreditNote.__table__,  # before the payments they name
                      Payment.__table__, QuoteLine.__table__, Quote.__table__, ServicePeriod.__table__, BillingRun.__table__, Invoice.__table__, MessageAttempt.__table__, Message.__table__, Note.__table__, CustomerFile.__table__, CustomerAlias.__table__, job_customer, Job.__table__,
                      CustomerService.__table__, customer_tag, ContactPhone.__table__, Contact.__table__,
                      Address.__table__, CustomValue.__table__, CustomField.__table__, Customer.__table__, InvoiceAddress.__table__, Tag.__table__, AuditEntry.__table__,
                      CompanySettings.__table__, PriceBookItem.__table__, PeriodicJob.__table__):
            db.session.execute(delete(table))
        db.session.execute(delete(PriceBook).where(PriceBook.name != DEFAULT_PRICE_BOOK))  # migration 0024's
        db.session.execute(update(PriceBook).values(is_default=True, active=True))
        db.session.execute(delete(Reseller).where(Reseller.name.not_in(["Reseller A", "Reseller B"])))
        db.session.execute(delete(TaxRate).where(TaxRate.name.not_in(DEFAULT_TAX_RATES)))
        db.session.execute(update(TaxRate).where(TaxRate.name != "Standard rate").values(is_default=False))
        db.session.execute(update(TaxRate).where(TaxRate.name == "Standard rate").values(is_default=True))
        db.session.execute(update(DocumentSequence).where(DocumentSequence.kind != "quote")
                           .values(prefix="INV-", next_number=1))  # no invoices left
        db.session.execute(update(DocumentSequence).where(DocumentSequence.kind == "quote")
                           .values(prefix="QUO-", next_number=1))  # nor quotes
        db.session.execute(update(DocumentSequence).where(DocumentSequence.kind == "credit_note")
                           .values(prefix="CN-", next_number=1))  # nor credit notes
        db.session.commit()
    if differences:
        pytest.fail("flask ledger check after this test: " + "; ".join(map(str, differences)))


@pytest.fixture
def ctx(app):
    """An app context with the session cleaned up after."""
    from app.extensions import db
    with app.app_context():
        yield db.session
        db.session.rollback()


class Browser:
    """A logged-in test client that sends the CSRF token with every form POST."""

    def __init__(self, client, username):
        self.client, self.username = client, username
        self.token = None

    def login(self, password=PASSWORD):
        page = self.client.get("/login/").get_data(as_text=True)
        self.token = csrf_from(page)
        return self.client.post("/login/", data={"username": self.username, "password": password,
                                                 "csrf_token": self.token})

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kw)

    def form(self, url, data, **kw):
        """GET a form page for its token, then POST `data` to it."""
        page = self.client.get(url)
        assert page.status_code == 200, (url, page.status_code)
        return self.post(url, data, **kw)


def csrf_from(html):
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert m, "no csrf token on page"
    return m.group(1)


@pytest.fixture
def login(app):
    def _login(username):
        browser = Browser(app.test_client(), username)
        response = browser.login()
        assert response.status_code == 302, f"login failed for {username}"
        return browser
    return _login


@pytest.fixture
def api(app):
    """A REST client with a bearer token for a user."""
    class Api:
        def __init__(self, username):
            self.client = app.test_client()
            r = self.client.post("/api/v1/security/login", json={
                "username": username, "password": PASSWORD, "provider": "db", "refresh": True})
            assert r.status_code == 200, r.get_data(as_text=True)
            self.headers = {"Authorization": f"Bearer {r.json['access_token']}"}

        def __getattr__(self, method):
            def call(url, **kw):
                return getattr(self.client, method)(url, headers=self.headers, **kw)
            return call
    return Api


@pytest.fixture
def users(app):
    from app.extensions import db
    from app.models import User
    with app.app_context():
        return {u.username: u for u in db.session.query(User).all()}


@pytest.fixture
def resellers(app):
    from app.extensions import db
    from app.models import Reseller
    with app.app_context():
        return {r.name: r.id for r in db.session.query(Reseller).all()}


# ---- suites that must not be skipped in CI -----------------------------------------
def on_postgresql() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def pytest_collection_modifyitems(config, items):
    """Integration tests run only in the PostgreSQL pass; they are not collected on SQLite."""
    if on_postgresql():
        return
    kept = [i for i in items if "tests/integration/" not in str(i.fspath).replace(os.sep, "/")]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


_skipped = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    required = []
    if os.environ.get("REQUIRE_INTEGRATION") == "1" and on_postgresql():
        required += [n for n in _skipped if n.startswith("tests/integration/")]
    if os.environ.get("REQUIRE_E2E") == "1":
        required += [n for n in _skipped if n.startswith("tests/e2e/")]
    if required:
        print("\nThese tests were skipped but CI requires them:\n  " + "\n  ".join(required))
        session.exitstatus = 1
