#!/usr/bin/env python
"""A statement's PDF at 250 to 4,000 lines (issue 16; target: 1,000 lines < 2 s, the time linear in
the lines), both kinds, beside the naive layout in the same run:

    .venv/bin/python bench/statement_pdf.py                      # SQLite in /tmp, 3 runs per size
    .venv/bin/python bench/statement_pdf.py --runs 5 --sizes 250,1000,4000
    .venv/bin/python bench/statement_pdf.py --sweep 1,3,6,10,20  # lines per band, at 1,000 lines

Ours: services/billing/statement_documents.pdf's render (lines in bands of BAND per table row, the
page count guessed and made again only if wrong, the cycle collector held off). The baseline: the
same template and lines with one table row per line in one table, the collector on, made once
("Page n of 1": the naive layout's time without a second pass for the count). The statements are
made here (Statement records, as services/billing/statements builds them): no customer data is
read, only the company's settings, in a small database of its own.

Prints, per kind and size: the median seconds (and CPU seconds) of ours and of the baseline,
seconds per 1,000 lines, their ratio, the pages, and time(4,000)/time(1,000) (4 when linear).
"""
import argparse
import gc
import os
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402

SIZES = (250, 500, 1000, 2000, 4000)


def activity_statement(n: int):
    """An activity statement of `n` lines: invoices, card payments and allocations in turn."""
    from app.services.billing.statements import Ageing, Statement, StatementLine
    start, balance, lines = date(2023, 1, 1), Decimal("250.00"), []
    for i in range(n):
        on = start + timedelta(days=i // 6)
        if i % 3 == 0:
            amount, kind, ref, words = Decimal("129.99"), "invoice", f"INV-{10000 + i}", f"Invoice INV-{10000 + i}"
        elif i % 3 == 1:
            amount, kind, ref, words = Decimal("-97.25"), "payment", f"CARD-{i:06d}", "Payment by card"
        else:
            ref = f"INV-{10000 + i - 2}"
            amount, kind, words = Decimal(0), "allocation", f"Allocated to {ref}"
        balance += amount
        lines.append(StatementLine(on=on, kind=kind, reference=ref, description=words, amount=amount, balance=balance))
    end = lines[-1].on if lines else start
    ageing = Ageing(as_at=end, buckets=(balance + 40, Decimal(0), Decimal(0), Decimal(0), Decimal(0)),
                    credit=Decimal(40))
    return Statement(kind="activity", customer_id=1, customer_name="Bench Customer Ltd", currency="GBP",
                     billing_address="Accounts payable\nBench Customer Ltd\n1 Long Road\nLeeds LS1 1AA", as_at=end,
                     ageing=ageing, closing_balance=balance, lines=lines, start=start,
                     opening_balance=Decimal("250.00"))


def outstanding_statement(n: int):
    """An outstanding statement of `n` unpaid invoices (a quarter part-paid) and two credits."""
    from app.services.billing.statements import Ageing, Statement, StatementLine
    as_at, buckets, lines = date(2024, 6, 30), [Decimal(0)] * 5, []
    for i in range(n):
        on = as_at - timedelta(days=(n - i) // 4)
        due = on + timedelta(days=30)
        overdue = (as_at - due).days
        outstanding = Decimal("129.99") if i % 4 else Decimal("30.00")
        buckets[0 if overdue <= 0 else 1 if overdue <= 30 else 2 if overdue <= 60 else 3 if overdue <= 90 else 4] \
            += outstanding
        lines.append(StatementLine(on=on, kind="invoice", reference=f"INV-{10000 + i}",
                                   description=f"Invoice INV-{10000 + i}", due_on=due, total=Decimal("129.99"),
                                   outstanding=outstanding, days_overdue=max(overdue, 0)))
    credits = [StatementLine(on=as_at - timedelta(days=d), kind="payment", reference=f"BACS-{d}",
                             description="Payment by bank transfer", amount=Decimal("-50.00"), total=Decimal("80.00"),
                             outstanding=Decimal("50.00")) for d in (3, 9)]
    ageing = Ageing(as_at=as_at, buckets=tuple(buckets), credit=Decimal("100.00"))
    return Statement(kind="outstanding", customer_id=1, customer_name="Bench Customer Ltd", currency="GBP",
                     billing_address="Accounts payable\nBench Customer Ltd\n1 Long Road\nLeeds LS1 1AA", as_at=as_at,
                     ageing=ageing, closing_balance=ageing.total, lines=lines, credits=credits)


STATEMENTS = {"outstanding": outstanding_statement, "activity": activity_statement}


def timed(fn, runs: int) -> tuple[float, float, bytes]:
    """(median wall s, median CPU s, the last result) of `runs` calls, each after a full collection."""
    walls, cpus, out = [], [], b""
    for _ in range(runs):
        gc.collect()
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def ours(session, statement, **layout):
    from app.services.billing import statement_documents as sd
    return lambda: sd.render(sd.document(session, statement, {}, **layout))


def naive(session, statement):
    """One table row per line in one table, the collector on, made once."""
    from app.services.billing import documents
    from app.services.billing import statement_documents as sd
    return lambda: documents.render_pdf(sd.statement_html(session, statement, {}, 1, band=1, rows_per_table=0,
                                                          plain=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite:////tmp/bench_statement_pdf.db")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--kinds", default="outstanding,activity")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size, after one warm-up render")
    parser.add_argument("--baseline-runs", type=int, default=1, help="the naive layout's runs (it is slow)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--sweep", help="lines per band to compare at --sweep-lines (e.g. 1,3,6,10,20)")
    parser.add_argument("--sweep-lines", type=int, default=1000)
    parser.add_argument("--rows-per-table", type=int, default=None, help="bands per table (0: one table)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = args.kinds.split(",")
    url = bench.sqlalchemy_url(args.database)
    bench.ensure_database(url, reset=False)
    app = bench.make_app(url)

    from flask_migrate import upgrade

    from app.extensions import db
    from app.models import CompanySettings
    from app.services.billing import documents
    from app.services.billing import statement_documents as sd
    with app.app_context():
        upgrade()
        db.session.merge(CompanySettings(id=1, company_name="Bench Cleaning Ltd", company_address="1 High St\nLeeds",
                                         tax_number="GB123456789", bank_details="Sort code 00-11-22, account 12345678"))
        db.session.commit()
        session = db.session
        layout = {} if args.rows_per_table is None else {"rows_per_table": args.rows_per_table}
        ours(session, STATEMENTS["activity"](50), **layout)()  # warm-up: imports, fonts, template
        print(f"{db.engine.dialect.name}; BAND={sd.BAND} lines per row, ROWS_PER_TABLE={sd.ROWS_PER_TABLE}; "
              f"{args.runs} runs (baseline {args.baseline_runs}); medians in seconds (CPU seconds)")
        if args.sweep:
            print(f"\n| kind | lines per band | s at {args.sweep_lines:,} lines | CPU s | pages |\n"
                  "|---|---|---|---|---|")
            for kind in kinds:
                statement = STATEMENTS[kind](args.sweep_lines)
                for band in (int(b) for b in args.sweep.split(",")):
                    wall, cpu, pdf = timed(ours(session, statement, band=band, **layout), args.runs)
                    print(f"| {kind} | {band} | {wall:.2f} | {cpu:.2f} | {documents.page_count(pdf)} |", flush=True)
            return
        for kind in kinds:
            print(f"\n{kind}\n| lines | ours s | CPU s | s per 1,000 lines | pages | baseline s | CPU s "
                  f"| s per 1,000 lines | baseline / ours |\n|---|---|---|---|---|---|---|---|---|")
            walls = {}
            for n in sizes:
                statement = STATEMENTS[kind](n)
                wall, cpu, pdf = timed(ours(session, statement, **layout), args.runs)
                walls[n] = wall
                row = f"| {n:,} | {wall:.2f} | {cpu:.2f} | {wall / n * 1000:.2f} | {documents.page_count(pdf)} |"
                if args.skip_baseline:
                    row += " | | | |"
                else:
                    base, base_cpu, _ = timed(naive(session, statement), args.baseline_runs)
                    row += f" {base:.2f} | {base_cpu:.2f} | {base / n * 1000:.2f} | {base / wall:.1f}x |"
                print(row, flush=True)
            if 1000 in walls and 4000 in walls:
                print(f"time(4,000) / time(1,000): {walls[4000] / walls[1000]:.2f} (4.00 when linear); "
                      f"1,000 lines: {walls[1000]:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
