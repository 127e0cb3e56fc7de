#!/usr/bin/env python
"""The monthly billing run (issue 17; target: at 1,000,000 customers with about 1,500,000 active services
on PostgreSQL the run writes its invoices, lines and ledger entries in < 5 minutes, and a second run the
same day writes nothing in < 30 s), on the database bench/run.py loads:

    .venv/bin/python bench/billing.py --database postgresql://postgres@127.0.0.1:5432/bench_customers \
        --customers 1000000 --services 1500000

1. Untimed: services added (one each, to customers picked evenly) until about --services have a next
   billing date, every one of them made due (its date moved one cycle back, never after today: one
   period each), VACUUM ANALYZE.
2. Timed: recurring.run(today) (the first run: claims, invoices, lines, ledger entries, balances, the
   services moved on, audit entries; e-mails only with --email), then the same run again (nothing left
   due: the selection's cost). Invoices per second; ledger.check over the database (untimed) must find
   nothing.
3. Everything it added is removed (invoices, lines, ledger entries, periods, messages, audit entries,
   billing runs, the services it added), the balances, the invoice sequence and the services' dates
   put back: the database is left as it was.
"""
import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402

ADDED = "Bench billing line"  # the name of the services the set-up adds (removed at the end)
SAVED = "bench_billing_saved"  # the services' dates before the set-up (a table of its own, dropped at the end)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=1_000_000, help="the database's size (bench/run.py loads it)")
    p.add_argument("--services", type=int, default=None, help="services with a billing date (default 1.5 a customer)")
    p.add_argument("--email", action="store_true", help="billing_email on: each invoice's e-mail written too")
    p.add_argument("--profile", action="store_true", help="cProfile the first run (the 30 costliest calls)")
    p.add_argument("--chunk", type=int, default=None, help="customers a transaction (default recurring.CHUNK)")
    p.add_argument("--lanes", type=int, default=None, help="connections billing at once (default recurring.LANES)")
    p.add_argument("--sql", action="store_true", help="the first run's statements: seconds by statement (not COPY)")
    p.add_argument("--keep", action="store_true", help="leave what the run wrote (to EXPLAIN it); put back by a run without")
    args = p.parse_args()
    wanted = args.services if args.services is not None else args.customers * 3 // 2

    url = bench.sqlalchemy_url(args.database)
    bench.ensure_database(args.database, reset=False)
    app = bench.make_app(url, REDIS_URL="redis://127.0.0.1:6379/14", RQ_QUEUE="bench-billing")
    bench.setup(app, args.customers)

    from sqlalchemy import func, select, text

    from app.extensions import db
    from app.models import CompanySettings, CustomerService, Invoice
    from app.services.billing import ledger, recurring

    today = date.today()
    with app.app_context():
        s = db.session
        if s.execute(text("SELECT to_regclass(:t)"), {"t": SAVED}).scalar() is not None:
            print("a set-up left by an earlier run: putting it back first")
            _put_back(s)
        begun = s.scalar(select(func.now()))
        before = _fingerprint(s)
        t0 = time.perf_counter()
        added = _set_up(s, today, wanted)
        settings = s.get(CompanySettings, 1) or CompanySettings(id=1)
        s.add(settings)
        was_email = settings.billing_email
        settings.billing_email = args.email
        s.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("service", "customer", "service_period", "invoice", "invoice_line", "ledger_entry"):
                conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
        due = s.scalar(select(func.count()).select_from(CustomerService)
                       .where(CustomerService.next_billing_on <= today))
        print(f"set-up: {added:,} services added, {due:,} due in {time.perf_counter() - t0:.1f} s (VACUUM ANALYZE of the tables it writes included)")
        try:
            timed = _time_statements(db.engine) if args.sql else None
            with bench.profiled(args.profile, 30):
                t0, c0 = time.perf_counter(), time.process_time()
                first = recurring.run(s, today, None, app.config, chunk=args.chunk or recurring.CHUNK,
                                      lanes=args.lanes or recurring.LANES)
                t_first, c_first = time.perf_counter() - t0, time.process_time() - c0
            if timed is not None:
                timed.pop("off")()
                for what, (seconds, count) in sorted(timed.items(), key=lambda kv: -kv[1][0])[:15]:
                    print(f"  {seconds:6.1f} s {count:6} x {what}")
            t0 = time.perf_counter()
            second = recurring.run(s, today, None, app.config)
            t_second = time.perf_counter() - t0
            written = s.scalar(select(func.count()).select_from(Invoice).where(Invoice.created_at >= begun))
            print(f"first run: {t_first:.1f} s ({c_first:.1f} s of it this process's CPU): {first.invoices:,} invoices, {first.lines:,} lines, "
                  f"skipped {first.skipped}")
            print(f"second run: {t_second:.1f} s: {second.invoices:,} invoices")
            print(f"{first.invoices / t_first:.0f} invoices/s ({first.lines / t_first:.0f} lines/s); "
                  f"first run < 300 s: {'met' if t_first < 300 else 'MISSED'}; "
                  f"second run < 30 s: {'met' if t_second < 30 else 'MISSED'}; invoices in the database {written:,}")
            t0 = time.perf_counter()
            differences = ledger.check(s)
            print(f"ledger check: {len(differences)} differences in {time.perf_counter() - t0:.1f} s "
                  f"{differences[:5] if differences else ''}")
        finally:
            s.rollback()
            settings = s.get(CompanySettings, 1)
            settings.billing_email = was_email
            s.commit()
            if not args.keep:
                t0 = time.perf_counter()
                _put_back(s)
                after = _fingerprint(s)
                print(f"put back in {time.perf_counter() - t0:.1f} s; "
                      f"{'as it was' if after == before else f'NOT as it was: {before} -> {after}'}")


