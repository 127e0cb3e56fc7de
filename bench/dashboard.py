"""The home page's dashboard at scale: its median for an admin (every customer: estimates past
LIST_EXACT_COUNT_LIMIT) and for a Reseller-role user (one reseller's customers, counted by index).

    .venv/bin/python bench/dashboard.py --customers 1000000 \
        --database postgresql://postgres@127.0.0.1:5432/bench_customers
    .venv/bin/python bench/dashboard.py --customers 100000 \
        --database postgresql://postgres@127.0.0.1:5432/bench_small

The database is prepared as bench/run.py prepares it (bench/harness.py: migrated, users, N demo
customers loaded if it is empty, the audit entries the audit list is timed over). Each page is
requested once to warm up, then --runs times with the Flask test client; the median, p90, the
statements and their time in the database are printed, and the slowest statement's EXPLAIN
ANALYZE with --explain. The target is a median under 100 ms at 1,000,000 customers.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    ADMIN, RESELLER_USER, SqlLog, Target, ensure_audit_rows, html_login, make_app, measure, setup, sqlalchemy_url,
)

TARGET_MS = 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each statement of the page")
    args = parser.parse_args()

    app = make_app(sqlalchemy_url(args.database))
    info = setup(app, args.customers)
    ensure_audit_rows(app)
    from app.extensions import db
    with app.app_context():
        engine = db.engine
    sql = SqlLog(engine)
    print(f"dashboard at {args.customers:,} customers ({info['dialect']}), {args.runs} runs after a warm-up")
    print(f"{'user':<16}{'median ms':>10}{'p90 ms':>9}{'db ms':>8}{'statements':>12}")
    worst = 0.0
    for username in (ADMIN, RESELLER_USER):
        client = html_login(app, username)
        page = client.get("/")
        if page.status_code != 200 or 'id="dashboard"' not in page.get_data(as_text=True):
            print(f"{username}: HTTP {page.status_code}: not the dashboard")
            return 1
        timing = measure(Target(client, "/"), args.runs, sql)
        worst = max(worst, timing.median_ms)
        print(f"{username:<16}{timing.median_ms:>10.1f}{timing.p90_ms:>9.1f}{timing.db_ms:>8.1f}"
              f"{len(timing.statements):>12}")
        if args.explain:
            _explain(engine, timing.statements)
    met = "met" if worst < TARGET_MS else "NOT met"
    print(f"target: median < {TARGET_MS} ms at 1,000,000 customers: {met} at {args.customers:,}")
    return 0


def _explain(engine, statements) -> None:
    """EXPLAIN ANALYZE of each statement the page ran, slowest first."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        for statement, params, seconds in sorted(statements, key=lambda s: -s[2])[:6]:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params).scalars().all()
            print(f"\n-- {seconds * 1000:.1f} ms\n{statement}\n" + "\n".join(plan))


if __name__ == "__main__":
    sys.exit(main())
