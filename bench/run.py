#!/usr/bin/env python
"""Customer-list benchmark: the app's CustomerView / CustomerApi against stock FAB.

    .venv/bin/python bench/run.py --customers 1000000 \
        --database postgresql://postgres@127.0.0.1:5432/bench_customers
    .venv/bin/python bench/run.py --customers 100000 --database sqlite:////tmp/bench.db

What it does (see bench/README.md):
1. creates the database if missing, migrates it, creates roles/permissions, an admin and a
   Reseller-role user, and loads N customers with app.services.demo_data.generate() unless the
   database already holds exactly N (then it is reused); VACUUM ANALYZE after a load;
2. registers a stock FAB ModelView and ModelRestApi on the same model (bench/stock_fab.py);
3. times each request with the Flask test client (1 warm-up + --runs timed runs; median, p90),
   ours beside stock, counts the SQL statements each request makes, checks our rows against
   plain SQL, streams the full CSV export in a subprocess (time, RSS) and times
   `psql \\copy` of the same statement as the baseline;
4. prints tables and the targets met / not met, and writes them (plus EXPLAIN ANALYZE of our
   slow statements) to bench/results/.
"""
import argparse
import contextlib
import json
import logging
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The checkout the benchmark was started from (ROOT is a snapshot of it while a run is going on).
SOURCE = Path(os.environ.get("BENCH_SOURCE", ROOT))
SNAPSHOT = ("app", "migrations", "bench", "config.py")

# create_app() reads SECRET_KEY from the environment first; set it so nothing is written to instance/.
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

PASSWORD = "Bench-Horse-Battery-99!"
ADMIN, RESELLER_USER = "bench_admin", "bench_reseller"
TARGET_MS = 40.0
TARGET_RATIO = 5.0
TARGET_STATEMENTS = 10
TARGET_CSV_RATIO = 3.0
TARGET_CSV_MB = 150.0
PAGE_SIZE = 25


# --------------------------------------------------------------------------------------------
# database and app
# --------------------------------------------------------------------------------------------

def sqlalchemy_url(url: str) -> str:
    import config
    return config.database_url(url)


def libpq_url(url: str) -> str:
    """postgresql+psycopg://... -> postgresql://... for psql."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def ensure_database(url: str, reset: bool) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        path = u.database
        if reset and path and os.path.exists(path):
            os.remove(path)
        return
    name = u.database
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and reset:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = False
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            print(f"created database {name}")
    admin.dispose()


def make_app(url: str):
    from app import create_app
    app = create_app(dict(
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=os.environ["SECRET_KEY"],
        RATELIMIT_ENABLED=False,
        AUTH_RATE_LIMITED=False,
        LOG_LEVEL=logging.WARNING,
        SERVER_NAME=None,
    ))
    logging.getLogger().setLevel(logging.WARNING)
    from bench import stock_fab
    with app.app_context():
        stock_fab.register(app.appbuilder)
    return app


def load_record(results_dir, dialect: str, n: int) -> Path:
    return Path(results_dir) / f"{dialect}-{n}-load.json"


def setup(app, n: int, results_dir=None) -> dict:
    """Migrate, roles, users, data. Returns facts about the database."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Customer, Reseller
    from app.services.demo_data import generate

    info = {"loaded": False, "load_seconds": None}
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        before = _revision(db.engine)
        upgrade()
        after = _revision(db.engine)
        info["migrated"] = (before, after) if before != after else None
        sm = app.appbuilder.sm
        sm.create_roles_and_permissions()
        # The stock views were registered after create_app(): give the Admin role their permissions.
        app.appbuilder.add_permissions(update_perms=True)
        existing = db.session.scalar(select(func.count()).select_from(Customer))
        if existing == n:
            print(f"reusing {existing:,} customers already in the database")
            if info["migrated"] and before is not None:
                # New migrations (indexes) on old data: refresh statistics and the visibility map.
                t0 = time.perf_counter()
                vacuum_analyze(db.engine)
                print(f"  migrated {before} -> {after}; VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")
            path = load_record(results_dir, db.engine.dialect.name, n) if results_dir else None
            if path and path.exists():
                info["earlier_load"] = json.loads(path.read_text())
        elif existing == 0:
            print(f"loading {n:,} customers ...", flush=True)
            t0 = time.perf_counter()
            counts = generate(db.session, n, resellers=20, tags=50)
            info["load_seconds"] = time.perf_counter() - t0
            info["loaded"] = True
            print("  " + ", ".join(f"{v:,} {k}" for k, v in counts.items())
                  + f" in {info['load_seconds']:.1f} s", flush=True)
            t0 = time.perf_counter()
            vacuum_analyze(db.engine)
            info["vacuum_seconds"] = time.perf_counter() - t0
            print(f"  VACUUM ANALYZE in {info['vacuum_seconds']:.1f} s", flush=True)
            if results_dir:
                path = load_record(results_dir, db.engine.dialect.name, n)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(dict(load_seconds=info["load_seconds"],
                                                vacuum_seconds=info["vacuum_seconds"], counts=counts,
                                                at=time.strftime("%Y-%m-%d %H:%M:%S")), indent=1) + "\n")
        else:
            sys.exit(f"the database holds {existing:,} customers, not {n:,}: pass --reset to start again")

        reseller_id = db.session.scalar(select(Reseller.id).order_by(Reseller.id).limit(1))
        ensure_user(sm, ADMIN, "Admin", None)
        ensure_user(sm, RESELLER_USER, "Reseller", reseller_id)
        info["reseller_id"] = reseller_id
        info["dialect"] = db.engine.dialect.name
        info["customers"] = n
    return info