def _fingerprint(s) -> tuple:
    """Counts and sums the run and the set-up change: equal before and after, the database is as it was."""
    from sqlalchemy import text
    return tuple(s.execute(text(
        "SELECT (SELECT count(*) FROM invoice), (SELECT count(*) FROM invoice_line), (SELECT count(*) FROM ledger_entry), "
        "(SELECT count(*) FROM message), (SELECT count(*) FROM audit_entry), (SELECT count(*) FROM service_period), "
        "(SELECT count(*) FROM billing_run), (SELECT sum(balance) FROM customer), "
        "(SELECT sum(abs(hashtext(id::text || coalesce(balance::text, ''))::bigint)) FROM customer), "
        "(SELECT sum(abs(hashtext(customer_id::text || balance::text)::bigint)) FROM customer_balance), "
        "(SELECT count(*) FROM service), "
        "(SELECT sum(abs(hashtext(id::text || coalesce(next_billing_on::text, ''))::bigint)) FROM service), "
        "(SELECT next_number FROM document_sequence WHERE kind = 'invoice')")).one())


def _time_statements(engine) -> dict:
    """{statement's first 90 characters: [seconds, count]} for the statements run from now on; "off" stops it."""
    from sqlalchemy import event
    found: dict = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        entry = found.setdefault(" ".join(statement.split())[:90], [0.0, 0])
        entry[0] += time.perf_counter() - conn.info.pop("bench_t0")
        entry[1] += 1

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    found["off"] = lambda: (event.remove(engine, "before_cursor_execute", before),
                            event.remove(engine, "after_cursor_execute", after))
    return found


