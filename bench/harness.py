"""The benchmark's harness: the database and the app, logged-in clients, timing a request,
checking its rows, and running from a snapshot of the checkout.

The cases (what is timed) are in bench/cases.py, the CSV export's timing in
bench/csv_bench.py, the tables and targets in bench/report.py; bench/run.py runs them.
"""
import contextlib
import json
import logging
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The checkout the benchmark was started from (ROOT is a snapshot of it while a run is going on).
SOURCE = Path(os.environ.get("BENCH_SOURCE", ROOT))
SNAPSHOT = ("app", "migrations", "bench", "config.py")

# create_app() reads SECRET_KEY from the environment first; set it so nothing is written to instance/.
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

PASSWORD = "Bench-Horse-Battery-99!"
ADMIN, RESELLER_USER = "bench_admin", "bench_reseller"
PAGE_SIZE = 25
AUDIT_ROWS = 200_000  # audit entries the audit list is timed over (demo data writes none)


# --------------------------------------------------------------------------------------------
# database and app
# --------------------------------------------------------------------------------------------

def sqlalchemy_url(url: str) -> str:
    import config
    return config.database_url(url)


def libpq_url(url: str) -> str:
    """postgresql+psycopg://... -> postgresql://... for psql."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


@contextlib.contextmanager
def profiled(enabled: bool, top: int):
    """cProfile what runs inside when `enabled`, then print its `top` costliest calls (ordered by
    $BENCH_SORT, default cumulative; tottime for where the time itself goes)."""
    if not enabled:
        yield
        return
    here = str(Path(__file__).resolve().parent)  # bench/profile.py would shadow the standard one
    sys.path[:] = [x for x in sys.path if x != here]
    sys.modules.pop("profile", None)
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(top)


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


def make_app(url: str, **settings):
    """The app on `url`, with `settings` given at creation (as the environment would give them:
    extensions such as Flask-Mail read theirs when the app is made)."""
    from app import create_app
    app = create_app(dict(
        SQLALCHEMY_DATABASE_URI=url,
        SECRET_KEY=os.environ["SECRET_KEY"],
        RATELIMIT_ENABLED=False,
        AUTH_RATE_LIMITED=False,
        LOG_LEVEL=logging.WARNING,
        SERVER_NAME=None,
        **settings,
    ))
    logging.getLogger().setLevel(logging.WARNING)
    stop_due_work(app)
    from bench import stock_fab
    with app.app_context():
        stock_fab.register(app.appbuilder)
    return app


def stop_due_work(app) -> None:
    """No due-work thread in a bench process (without Redis the web process starts one with its first
    request, app/jobs watch_due_work): its statements every 5 s would be counted and timed with the
    requests', and on SQLite its writes would hold the requests up."""
    stopped = app.extensions.get("due_work_stop")
    if stopped is not None:
        stopped.set()


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


def ensure_audit_rows(app, wanted: int = AUDIT_ROWS) -> int:
    """Audit entries for the audit list (plain inserts; the demo data carries none): added up to
    `wanted`, one every 75 seconds from 2026-01-01. Returns how many there are."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import AuditEntry
    from app.services.db import insert_rows
    with app.app_context():
        have = db.session.scalar(select(func.count()).select_from(AuditEntry))
        if have >= wanted:
            return have
        print(f"adding {wanted - have:,} audit entries ...", flush=True)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        actions = ("create", "update", "update", "update", "delete")
        batch = []
        for i in range(have, wanted):
            batch.append(dict(at=start + timedelta(seconds=i * 75), user_id=None, username="bench_admin",
                              action=actions[i % 5], entity="customer", entity_id=i % 1_000_000 + 1,
                              customer_id=i % 1_000_000 + 1,
                              changes={"status": ["active", "disabled"]}))
            if len(batch) == 20_000:
                insert_rows(db.session, AuditEntry.__table__, batch)
                batch.clear()
        if batch:
            insert_rows(db.session, AuditEntry.__table__, batch)
        db.session.commit()
        vacuum_analyze(db.engine)
        return wanted


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
# EXPLAIN of the slow statements
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
# the snapshot
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
