"""Browser tests: the real app on a live localhost server, driven by headless Chromium.

One server per test session, in a background thread, on its own SQLite database
with the test users (tests/conftest.py) and 120 demo customers. The tests never
request the `app` fixture, so the autouse `clean_data` fixture leaves this data alone.

Chromium is Debian's /usr/bin/chromium (nothing is downloaded). Without it the
tests are skipped, unless REQUIRE_E2E=1, in which case they fail.
"""
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, _create_users, make_app

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
TIMEOUT_MS = 10_000  # a local server answers in milliseconds; fail fast, not after 30 s


def pytest_collection_modifyitems(config, items):
    """Every test in this folder is an e2e test (the modules say so too)."""
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


def _require_chromium():
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    message = f"Chromium not found at {CHROMIUM}: the browser (e2e) tests cannot run"
    if os.environ.get("REQUIRE_E2E") == "1":
        pytest.fail(message + " and REQUIRE_E2E=1 is set. Install it (apt-get install chromium).",
                    pytrace=False)
    pytest.skip(message + " (set REQUIRE_E2E=1 to make this a failure)")


@pytest.fixture(scope="session", autouse=True)
def _chromium_available():
    """Session-scoped and autouse, so it runs before the browser or the server start."""
    _require_chromium()


@pytest.fixture(scope="session")
def browser_type_launch_args():
    _require_chromium()
    return {
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900},
            "accept_downloads": True, "locale": "en-GB", "timezone_id": "Europe/London"}


@dataclass
class LiveServer:
    url: str
    app: object

    def query(self, fn):
        """Run fn(session) in an app context (to read what the page should show)."""
        from app.extensions import db
        with self.app.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.remove()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, _chromium_available):
    from sqlalchemy import update
    from werkzeug.serving import make_server

    from app.extensions import db
    from app.models import Customer, Reseller
    from app.services.demo_data import generate

    folder = tmp_path_factory.mktemp("e2e-db")
    url = f"sqlite:///{folder / 'e2e.db'}"
    # Static files cached for the length of a test: pages load without ~20 revalidations each.
    # The mini-map without tiles (no network needed); the office in central London.
    app = make_app(url, WTF_CSRF_ENABLED=True, SEND_FILE_MAX_AGE_DEFAULT=600, MAP_TILE_URL="",
                   BUSINESS_LATITUDE="51.5074", BUSINESS_LONGITUDE="-0.1278", FILES_FOLDER=str(folder / "files"))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        app.appbuilder.sm.create_roles_and_permissions()
        _create_users(app)
        # No seeded money: the money tests make what they look at (and a new customer owes nothing).
        generate(db.session, 120, resellers=5, tags=12, seed=3, with_money=False)
        # The demo data goes to its own resellers; give the test resellers some
        # customers so the reseller's scope has something to show (and to hide).
        ids = {r.name: r.id for r in db.session.query(Reseller)}
        db.session.execute(update(Customer).where(Customer.id % 5 == 0)
                           .values(reseller_id=ids["Reseller A"]))
        db.session.execute(update(Customer).where(Customer.id % 5 == 1)
                           .values(reseller_id=ids["Reseller B"]))
        db.session.commit()
        db.session.remove()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server):
    """pytest-playwright resolves page.goto("/...") against this."""
    return live_server.url


def login(page, username, password=PASSWORD):
    """Log in through FAB's login form; returns the page, on the page after login."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("form [type=submit]").first.click()
    return page


@pytest.fixture(scope="session")
def _storage_states(browser, live_server):
    """Log each user in once per session; tests reuse the cookies."""
    states = {}

    def state_for(username):
        if username not in states:
            context = browser.new_context(base_url=live_server.url)
            try:
                page = login(context.new_page(), username)
                assert "/login" not in page.url, f"login failed for {username}"
                states[username] = context.storage_state()
            finally:
                context.close()
        return states[username]
    return state_for


@pytest.fixture
def page_as(new_context, _storage_states):
    """page_as("reseller_a"): a new page in a context logged in as that user."""
    def _page(username):
        context = new_context(storage_state=_storage_states(username))
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()
    return _page


@pytest.fixture
def page(page):
    """pytest-playwright's page (logged out), with the shorter timeout."""
    page.set_default_timeout(TIMEOUT_MS)
    return page


@pytest.fixture
def admin_page(page_as):
    return page_as("admin")


@pytest.fixture(scope="session")
def screenshots():
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


WIDTHS = (1440, 1024)  # every new screen is looked at, and kept, at these widths


def shoot(page, screenshots, name: str, widths=WIDTHS) -> None:
    """Screenshots of the page as it is, at each width: screenshots/<name>-<width>.png."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for width in widths:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