def _set_up(s, today: date, wanted: int) -> int:
    """The services' dates saved, services added up to `wanted` with a date, all made due; committed."""
    from sqlalchemy import text
    s.execute(text(f"CREATE TABLE {SAVED} AS SELECT id, next_billing_on FROM service WHERE next_billing_on IS NOT NULL"))
    s.execute(text(f"CREATE TABLE {SAVED}_run AS SELECT coalesce(max(id), 0) AS last_run, "
                   "(SELECT coalesce(max(id), 0) FROM invoice) AS last_invoice, "
                   "(SELECT coalesce(max(id), 0) FROM audit_entry) AS last_audit, "
                   "(SELECT coalesce(max(id), 0) FROM message) AS last_message, "
                   "(SELECT next_number FROM document_sequence WHERE kind = 'invoice') AS next_number "
                   "FROM billing_run"))
    have = s.execute(text(f"SELECT count(*) FROM {SAVED}")).scalar()
    customers = s.execute(text("SELECT count(*) FROM customer")).scalar()
    per_thousand = max(0, min(1000, round((wanted - have) * 1000 / max(customers, 1))))
    added = s.execute(text(
        "INSERT INTO service (customer_id, name, price, billing_cycle, status, suspended_by_disable, started_on, "
        "created_at, next_billing_on, billing_day, ends_on) "
        "SELECT id, :name, 19.50, 'monthly', 'active', false, :today - 400, now(), :today, "
        "extract(day FROM :today)::int, NULL FROM customer WHERE (id::bigint * 7919) % 1000 < :k"),
        {"name": ADDED, "today": today, "k": per_thousand}).rowcount
    s.execute(text(
        "UPDATE service SET next_billing_on = least(:today, greatest(started_on, next_billing_on - CASE billing_cycle "
        "WHEN 'monthly' THEN interval '1 month' WHEN 'quarterly' THEN interval '3 months' "
        "WHEN 'annually' THEN interval '1 year' ELSE interval '0 days' END)::date) "
        "WHERE next_billing_on > :today"), {"today": today})
    s.commit()
    return added


def _put_back(s) -> None:
    """Remove what the set-up and the runs added; the balances, sequence and dates as they were."""
    from sqlalchemy import text
    last = s.execute(text(f"SELECT * FROM {SAVED}_run")).mappings().one()
    steps = [
        ("CREATE TEMP TABLE bench_moved AS SELECT customer_id, sum(amount) AS amount FROM ledger_entry "
         "WHERE source_table = 'invoice' AND source_id > :inv GROUP BY customer_id"),
        "UPDATE customer c SET balance = c.balance - m.amount FROM bench_moved m WHERE c.id = m.customer_id",
        # and the balance's copy the sort by balance walks, as the ledger moves it
        "UPDATE customer_balance b SET balance = b.balance - m.amount FROM bench_moved m WHERE b.customer_id = m.customer_id",
        # Every row that refers to them is gone first: no foreign key to check (service_period.invoice_line_id
        # and others have no index: checking them row by row took minutes at 20,000 customers).
        "SET LOCAL session_replication_role = replica",
        "DELETE FROM ledger_entry WHERE source_table = 'invoice' AND source_id > :inv",
        "DELETE FROM message WHERE id > :msg",
        "DELETE FROM service_period WHERE run_id > :run OR invoice_id > :inv",
        "DELETE FROM invoice_line WHERE invoice_id > :inv",
        "DELETE FROM invoice WHERE id > :inv",
        "DELETE FROM audit_entry WHERE id > :aud",
        "DELETE FROM billing_run WHERE id > :run",
        "UPDATE document_sequence SET next_number = :num WHERE kind = 'invoice'",
        "SET LOCAL session_replication_role = origin",
        f"DELETE FROM service WHERE name = '{ADDED}'",
        f"UPDATE service SET next_billing_on = b.next_billing_on FROM {SAVED} b "
        "WHERE service.id = b.id AND service.next_billing_on IS DISTINCT FROM b.next_billing_on",
        f"DROP TABLE {SAVED}_run",
        f"DROP TABLE {SAVED}",
        "DROP TABLE bench_moved",
    ]
    allocations = s.execute(text("SELECT count(*) FROM allocation WHERE invoice_id > :inv"),
                            {"inv": last["last_invoice"]}).scalar()
    if allocations:
        sys.exit(f"{allocations} allocations of credit to the run's invoices: not put back (the bench expects none)")
    params = {"inv": last["last_invoice"], "msg": last["last_message"], "run": last["last_run"],
              "aud": last["last_audit"], "num": last["next_number"]}
    for step in steps:
        t0 = time.perf_counter()
        s.execute(text(step), {k: v for k, v in params.items() if f":{k}" in step})
        print(f"  {time.perf_counter() - t0:6.1f} s {step[:70]}")
    s.commit()
    # The balances moved twice (a row version each time): the list's sort by balance plans on fresh
    # statistics of customer_balance, not on three times its rows.
    with s.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("customer", "customer_balance"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


if __name__ == "__main__":
    main()
