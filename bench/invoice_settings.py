#!/usr/bin/env python
"""The Invoice settings screen's live preview (issue 15; target < 50 ms median), in the database bench/run.py
loads (or loads it, as run.py does):

    .venv/bin/python bench/invoice_settings.py --database sqlite:////tmp/bench_small.db --customers 5000

Times, in the same run and as the same Admin: GET /invoice-settings/<id>/preview?template=... (the JSON the
box asks as one types) against the customer's page (its Details tab) and the Invoice settings screen, and
counts the SQL statements of each request and of the service call alone (address_format.preview: one, two
with the company's format).
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402

TEMPLATE = "[contact_name] c/o [customer_name], [address_line_1], [town], [postcode]"


def timed(client, sql, url: str, runs: int) -> tuple[float, float, int]:
    """(median ms, p90 ms, statements of the last run) of GET `url` after one warm-up."""
    r = client.get(url)
    if r.status_code != 200:
        sys.exit(f"{url}: {r.status_code}")
    times = []
    for _ in range(runs):
        sql.start()
        t0 = time.perf_counter()
        client.get(url).get_data()
        times.append((time.perf_counter() - t0) * 1000)
        statements = len(sql.stop())
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.9 + 0.5) - 1)], statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    url = bench.sqlalchemy_url(args.database)
    bench.ensure_database(url, reset=False)
    app = bench.make_app(url)
    bench.setup(app, args.customers)

    from sqlalchemy import select

    from app.extensions import db
    from app.models import Address, Customer, User
    from app.services.billing import address_format
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).join(Address, Address.customer_id == Customer.id)
                                        .where(Address.kind == "billing").order_by(Customer.id)
                                        .offset(args.customers // 2).limit(1))
        admin = db.session.scalar(select(User).where(User.username == bench.ADMIN))
        sql = bench.SqlLog(db.engine)
        sql.start()
        text = address_format.preview(db.session, admin, customer_id, TEMPLATE)
        service_statements = len(sql.stop())
        dialect = db.engine.dialect.name
        db.session.remove()
    client = bench.html_login(app, bench.ADMIN)
    preview = f"/invoice-settings/{customer_id}/preview?template={TEMPLATE}"
    rows = [("preview (JSON)", preview), ("customer's page (baseline)", f"/customers/show/{customer_id}"),
            ("Invoice settings screen", f"/invoice-settings/{customer_id}")]
    print(f"{dialect}, {args.customers:,} customers, customer #{customer_id}, {args.runs} runs")
    print(f"preview text: {text!r}; service alone: {service_statements} statement(s)")
    print("| request | median ms | p90 ms | statements |\n|---|---|---|---|")
    for label, target in rows:
        median, p90, statements = timed(client, sql, target, args.runs)
        print(f"| {label} | {median:.1f} | {p90:.1f} | {statements} |")


if __name__ == "__main__":
    main()