def _revision(engine):
    from sqlalchemy import inspect, text
    if not inspect(engine).has_table("alembic_version"):
        return None
    with engine.connect() as conn:
        return conn.scalar(text("SELECT version_num FROM alembic_version"))


def vacuum_analyze(engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("ANALYZE")


def ensure_user(sm, username: str, role: str, reseller_id) -> None:
    from app.extensions import db
    user = sm.find_user(username=username)
    if user is None:
        user = sm.add_user(username, username, "Bench", f"{username}@example.com", sm.find_role(role),
                           password=PASSWORD)
        if not user:
            sys.exit(f"could not create user {username}")
    else:
        sm.reset_password(user.id, PASSWORD)
        user = sm.find_user(username=username)
    user.reseller_id = reseller_id
    db.session.commit()


# --------------------------------------------------------------------------------------------
# clients and measuring
# --------------------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def html_login(app, username: str):
    client = app.test_client()
    page = client.get("/login/").get_data(as_text=True)
    m = CSRF.search(page)
    if not m:
        sys.exit("no csrf_token on /login/")
    r = client.post("/login/", data={"username": username, "password": PASSWORD,
                                     "csrf_token": m.group(1) or m.group(2)})
    if r.status_code != 302:
        sys.exit(f"login as {username} failed: {r.status_code}")
    return client


def api_token(app, username: str) -> dict:
    client = app.test_client()
    r = client.post("/api/v1/security/login",
                    json={"username": username, "password": PASSWORD, "provider": "db"})
    if r.status_code != 200:
        sys.exit(f"API login as {username} failed: {r.status_code} {r.get_data(as_text=True)[:200]}")
    return {"Authorization": f"Bearer {r.json['access_token']}"}


class SqlLog:
    """Every statement the engine runs while `on`: (sql, params, seconds)."""

    def __init__(self, engine):
        from sqlalchemy import event
        self.on = False
        self.statements = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        if self.on:
            conn.info.setdefault("_bench_t0", []).append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and conn.info.get("_bench_t0"):
            t0 = conn.info["_bench_t0"].pop()
            self.statements.append((statement, parameters, time.perf_counter() - t0))

    def start(self):
        self.statements = []
        self.on = True

    def stop(self):
        self.on = False
        return list(self.statements)


@dataclass
class Target:
    """One side (ours or stock) of a timed request."""

    client: object
    url: str
    headers: dict = field(default_factory=dict)
    kind: str = "html"  # html | api
    show_prefix: str = "/customers/show/"


@dataclass
class Case:
    label: str
    ours: Target
    stock: Target | None = None
    expected: object = None  # callable -> list of ids, or None
    check: str = "page"  # page: ids equal; last: ends at the final row
    kinds: tuple = ()  # "deep", "search", "list"


@dataclass
class Timing:
    status: int
    times: list
    statements: list
    ids: list
    body_bytes: int
    db_times: list = field(default_factory=list)

    @property
    def db_ms(self):
        return statistics.median(self.db_times) * 1000

    @property
    def median_ms(self):
        return statistics.median(self.times) * 1000

    @property
    def p90_ms(self):
        s = sorted(self.times)
        return s[max(math.ceil(0.9 * len(s)) - 1, 0)] * 1000


def ids_of(target: Target, response) -> list[int]:
    if target.kind == "api":
        try:
            return list(response.json.get("ids") or [])
        except Exception:  # noqa: BLE001
            return []
    html = response.get_data(as_text=True)
    seen, out = set(), []
    for m in re.finditer(re.escape(target.show_prefix) + r"(\d+)", html):
        i = int(m.group(1))
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def measure(target: Target, runs: int, sql: SqlLog) -> Timing:
    r = target.client.get(target.url, headers=target.headers)  # warm-up
    r.get_data()
    times, statements, db_times = [], [], []
    for _ in range(runs):
        sql.start()
        t0 = time.perf_counter()
        r = target.client.get(target.url, headers=target.headers)
        body = r.get_data()
        times.append(time.perf_counter() - t0)
        statements = sql.stop()
        db_times.append(sum(st[2] for st in statements))
    return Timing(r.status_code, times, statements, ids_of(target, r) if r.status_code == 200 else [],
                  len(body), db_times)


RECORD_COUNT = re.compile(r'(?:Record Count:?</strong>|id="record-count">)\s*([\d,]+)')


def last_page(client, url, view_name) -> tuple[int, int | None]:
    """(the page the pager's last-page link points to, the record count shown) on page 1 of `url`."""
    html = client.get(url).get_data(as_text=True)
    pages = [int(n) for n in re.findall(rf"page_{view_name}=(\d+)", html)]
    m = RECORD_COUNT.search(html)
    return (max(pages) if pages else 0), (int(m.group(1).replace(",", "")) if m else None)


def filter_index(app, view_cls, column: str, filter_classes) -> int:
    """The position of the first filter of one of `filter_classes` among the view's filters on `column`."""
    view = next(v for v in app.appbuilder.baseviews if isinstance(v, view_cls))
    flts = view._filters.get_search_filters()[column]
    for i, f in enumerate(flts):
        if isinstance(f, filter_classes) and type(f).__name__ not in ("FilterNotContains",):
            return i
    sys.exit(f"no {filter_classes} filter on {view_cls.__name__}.{column}: {flts}")


def rison(**kw) -> str:
    parts = []
    for k, v in kw.items():
        parts.append(f"{k}:{v}")
    return quote("(" + ",".join(parts) + ")", safe="():,!'")


# --------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------

def build_cases(app, info) -> tuple[list[Case], dict]:
    from flask_appbuilder.models.sqla.filters import (
        FilterContains,
        FilterEqual,
        FilterNotEqual,
        FilterRelationManyToManyEqual,
    )
    from sqlalchemy import exists, func, select

    from app.extensions import db
    from app.models import Customer, Tag, customer_tag
    from app.views.customers import CustomerView
    from app.views.filters import FilterHasTag, FilterValueEqual
    from bench.stock_fab import StockCustomerView

    with app.app_context():
        tag_id = db.session.scalar(select(Tag.id).order_by(Tag.id).limit(1))
        tag_name = db.session.scalar(select(Tag.name).where(Tag.id == tag_id))

    ours_ct = filter_index(app, CustomerView, "surname", FilterContains)
    stock_ct = filter_index(app, StockCustomerView, "surname", FilterContains)
    ours_tag = filter_index(app, CustomerView, "tags", (FilterHasTag,))
    stock_tag = filter_index(app, StockCustomerView, "tags", (FilterRelationManyToManyEqual,))
    ours_status_ne = filter_index(app, CustomerView, "status", FilterNotEqual)
    ours_id_eq = filter_index(app, CustomerView, "id", (FilterValueEqual,))
    stock_id_eq = filter_index(app, StockCustomerView, "id", (FilterEqual,))
    ours_date_eq = filter_index(app, CustomerView, "joined_on", (FilterValueEqual,))
    stock_date_eq = filter_index(app, StockCustomerView, "joined_on", (FilterEqual,))
    facts = {"tag_id": tag_id, "tag_name": tag_name, "ours_contains_index": ours_ct,
             "stock_contains_index": stock_ct, "ours_tag_index": ours_tag, "stock_tag_index": stock_tag,
             "ours_status_ne_index": ours_status_ne}

    admin = html_login(app, ADMIN)
    reseller = html_login(app, RESELLER_USER)
    bearer = api_token(app, ADMIN)

    def q_ids(*where, offset=0, limit=PAGE_SIZE, last=False, archived=False):
        # The list hides archived customers unless a status filter is given; the REST API does not.
        def run():
            with app.app_context():
                stmt = select(Customer.id).where(*where)
                if not archived:
                    stmt = stmt.where(Customer.status != "archived")
                if last:
                    stmt = stmt.order_by(Customer.sort_name.desc(), Customer.id.desc()).limit(1)
                    return db.session.scalars(stmt).all()
                stmt = stmt.order_by(Customer.sort_name, Customer.id).offset(offset).limit(limit)
                return db.session.scalars(stmt).all()
        return run

    srt_o = "_oc_CustomerView=name&_od_CustomerView=asc"
    srt_s = "_oc_StockCustomerView=name&_od_StockCustomerView=asc"
    ours_last, ours_count = last_page(admin, f"/customers/list/?{srt_o}", "CustomerView")
    stock_last, stock_count = last_page(admin, f"/stock/customers/list/?{srt_s}", "StockCustomerView")
    facts.update(ours_count=ours_count, stock_count=stock_count, ours_last=ours_last, stock_last=stock_last)
    with app.app_context():
        facts["visible"] = db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.status != "archived"))
        facts["reseller_visible"] = db.session.scalar(
            select(func.count()).select_from(Customer).where(
                Customer.status != "archived", Customer.reseller_id == info["reseller_id"]))

    deep = 2000
    s_ours = Target(admin, "", show_prefix="/customers/show/")
    s_stock = Target(admin, "", show_prefix="/stock/customers/show/")

    def o(url, **kw):
        return Target(admin, url, show_prefix="/customers/show/", **kw)

    def s(url, **kw):
        return Target(admin, url, show_prefix="/stock/customers/show/", **kw)

    has_tag = exists().where(customer_tag.c.customer_id == Customer.id, customer_tag.c.tag_id == tag_id)
    api = "/api/v1/customers/"
    sapi = "/api/v1/stock-customers/"
    order = dict(order_column="name", order_direction="asc")
    reseller_deep = max(min(1000, math.ceil(facts["reseller_visible"] / PAGE_SIZE) - 2), 1)
    facts["reseller_deep"] = reseller_deep
    del s_ours, s_stock

    with app.app_context():
        some_id = db.session.scalar(select(func.min(Customer.id)).where(
            Customer.id >= info["customers"] // 2, Customer.status != "archived"))
    facts["some_id"] = some_id
    cases = [
        # joined_on = 1900-01-01 matches nothing through an index: the page without rows, i.e. the
        # cost of FAB's page chrome (menu, search form, permissions) alone.
        Case("empty result (page chrome only)", o(f"/customers/list/?_flt_{ours_date_eq}_joined_on=1900-01-01"),
             s(f"/stock/customers/list/?_flt_{stock_date_eq}_joined_on=1900-01-01"), list,
             kinds=("floor",)),
        Case(f"filter: customer ID = {some_id}", o(f"/customers/list/?_flt_{ours_id_eq}_id={some_id}"),
             s(f"/stock/customers/list/?_flt_{stock_id_eq}_id={some_id}"), lambda: [some_id],
             kinds=("list", "filter")),
        Case("list page 1", o("/customers/list/"), s("/stock/customers/list/"), q_ids(), kinds=("list",)),
        Case("sorted by name, page 1", o(f"/customers/list/?{srt_o}"),
             s(f"/stock/customers/list/?{srt_s}"), q_ids(), kinds=("list",)),
        Case(f"sorted by name, page {deep}", o(f"/customers/list/?{srt_o}&page_CustomerView={deep}"),
             s(f"/stock/customers/list/?{srt_s}&page_StockCustomerView={deep}"),
             q_ids(offset=deep * PAGE_SIZE), kinds=("list", "deep")),
        Case("sorted by name, last page", o(f"/customers/list/?{srt_o}&page_CustomerView={ours_last}"),
             s(f"/stock/customers/list/?{srt_s}&page_StockCustomerView={stock_last}"),
             q_ids(last=True), check="last", kinds=("list", "deep")),
        Case("contains 'mit' in surname", o(f"/customers/list/?_flt_{ours_ct}_surname=mit"),
             s(f"/stock/customers/list/?_flt_{stock_ct}_surname=mit"),
             q_ids(Customer.surname.ilike("%mit%")), kinds=("list", "search")),
        Case(f"filter by tag ({tag_name})", o(f"/customers/list/?_flt_{ours_tag}_tags={tag_id}"),
             s(f"/stock/customers/list/?_flt_{stock_tag}_tags={tag_id}"),
             q_ids(has_tag), kinds=("list", "filter")),
        Case("REST page 0", o(api + "?q=" + rison(page=0, page_size=PAGE_SIZE, **order), kind="api",
                              headers=bearer),
             s(sapi + "?q=" + rison(page=0, page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(archived=True), kinds=("rest",)),
        Case(f"REST page {deep}", o(api + "?q=" + rison(page=deep, page_size=PAGE_SIZE, **order),
                                    kind="api", headers=bearer),
             s(sapi + "?q=" + rison(page=deep, page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(offset=deep * PAGE_SIZE, archived=True), kinds=("rest", "deep")),
        Case("REST contains 'mit' in surname",
             o(api + "?q=" + rison(filters="!((col:surname,opr:text_ct,value:mit))", page=0,
                                   page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             s(sapi + "?q=" + rison(filters="!((col:surname,opr:ct,value:mit))", page=0,
                                    page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(Customer.surname.ilike("%mit%"), archived=True), kinds=("rest", "search")),
        Case("Reseller user: list page 1", Target(reseller, "/customers/list/"), None,
             q_ids(Customer.reseller_id == info["reseller_id"]), kinds=("list",)),
        Case(f"Reseller user: sorted, page {reseller_deep}",
             Target(reseller, f"/customers/list/?{srt_o}&page_CustomerView={reseller_deep}"), None,
             q_ids(Customer.reseller_id == info["reseller_id"], offset=reseller_deep * PAGE_SIZE),
             kinds=("list", "deep")),
    ]
    return cases, facts


def check(case: Case, t: Timing) -> str:
    if t.status != 200:
        return f"HTTP {t.status}"
    if case.expected is None:
        return "-"
    want = list(case.expected())
    if case.check == "last":
        if not t.ids:
            return "EMPTY"
        return "ok" if t.ids[-1] == want[0] else f"NOT LAST ({len(t.ids)} rows)"
    if t.ids == want:
        return "ok"
    return f"WRONG ({len(set(t.ids) & set(want))}/{len(want)} rows match)"


@contextlib.contextmanager
def without_trigram_indexes(app):
    """PostgreSQL connections that cannot use the trigram GIN indexes (migration 0002), as stock
    FAB's own schema would be: no index serves its ILIKE '%...%' there. GIN is read only through
    bitmap scans, so `enable_bitmapscan = off` on each connection checked out does it, without
    touching the schema; the pool is emptied afterwards."""
    from sqlalchemy import event

    from app.extensions import db
    with app.app_context():
        engine = db.engine

    def no_bitmaps(dbapi_connection, record, proxy):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET enable_bitmapscan = off")

    event.listen(engine, "checkout", no_bitmaps)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "checkout", no_bitmaps)
        engine.dispose()


def run_stock_own_schema(app, cases, runs, sql, progress=print) -> dict:
    """The search requests of stock FAB again, as on its own schema (see without_trigram_indexes)."""
    found = {}
    with without_trigram_indexes(app):
        for case in cases:
            if case.stock is not None and "search" in case.kinds:
                progress(f"  {case.label}, stock without the trigram indexes ...", end="", flush=True)
                found[case.label] = measure(case.stock, runs, sql)
                progress(f" {found[case.label].median_ms:.1f} ms", flush=True)
    return found


def run_cases(app, cases, runs, skip_stock, sql, progress=print):
    results = []
    for case in cases:
        progress(f"  {case.label} ...", end="", flush=True)
        ours = measure(case.ours, runs, sql)
        ok = check(case, ours)
        stock = None
        if case.stock is not None and not skip_stock:
            stock = measure(case.stock, runs, sql)
        progress(f" ours {ours.median_ms:.1f} ms" + (f", stock {stock.median_ms:.1f} ms" if stock else "")
                 + f" [{ok}]", flush=True)
        results.append((case, ours, stock, ok))
    return results


# --------------------------------------------------------------------------------------------
# CSV: export in a subprocess (time, RSS), psql \copy baseline
# --------------------------------------------------------------------------------------------

def rss_kb(field_name: str = "VmRSS") -> int:
    """Resident memory (VmRSS) or its peak since the last reset (VmHWM), in kB (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak that follows is the export's."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def csv_worker(args) -> None:
    """Child process: log in, stream the export once, print JSON with time and memory."""
    import gc
    app = make_app(sqlalchemy_url(args.database))
    client = html_login(app, ADMIN)
    # Warm the code path (imports, first COPY) with an export that matches no row, then measure.
    from app.views.customers import CustomerView
    from app.views.filters import FilterValueEqual
    id_eq = filter_index(app, CustomerView, "id", (FilterValueEqual,))
    warm = client.get(f"/customers/export.csv?_flt_{id_eq}_id=0", buffered=False)
    for _ in warm.response:
        pass
    warm.close()
    gc.collect()
    before = rss_kb()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = reset_peak_rss()
    sampled = [before]
    stop = threading.Event()

    def sample():  # a second opinion on the peak, in case VmHWM cannot be reset
        while not stop.wait(0.01):
            sampled.append(rss_kb())
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    r = client.get(args.csv_worker, buffered=False)
    nbytes = lines = chunks = 0
    for chunk in r.response:
        nbytes += len(chunk)
        lines += chunk.count(b"\n")
        chunks += 1
    r.close()
    seconds = time.perf_counter() - t0
    stop.set()
    sampler.join()
    peak = max(rss_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               max(sampled))
    print(json.dumps(dict(status=r.status_code, seconds=seconds, bytes=nbytes, rows=lines - 1,
                          chunks=chunks, rss_before_kb=before, peak_before_kb=peak_before,
                          peak_reset=reset, sampled_peak_kb=max(sampled),
                          peak_kb=peak, growth_kb=peak - before)))


def csv_url(app, facts) -> str:
    # A status "not equal" filter on a value nobody has turns off the "hide archived" default,
    # so the export holds every row.
    return (f"/customers/export.csv?_flt_{facts['ours_status_ne_index']}_status=none"
            "&_oc_CustomerView=name&_od_CustomerView=asc")


def export_sql(app, url: str) -> str | None:
    """The statement the export runs for `url`, with literal values (for psql / sqlite3).

    Taken from the app itself: one export request as the admin with csv_export.stream_csv
    replaced by a recorder, so this follows however the view builds its statement.
    """
    from sqlalchemy.sql import Executable

    from app.extensions import db
    from app.services import csv_export
    seen = []
    real = csv_export.stream_csv

    def record(*args, **kwargs):
        seen.extend(a for a in list(args) + list(kwargs.values()) if isinstance(a, Executable))
        return iter([b""])
    csv_export.stream_csv = record
    try:
        client = html_login(app, ADMIN)
        client.get(url).get_data()
    finally:
        csv_export.stream_csv = real
    if not seen:
        return None
    with app.app_context():
        return str(seen[0].compile(dialect=db.engine.dialect,
                                   compile_kwargs={"literal_binds": True, "render_postcompile": True}))


def plain_export_sql(app) -> str:
    """The export's columns in a plain SELECT: reseller and the tags (aggregated once, GROUP BY)
    joined, in the same order, without the formula escaping. What a hand-written export costs."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Customer, Reseller, Tag, customer_tag
    tags = (select(customer_tag.c.customer_id, func.aggregate_strings(Tag.name, "; ").label("tags"))
            .join(Tag, Tag.id == customer_tag.c.tag_id)
            .group_by(customer_tag.c.customer_id).subquery("t"))
    c = Customer
    stmt = (select(c.id, c.customer_type, c.title, c.first_name, c.surname, c.company_name, c.name,
                   c.email, c.phone, c.mobile, c.joined_on, c.balance, c.currency, c.status, tags.c.tags,
                   Reseller.name, c.advertising_source, c.creditor_days, c.building_type,
                   c.third_party_reference)
            .select_from(c)
            .outerjoin(Reseller, Reseller.id == c.reseller_id)
            .outerjoin(tags, tags.c.customer_id == c.id)
            .order_by(c.sort_name, c.id))
    with app.app_context():
        return str(stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))


def baseline_command(args, dialect: str, sql: str):
    if dialect == "postgresql" and shutil.which("psql"):
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", libpq_url(args.database), "-c",
                "\\copy (" + " ".join(sql.split()) + ") TO '/dev/null' WITH (FORMAT csv)"], "psql \\copy"
    if dialect == "sqlite" and shutil.which("sqlite3"):
        from sqlalchemy.engine import make_url
        return ["sqlite3", "-csv", make_url(sqlalchemy_url(args.database)).database, sql], "sqlite3 -csv"
    return None, None


def run_csv(app, args, facts, runs) -> dict:
    """Export, then the baselines, interleaved run by run (the machine's load drifts)."""
    url = csv_url(app, facts)
    out = {"url": url, "runs": [], "baselines": []}
    worker = [sys.executable, str(Path(__file__).resolve()), "--database", args.database, "--csv-worker", url]
    out["sql"] = export_sql(app, url)
    out["plain_sql"] = plain_export_sql(app)
    for label, sql in (("the export's own SQL", out["sql"]), ("plain SELECT of the same columns", out["plain_sql"])):
        if sql is None:
            print(f"    (could not capture {label}; that baseline is skipped)")
            continue
        cmd, tool = baseline_command(args, facts["dialect"], sql)
        if cmd:
            out["baselines"].append({"name": f"{tool}, {label}", "cmd": cmd, "times": [], "error": None})
    for i in range(runs + 1):
        tag = " (warm-up)" if i == 0 else ""
        p = subprocess.run(worker, capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            out["error"] = p.stderr[-2000:]
            return out
        res = json.loads(p.stdout.strip().splitlines()[-1])
        if i > 0:
            out["runs"].append(res)
        print(f"    export run {i}{tag}: {res['seconds']:.2f} s, {res['rows']:,} rows, "
              f"{res['bytes'] / 1e6:.0f} MB, RSS +{res['growth_kb'] / 1024:.1f} MB "
              f"(peak {res['peak_kb'] / 1024:.0f} MB)", flush=True)
        for b in out["baselines"]:
            if b["error"]:
                continue
            t0 = time.perf_counter()
            p = subprocess.run(b["cmd"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                b["error"] = p.stderr[-2000:]
                continue
            if i > 0:
                b["times"].append(dt)
            print(f"    {b['name']} run {i}{tag}: {dt:.2f} s", flush=True)
    return out


# --------------------------------------------------------------------------------------------
# EXPLAIN of our slow statements
# --------------------------------------------------------------------------------------------

def explain(app, statements, top=2) -> list[tuple[float, str, str]]:
    from app.extensions import db
    out = []
    with app.app_context():
        dialect = db.engine.dialect.name
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if dialect == "postgresql" else "EXPLAIN QUERY PLAN "
        candidates = [st for st in statements if not st[0].lstrip().upper().startswith("EXPLAIN")]
        for sql, params, seconds in sorted(candidates, key=lambda s: -s[2])[:top]:
            try:
                with db.engine.connect() as conn:
                    rows = conn.exec_driver_sql(prefix + sql, params).all()
                    conn.rollback()
                plan = "\n".join(" | ".join(str(c) for c in row) for row in rows)
            except Exception as e:  # noqa: BLE001
                plan = f"(EXPLAIN failed: {e})"
            out.append((seconds, render_sql(sql, params), plan))
    return out


def render_sql(sql, params) -> str:
    text = " ".join(sql.split())
    return f"{text}\n  -- params: {params!r}" if params else text


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------

def fmt_ms(v):
    return f"{v:8.1f}" if v is not None else "       -"


def table(headers, rows, align=None) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    align = align or ["<"] + [">"] * (len(headers) - 1)

    def line(cells):
        return "| " + " | ".join(f"{str(c):{a}{w}}" for c, a, w in zip(cells, align, widths)) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2))
                         for a, w in zip(align, widths)) + "|"
    return "\n".join([line(headers), sep] + [line(r) for r in rows])


def report(args, info, facts, results, csv, runs, own_schema=None) -> tuple[str, list[tuple[str, bool, str]]]:
    lines = []
    target_name = f"{info['dialect']}, {info['customers']:,} customers"
    lines.append(f"## {target_name}\n")
    command = os.environ.get("BENCH_COMMAND", " ".join(sys.argv[1:]))
    lines.append(f"Command: `.venv/bin/python bench/run.py {command}`  ")
    lines.append(f"Runs: 1 warm-up + {runs} timed per request (Flask test client, in process); "
                 f"p90 = nearest rank. Times in ms; 'DB ms' is the time inside cursor.execute "
                 f"(median over the runs), the rest is Python (FAB, Jinja, marshmallow).  ")
    lines.append(f"Machine: {os.cpu_count()} CPUs, load average {info.get('load_before', '?')} before / "
                 f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after; app at {info.get('git', '?')}.  ")
    if info.get("load_seconds") is not None:
        lines.append(f"Load: {info['load_seconds']:.1f} s (generate) + {info.get('vacuum_seconds', 0):.1f} s "
                     f"(VACUUM ANALYZE).  ")
    elif info.get("earlier_load"):
        e = info["earlier_load"]
        lines.append(f"Load: reused the database loaded at {e['at']} in {e['load_seconds']:.1f} s (generate) + "
                     f"{e['vacuum_seconds']:.1f} s (VACUUM ANALYZE).  ")
    else:
        lines.append("Load: reused the existing database.  ")
    if info.get("migrated") and info["migrated"][0] is not None:
        lines.append(f"Migrated the reused database {info['migrated'][0]} -> {info['migrated'][1]} "
                     f"before timing (then VACUUM ANALYZE).  ")
    lines.append(f"Rows: {info['customers']:,} customers, {facts['visible']:,} not archived (the list's default); "
                 f"record count shown: ours {facts['ours_count']}, stock {facts['stock_count']}; "
                 f"last page: ours {facts['ours_last']}, stock {facts['stock_last']}.  ")
    lines.append(f"Filters used: ours `_flt_{facts['ours_contains_index']}_surname` (Contains), "
                 f"`_flt_{facts['ours_tag_index']}_tags` (Has tag); stock "
                 f"`_flt_{facts['stock_contains_index']}_surname` (Contains), "
                 f"`_flt_{facts['stock_tag_index']}_tags` (Relation); tag {facts['tag_name']!r} "
                 f"(id {facts['tag_id']}).\n")

    rows = []
    verdicts = []
    for case, ours, stock, ok in results:
        ratio = (stock.median_ms / ours.median_ms) if stock else None
        rows.append([case.label, fmt_ms(ours.median_ms), fmt_ms(ours.p90_ms), fmt_ms(ours.db_ms),
                     len(ours.statements),
                     fmt_ms(stock.median_ms if stock else None), fmt_ms(stock.p90_ms if stock else None),
                     fmt_ms(stock.db_ms if stock else None), len(stock.statements) if stock else "-",
                     f"{ratio:.1f}x" if ratio else "-", ok])
    lines.append(table(["request", "ours med", "ours p90", "ours DB ms", "ours SQL", "stock med",
                        "stock p90", "stock DB ms", "stock SQL", "stock/ours", "rows check"], rows))
    lines.append("")

    # targets
    slow = [f"{c.label} ({o.median_ms:.0f})" for c, o, s, ok in results
            if o.median_ms >= TARGET_MS and "floor" not in c.kinds]
    floor = [o.median_ms for c, o, s, ok in results if "floor" in c.kinds]
    floor_note = f"; an empty list page alone takes {floor[0]:.0f} ms" if floor else ""
    verdicts.append((f"every list page, deep page, search, filter and REST call < {TARGET_MS:.0f} ms median",
                     not slow, ("slow (ms): " + ", ".join(slow) if slow else "all under") + floor_note))
    weak = [f"{c.label} ({s.median_ms / o.median_ms:.1f}x)" for c, o, s, ok in results
            if s and ("deep" in c.kinds or "search" in c.kinds) and s.median_ms / o.median_ms < TARGET_RATIO]
    compared = [c for c, o, s, ok in results if s and ("deep" in c.kinds or "search" in c.kinds)]
    if compared:
        verdicts.append((f">= {TARGET_RATIO:.0f}x faster than stock FAB on deep pages and searches (stock on our tables, with our indexes)",
                         not weak, "short: " + ", ".join(weak) if weak else
                         ", ".join(f"{c.label} {s.median_ms / o.median_ms:.0f}x" for c, o, s, ok in results
                                   if c in compared)))
    if own_schema:
        lines.append("Searches against stock FAB as on its own schema: the same requests, on connections that "
                     "cannot use the trigram GIN indexes of migration 0002 (FAB creates none; no other index "
                     "serves ILIKE '%...%'). Ours as in the table above.\n")
        rows = []
        for c, o, s, ok in results:
            if c.label in own_schema:
                t = own_schema[c.label]
                rows.append([c.label, fmt_ms(o.median_ms), fmt_ms(t.median_ms), fmt_ms(t.p90_ms), fmt_ms(t.db_ms),
                             f"{t.median_ms / o.median_ms:.1f}x"])
        lines.append(table(["request", "ours med", "stock med", "stock p90", "stock DB ms", "stock/ours"], rows))
        lines.append("")
        short = [f"{label} ({t.median_ms / o.median_ms:.1f}x)" for c, o, s, ok in results
                 for label, t in own_schema.items() if c.label == label and t.median_ms / o.median_ms < TARGET_RATIO]
        verdicts.append((f">= {TARGET_RATIO:.0f}x faster than stock FAB on searches, stock as on its own schema",
                         not short, "short: " + ", ".join(short) if short else
                         ", ".join(f"{c.label} {own_schema[c.label].median_ms / o.median_ms:.0f}x"
                                   for c, o, s, ok in results if c.label in own_schema)))
    many = [f"{c.label} ({len(o.statements)})" for c, o, s, ok in results
            if "list" in c.kinds and len(o.statements) > TARGET_STATEMENTS]
    verdicts.append((f"<= {TARGET_STATEMENTS} SQL statements per list page", not many,
                     "over: " + ", ".join(many) if many else
                     "max " + str(max(len(o.statements) for c, o, s, ok in results if "list" in c.kinds))))
    wrong = [f"{c.label}: {ok}" for c, o, s, ok in results if ok not in ("ok", "-")]
    verdicts.append(("our pages return the right rows (checked against plain SQL)", not wrong,
                     "; ".join(wrong) if wrong else "all match"))

    if csv is not None:
        lines.append("CSV export (all rows, sorted by name; each run a fresh process streaming "
                     "/customers/export.csv through the test client):\n")
        if csv.get("error"):
            lines.append("```\n" + csv["error"] + "\n```")
            verdicts.append(("CSV export", False, "failed"))
        else:
            secs = [r["seconds"] for r in csv["runs"]]
            growth = max(r["growth_kb"] for r in csv["runs"]) / 1024
            peak = max(r["peak_kb"] for r in csv["runs"]) / 1024
            med = statistics.median(secs)
            p90 = sorted(secs)[max(math.ceil(0.9 * len(secs)) - 1, 0)]
            r0 = csv["runs"][0]
            crow = [["app export", f"{med:.2f}", f"{p90:.2f}", f"{r0['rows']:,}", f"{r0['bytes'] / 1e6:.0f}",
                     f"{growth:.1f}", f"{peak:.0f}"]]
            for b in csv["baselines"]:
                if b["times"]:
                    crow.append([b["name"], f"{statistics.median(b['times']):.2f}",
                                 f"{sorted(b['times'])[max(math.ceil(0.9 * len(b['times'])) - 1, 0)]:.2f}",
                                 "", "", "", ""])
            lines.append(table(["", "median s", "p90 s", "rows", "MB", "RSS growth MB", "peak RSS MB"], crow))
            lines.append("")
            for k, b in enumerate(csv["baselines"]):
                if b["error"]:
                    lines.append(f"{b['name']} failed:\n```\n{b['error']}\n```\n")
                    continue
                ratio = med / statistics.median(b["times"])
                lines.append(f"export / {b['name']} = {ratio:.2f}x  ")
                # The target is judged against the plain SELECT (the last baseline).
                if k == len(csv["baselines"]) - 1:
                    verdicts.append((f"CSV within {TARGET_CSV_RATIO:.0f}x of {b['name']}",
                                     ratio <= TARGET_CSV_RATIO,
                                     f"{ratio:.2f}x ({med:.2f} s vs {statistics.median(b['times']):.2f} s)"))
            lines.append("")
            verdicts.append((f"CSV peak memory < {TARGET_CSV_MB:.0f} MB (RSS growth while streaming)",
                             growth < TARGET_CSV_MB, f"+{growth:.0f} MB (process peak {peak:.0f} MB)"))
            if r0["rows"] != info["customers"]:
                verdicts.append(("CSV holds every row", False, f"{r0['rows']:,} of {info['customers']:,}"))

    lines.append("Targets:\n")
    lines.append(table(["target", "met", "detail"],
                       [[name, "MET" if ok else "NOT MET", detail] for name, ok, detail in verdicts],
                       align=["<", "<", "<"]))
    lines.append("")
    return "\n".join(lines), verdicts


# --------------------------------------------------------------------------------------------

def git_state() -> str:
    """The commit the snapshot was taken from (git is asked in the source checkout)."""
    return os.environ.get("BENCH_GIT") or _git_state(SOURCE)


def _git_state(where: Path) -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "app", "migrations", "config.py"],
                               cwd=where, capture_output=True, text=True).stdout.strip()
        return rev + (" + uncommitted changes in app/" if dirty else "")
    except OSError:
        return "?"


def run_from_snapshot(argv: list[str]) -> None:
    """Copy the app (app/, migrations/, config.py, bench/) to a temporary folder and run the
    benchmark from there, so edits to the checkout during a long run cannot change the code
    under test half-way (or break the CSV subprocesses). Does not return."""
    import atexit  # noqa: F401  (the child cleans up; see main)
    import tempfile
    snap = Path(tempfile.mkdtemp(prefix="bench-app-"))
    git = _git_state(ROOT)
    ignore = shutil.ignore_patterns("__pycache__", "results", "*.pyc")
    for name in SNAPSHOT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, snap / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, snap / name)
    env = dict(os.environ, BENCH_SOURCE=str(ROOT), BENCH_GIT=git, BENCH_SNAPSHOT=str(snap),
               BENCH_COMMAND=" ".join(argv))
    os.execve(sys.executable, [sys.executable, str(snap / "bench" / "run.py"), *argv], env)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=7, help="timed runs per request, after 1 warm-up (>= 7)")
    p.add_argument("--csv-runs", type=int, default=None, help="timed CSV runs (default: --runs)")
    p.add_argument("--reset", action="store_true", help="drop and recreate the database first")
    p.add_argument("--skip-stock", action="store_true", help="time only our views")
    p.add_argument("--skip-csv", action="store_true")
    p.add_argument("--load-only", action="store_true", help="create and load the database, then stop")
    p.add_argument("--explain", action="store_true",
                   help="EXPLAIN ANALYZE the slowest statements of every request, not only the slow ones")
    p.add_argument("--results", default=str(SOURCE / "bench" / "results"), help="folder for the reports")
    p.add_argument("--no-snapshot", action="store_true",
                   help="run the checkout's code directly instead of a copy taken at the start")
    p.add_argument("--csv-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.csv_worker:
        csv_worker(args)
        return
    if not args.no_snapshot and "BENCH_SNAPSHOT" not in os.environ:
        run_from_snapshot(sys.argv[1:])
    if os.environ.get("BENCH_SNAPSHOT"):
        import atexit
        atexit.register(shutil.rmtree, os.environ["BENCH_SNAPSHOT"], True)
        print(f"running a snapshot of {SOURCE} at {git_state()} (in {ROOT})", flush=True)

    url = sqlalchemy_url(args.database)
    ensure_database(url, args.reset)
    app = make_app(url)
    info = setup(app, args.customers, args.results)
    info["load_before"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    info["git"] = git_state()
    if args.load_only:
        return

    from app.extensions import db
    with app.app_context():
        sql = SqlLog(db.engine)
    cases, facts = build_cases(app, info)
    facts["dialect"] = info["dialect"]
    print(f"timing {len(cases)} requests, 1 warm-up + {args.runs} runs each", flush=True)
    results = run_cases(app, cases, args.runs, args.skip_stock, sql)
    own_schema = None
    if info["dialect"] == "postgresql" and not args.skip_stock:
        own_schema = run_stock_own_schema(app, cases, args.runs, sql)

    csv = None
    if not args.skip_csv:
        print("CSV export ...", flush=True)
        csv = run_csv(app, args, facts, args.csv_runs or args.runs)

    text, _verdicts = report(args, info, facts, results, csv, args.runs, own_schema)
    print()
    print(text)

    # EXPLAIN ANALYZE of the slowest statements of our slow requests
    explains = []
    for case, ours, stock, ok in results:
        if args.explain or ours.median_ms >= TARGET_MS:
            explains.append((case.label, "ours", ours.median_ms, explain(app, ours.statements)))
        if args.explain and stock is not None:
            explains.append((case.label, "stock", stock.median_ms, explain(app, stock.statements, top=1)))

    out_dir = Path(args.results)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{info['dialect']}-{info['customers']}"
    (out_dir / f"{stem}.md").write_text(text + "\n")
    with open(out_dir / f"{stem}-sql.txt", "w") as f:
        f.write(f"# SQL statements per request, {stem} (last timed run; seconds, statement)\n")
        for case, ours, stock, ok in results:
            for side, t in (("ours", ours), ("stock", stock)):
                if t is None:
                    continue
                f.write(f"\n## {case.label} [{side}] {t.median_ms:.1f} ms median, "
                        f"{len(t.statements)} statements\n")
                for s_sql, params, secs in t.statements:
                    f.write(f"{secs * 1000:8.2f} ms  {render_sql(s_sql, params)[:2000]}\n")
        if csv and csv.get("sql") is not None:
            f.write("\n## CSV export statement (also run by the first baseline)\n" + csv["sql"] + "\n")
            f.write("\n## CSV plain baseline statement\n" + csv["plain_sql"] + "\n")
    if explains:
        with open(out_dir / f"{stem}-explain.txt", "w") as f:
            for label, side, med, plans in explains:
                f.write(f"\n{'=' * 100}\n{label} [{side}] {med:.1f} ms median\n")
                for secs, s_sql, plan in plans:
                    f.write(f"\n-- {secs * 1000:.1f} ms in the timed run\n{s_sql}\n\n{plan}\n")
        print(f"EXPLAIN of slow statements: {out_dir / (stem + '-explain.txt')}")
    print(f"written: {out_dir / (stem + '.md')}, {out_dir / (stem + '-sql.txt')}")


if __name__ == "__main__":
    main()
