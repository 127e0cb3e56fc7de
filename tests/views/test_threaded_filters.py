"""Under a threaded server (gunicorn --threads), each request has its own list filters.

FAB keeps a view's active filters on the view instance, which every thread shares: one user's
list, REST or CSV request could be answered with another user's filters, or none. Here the app
runs in werkzeug's threaded server and several users, each with a filter of their own, hammer
the customer list, the customer REST API and the CSV at once over real HTTP: every answer must
match its own filter, within its user's scope.
"""
import csv
import http.cookiejar
import io
import json
import re
import sys
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import prison
import pytest
from werkzeug.serving import make_server

from tests import factories as f
from tests.conftest import PASSWORD

ROUNDS = 10
MARK = re.compile(r"\b(Alpha|Beta|Gamma|Delta)(\d)\b")

# user -> the search term they filter by
SEARCHES = {"admin": "Alpha", "reseller_a": "Gamma", "reseller_b": "Beta", "staff": "Delta",
            "readonly": "Beta"}


@pytest.fixture
def server(app):
    with app.app_context():
        a, b = f.reseller_id("Reseller A"), f.reseller_id("Reseller B")
        for family, reseller in (("Alpha", a), ("Beta", b), ("Gamma", a), ("Delta", None)):
            for n in range(1, 4):
                f.customer(first_name="Th", surname=f"{family}{n}", reseller_id=reseller)
    http_server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http_server.server_port}"
    finally:
        http_server.shutdown()
        thread.join()


def expected(user: str) -> set[str]:
    """The customers the user's search finds in their scope."""
    family = SEARCHES[user]
    reseller = {"Alpha": "a", "Gamma": "a", "Beta": "b", "Delta": None}[family]
    if user.startswith("reseller_") and reseller != user[-1]:
        return set()
    return {f"{family}{n}" for n in range(1, 4)}


class Client:
    def __init__(self, base: str, username: str):
        self.base, self.username = base, username
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.read("/login/")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        self.read("/login/", {"username": username, "password": PASSWORD, "csrf_token": token})
        body = json.dumps({"username": username, "password": PASSWORD, "provider": "db"}).encode()
        request = urllib.request.Request(self.base + "/api/v1/security/login", data=body,
                                         headers={"Content-Type": "application/json"})
        self.token = json.loads(self.opener.open(request, timeout=30).read())["access_token"]

    def read(self, path: str, form: dict | None = None, headers: dict | None = None) -> str:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        with self.opener.open(request, timeout=30) as response:
            assert response.status == 200, (path, response.status)
            return response.read().decode()

    def list_page(self) -> set[str]:
        html = self.read("/customers/list/?" + urllib.parse.urlencode({"_flt_0_name": SEARCHES[self.username]}))
        return {m.group(0) for m in MARK.finditer(html)}

    def csv_rows(self) -> set[str]:
        text = self.read("/customers/export.csv?" + urllib.parse.urlencode({"_flt_0_name": SEARCHES[self.username]}))
        return {m.group(0) for row in csv.reader(io.StringIO(text)) for cell in row for m in MARK.finditer(cell)}

    def api_rows(self) -> set[str]:
        q = prison.dumps({"filters": [{"col": "name", "opr": "search", "value": SEARCHES[self.username]}],
                          "page_size": 100})
        body = self.read("/api/v1/customers/?" + urllib.parse.urlencode({"q": q}),
                         headers={"Authorization": f"Bearer {self.token}"})
        return {row["surname"] for row in json.loads(body)["result"]}


def test_each_request_is_answered_with_its_own_filter_under_a_threaded_server(app, server):
    clients = {user: Client(server, user) for user in SEARCHES}
    calls = [(user, kind) for user in clients for kind in ("list_page", "csv_rows", "api_rows")] * ROUNDS
    wrong = []

    def call(user_and_kind):
        user, kind = user_and_kind
        got = getattr(clients[user], kind)()
        if got != expected(user):
            wrong.append((user, kind, sorted(got)))

    # Switch threads often (every 20 µs instead of 5 ms), as many busy threads do on a loaded
    # server: the requests then interleave inside FAB's list code, where filters were shared.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(2e-5)
    try:
        with ThreadPoolExecutor(max_workers=12) as pool:
            list(pool.map(call, calls))
    finally:
        sys.setswitchinterval(interval)
    assert not wrong, wrong[:5]
