#!/usr/bin/env python
"""List benchmark: the app's lists and REST lists against stock FAB, and the CSV export.

    .venv/bin/python bench/run.py --customers 1000000 \
        --database postgresql://postgres@127.0.0.1:5432/bench_customers
    .venv/bin/python bench/run.py --customers 100000 --database sqlite:////tmp/bench.db

What it does (see bench/README.md):
1. creates the database if missing, migrates it, creates roles/permissions, an admin and a
   Reseller-role user, and loads N customers with app.services.demo_data.generate() unless the
   database already holds exactly N (then it is reused); VACUUM ANALYZE after a load; adds
   audit entries for the audit list (bench/harness.py);
2. registers stock FAB ModelViews and ModelRestApis on the same models (bench/stock_fab.py);
3. times each request (bench/cases.py) with the Flask test client (1 warm-up + --runs timed
   runs; median, p90), ours beside stock, counts the SQL statements each request makes, checks
   our rows against plain SQL, streams the full CSV export in a subprocess (time, RSS) and
   times `psql \\copy` of the same statement as the baseline (bench/csv_bench.py);
4. prints tables and the targets met / not met, and writes them (plus EXPLAIN ANALYZE of our
   slow statements) to bench/results/ (bench/report.py).
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import csv_bench, report  # noqa: E402
from bench.cases import build_cases  # noqa: E402
from bench.harness import (  # noqa: E402
    SOURCE, SqlLog, ensure_audit_rows, ensure_database, git_state, make_app, run_cases, run_from_snapshot,
    run_stock_own_schema, setup, sqlalchemy_url,
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=7, help="timed runs per request, after 1 warm-up (>= 7)")
    p.add_argument("--csv-runs", type=int, default=None, help="timed CSV runs (default: --runs)")
    p.add_argument("--reset", action="store_true", help="drop and recreate the database first")
    p.add_argument("--skip-stock", action="store_true", help="time only our views")
    p.add_argument("--skip-csv", action="store_true")
    p.add_argument("--only", default=None, help="time only the requests whose label contains this text")
    p.add_argument("--load-only", action="store_true", help="create and load the database, then stop")
    p.add_argument("--explain", action="store_true",
                   help="EXPLAIN ANALYZE the slowest statements of every request, not only the slow ones")
    p.add_argument("--results", default=str(SOURCE / "bench" / "results"), help="folder for the reports")
    p.add_argument("--no-snapshot", action="store_true",
                   help="run the checkout's code directly instead of a copy taken at the start")
    p.add_argument("--csv-worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.csv_worker:
        csv_bench.csv_worker(args)
        return
    if not args.no_snapshot and "BENCH_SNAPSHOT" not in os.environ:
        run_from_snapshot(sys.argv[1:])
    if os.environ.get("BENCH_SNAPSHOT"):
        import atexit
        atexit.register(shutil.rmtree, os.environ["BENCH_SNAPSHOT"], True)
        print(f"running a snapshot of {SOURCE} at {git_state()} (in {Path(__file__).resolve().parent.parent})",
              flush=True)

    url = sqlalchemy_url(args.database)
    ensure_database(url, args.reset)
    app = make_app(url)
    info = setup(app, args.customers, args.results)
    info["audit_rows"] = ensure_audit_rows(app)
    info["load_before"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    info["git"] = git_state()
    if args.load_only:
        return

    from app.extensions import db
    with app.app_context():
        sql = SqlLog(db.engine)
    cases, facts = build_cases(app, info)
    if args.only:
        cases = [c for c in cases if args.only.lower() in c.label.lower()]
    facts["dialect"] = info["dialect"]
    print(f"timing {len(cases)} requests, 1 warm-up + {args.runs} runs each", flush=True)
    results = run_cases(app, cases, args.runs, args.skip_stock, sql)
    own_schema = None
    if info["dialect"] == "postgresql" and not args.skip_stock:
        own_schema = run_stock_own_schema(app, cases, args.runs, sql)

    csv = None
    if not args.skip_csv:
        print("CSV export ...", flush=True)
        csv = csv_bench.run_csv(app, args, facts, args.csv_runs or args.runs)

    text, _verdicts = report.report(args, info, facts, results, csv, args.runs, own_schema)
    print()
    print(text)
    explains = report.slow_plans(app, results, args.explain)
    report.write_results(Path(args.results), f"{info['dialect']}-{info['customers']}", text, results, csv, explains)


if __name__ == "__main__":
    main()
