#!/usr/bin/env python
"""The Allocate cash screen (issue 15; targets: a customer with 1,000 open invoices opens in < 300 ms
median, 100 allocations save in < 1 s), in the database bench/run.py loads (or loads it, as run.py does):

    .venv/bin/python bench/allocation.py --database sqlite:////tmp/bench_small.db --customers 5000

One customer (the first active one from the middle by id) is given --invoices open invoices of 500.00
(zero tax, issued 800 days ago and older, so they come first on the screen), made through the services
and marked "bench-allocation" in their notes; a later run reuses them and tops them up when some were
paid off. Times, in the same run and as the same Admin, interleaved, 1 warm-up then --runs runs:

- GET /cash-allocation/<id> (the screen), beside the customer's page;
- GET /cash-allocation/<id>/oldest-first (the JSON of "Allocate oldest first") for ~--rows invoices;
- POST /cash-allocation/<id>/save of a new payment over the --rows oldest invoices (1.00 each), the
  whole form as the screen posts it (read from a fresh GET of the screen before each run, untimed),
  beside the same save with 1 row. The redirect is not followed.

Each save must answer the success redirect and write its allocations (counted before and after,
untimed). The app's due-work thread is not started (harness.make_app stops it). Prints a markdown table
(median, p90, the SQL statements of the last run, their time and the slowest, ratio to the baseline,
target), then ledger.check over the whole database (should be []).
"""
import argparse
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402

MARKER = "bench-allocation"  # the notes of the invoices made here
AMOUNT, PART = "500.00", "1.00"  # each invoice's total; what each row of a save allocates
OLDEST = 800  # days before today of the newest bench invoice (the demo data's are within 730)
SCREEN_MS, SAVE_MS = 300, 1000  # the issue's targets (medians)


# --------------------------------------------------------------------------------------------
# the customer and its invoices
# --------------------------------------------------------------------------------------------

def pick_customer(session, customers: int) -> int:
    """The first active customer from the middle by id (the same one on every run)."""
    from sqlalchemy import select

    from app.models import Customer
    middle = session.scalar(select(Customer.id).order_by(Customer.id).offset(customers // 2).limit(1))
    return session.scalar(select(Customer.id).where(Customer.id >= middle, Customer.status == "active")
                          .order_by(Customer.id).limit(1))


def bench_invoices(session, customer_id: int, open_only: bool) -> int:
    from sqlalchemy import func, select

    from app.models import Invoice
    query = select(func.count(Invoice.id)).where(Invoice.customer_id == customer_id, Invoice.notes == MARKER)
    if open_only:
        query = query.where(Invoice.status.in_(("issued", "part_paid")))
    return session.scalar(query)


def ensure_invoices(session, admin, customer_id: int, wanted: int) -> int:
    """Issue bench invoices until the customer has `wanted` open ones; returns how many were made.
    Issue dates go back a day per invoice ever made (due 14, 30 or 60 days later): days overdue vary."""
    from sqlalchemy import select

    from app.models import TaxRate
    from app.services.billing import invoices
    missing = wanted - bench_invoices(session, customer_id, open_only=True)
    made = bench_invoices(session, customer_id, open_only=False)
    rate = session.scalar(select(TaxRate.id).where(TaxRate.percent == 0).order_by(TaxRate.id).limit(1))
    if rate is None:
        sys.exit("no zero tax rate (migration 0018 adds 'Zero rate')")
    for i in range(made, made + max(missing, 0)):
        issued = date.today() - timedelta(days=OLDEST + i)
        due = issued + timedelta(days=(14, 30, 60)[i % 3])
        invoices.create_draft(session, admin, customer_id, {
            "issue_date": issued.isoformat(), "due_date": due.isoformat(), "notes": MARKER,
            "lines": [{"description": f"Bench allocation {i + 1}", "quantity": 1, "unit_price": AMOUNT,
                       "tax_rate_id": rate}]}, str(uuid.uuid4()), issue_now=True)
    return max(missing, 0)


def open_invoices(session, customer_id: int) -> int:
    from app.services.billing import payments
    return len(payments.open_invoices(session, customer_id))


def allocations(app, customer_id: int) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Allocation
    with app.app_context():
        count = db.session.scalar(select(func.count(Allocation.id)).where(Allocation.customer_id == customer_id))
        db.session.remove()
        return count


# --------------------------------------------------------------------------------------------
# the screen's form, as a browser posts it
# --------------------------------------------------------------------------------------------

class FormFields(HTMLParser):
    """The fields the form id="allocation-form" posts (unticked boxes and radios left out), in order."""

    def __init__(self):
        super().__init__()
        self.inside, self.select, self.fields = False, None, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "allocation-form":
            self.inside = True
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input" and (a.get("type") not in ("checkbox", "radio") or "checked" in a):
            self.fields.append([a["name"], a.get("value", "")])
        elif tag == "select":
            self.select = [a["name"], None]
            self.fields.append(self.select)
        elif tag == "option" and self.select is not None and (self.select[1] is None or "selected" in a):
            self.select[1] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def screen_form(client, customer_id: int) -> dict:
    page = client.get(f"/cash-allocation/{customer_id}")
    if page.status_code != 200:
        sys.exit(f"/cash-allocation/{customer_id}: {page.status_code}")
    parser = FormFields()
    parser.feed(page.get_data(as_text=True))
    return dict(parser.fields)


def filled(form: dict, rows: int, method_id: int) -> dict:
    """The form with a new payment of `rows` x PART, PART typed on each of the `rows` first (oldest) rows."""
    data = dict(form, source="new", method_id=str(method_id), reference=MARKER, amount=str(rows * Decimal(PART)))
    for i in range(rows):
        data[f"rows.{i}.amount"] = PART
    return data


# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------

@dataclass
class Request:
    """One timed request: `send(client, prepared)` timed, `prepare` (untimed) before it, `check` after."""
    label: str
    send: Callable
    prepare: Callable = lambda: None
    check: Callable = lambda response, prepared: None
    times: list = field(default_factory=list)
    statements: list = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def p90(self) -> float:
        s = sorted(self.times)
        return s[max(0, int(len(s) * 0.9 + 0.5) - 1)]


def get(url: str) -> Callable:
    def send(client, prepared):
        return client.get(url)
    return send


def ok_200(response, prepared) -> None:
    if response.status_code != 200:
        sys.exit(f"{response.request.path}: {response.status_code}")


def planned(rows: int) -> Callable:
    """The oldest-first JSON must spread the amount over `rows` invoices (the first ones at least, when
    earlier runs paid some of them)."""
    def check(response, prepared):
        ok_200(response, prepared)
        if len(response.json["rows"]) < rows:
            sys.exit(f"oldest first: {len(response.json['rows'])} rows, not {rows} or more")
    return check


def run(client, sql, requests: list[Request], runs: int) -> None:
    """1 warm-up then `runs` rounds, each request once a round (interleaved: the machine's load
    weighs alike on a figure and its baseline)."""
    for round_ in range(runs + 1):
        for req in requests:
            prepared = req.prepare()
            sql.start()
            t0 = time.perf_counter()
            response = req.send(client, prepared)
            response.get_data()
            ms = (time.perf_counter() - t0) * 1000
            statements = sql.stop()
            req.check(response, prepared)
            if round_:
                req.times.append(ms)
                req.statements = statements


def save(app, client, customer_id: int, rows: int, method_id: int, label: str) -> Request:
    """The POST of the screen's form with `rows` rows filled, checked: the success redirect, `rows` more
    allocations of the customer's."""
    def prepare():
        return allocations(app, customer_id), filled(screen_form(client, customer_id), rows, method_id)

    def send(client, prepared):
        return client.post(f"/cash-allocation/{customer_id}/save", data=prepared[1])

    def check(response, prepared):
        where = response.headers.get("Location", "")
        if response.status_code != 302 or not where.endswith(f"/cash-allocation/{customer_id}"):
            sys.exit(f"{label}: {response.status_code} {where} {response.get_data(as_text=True)[-1500:]}")
        written = allocations(app, customer_id) - prepared[0]
        if written != rows:
            sys.exit(f"{label}: {written} allocations written, not {rows}")

    return Request(label, send, prepare, check)


def slowest(statements) -> str:
    if not statements:
        return "-"
    sql_text, _, seconds = max(statements, key=lambda s: s[2])
    return f"{seconds * 1000:.1f} ms `{' '.join(sql_text.split())[:70]}`"


def row(req: Request, base: Request | None, target: float | None) -> str:
    ratio = f"{req.median / base.median:.2f}x" if base else "-"
    met = "-" if target is None else f"{'MET' if req.median < target else 'MISSED'} (< {target:,} ms)"
    return (f"| {req.label} | {req.median:.1f} | {req.p90:.1f} | {len(req.statements)} "
            f"| {sum(st[2] for st in req.statements) * 1000:.1f} | {slowest(req.statements)} "
            f"| {base.label if base else '-'} | {ratio} | {met} |")


# --------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--invoices", type=int, default=1000, help="the customer's open bench invoices")
    parser.add_argument("--rows", type=int, default=100, help="invoices a timed save allocates to")
    args = parser.parse_args()
    if not 1 <= args.rows <= args.invoices:
        sys.exit("--rows must be between 1 and --invoices")
    url = bench.sqlalchemy_url(args.database)
    bench.ensure_database(url, reset=False)
    app = bench.make_app(url)
    bench.setup(app, args.customers)

    from sqlalchemy import select

    from app.extensions import db
    from app.models import PaymentMethod, User
    from app.services.billing import ledger
    with app.app_context():
        s = db.session
        admin = s.scalar(select(User).where(User.username == bench.ADMIN))
        customer_id = pick_customer(s, args.customers)
        t0 = time.perf_counter()
        made = ensure_invoices(s, admin, customer_id, args.invoices)
        made_in = time.perf_counter() - t0
        shown = open_invoices(s, customer_id)
        method_id = s.scalar(select(PaymentMethod.id).order_by(PaymentMethod.name != "Cash", PaymentMethod.id)
                             .limit(1))
        dialect = db.engine.dialect.name
        sql = bench.SqlLog(db.engine)
        s.remove()
    print(f"{dialect}, {args.customers:,} customers, customer #{customer_id}, {args.runs} runs")
    print(f"set-up: {made:,} bench invoices issued in {made_in:.1f} s "
          f"({args.invoices - made:,} reused); {shown:,} open invoices on the screen")
    if shown > 1000:
        print(f"  (the save reads at most 1,000 rows of the form: the {shown - 1000:,} newest are not posted)")

    client = bench.html_login(app, bench.ADMIN)
    page = Request("allocation screen", get(f"/cash-allocation/{customer_id}"), check=ok_200)
    customer = Request("customer's page", get(f"/customers/show/{customer_id}"), check=ok_200)
    oldest = Request(f"oldest first, {args.rows} x {AMOUNT} (JSON)",
                     get(f"/cash-allocation/{customer_id}/oldest-first?amount={args.rows * Decimal(AMOUNT)}"),
                     check=planned(args.rows))
    many = save(app, client, customer_id, args.rows, method_id, f"save {args.rows} allocations")
    one = save(app, client, customer_id, 1, method_id, "save 1 allocation")
    t0 = time.perf_counter()
    run(client, sql, [page, customer, oldest, many, one], args.runs)
    print(f"timed in {time.perf_counter() - t0:.1f} s (with the untimed screen reads before each save)\n")
    print("| request | median ms | p90 ms | statements | their ms | slowest statement (last run) | baseline | ratio "
          "| target |")
    print("|---|---:|---:|---:|---:|---|---|---:|---|")
    for req, base, target in ((page, customer, SCREEN_MS), (customer, None, None), (oldest, customer, None),
                              (many, one, SAVE_MS), (one, None, None)):
        print(row(req, base, target))

    with app.app_context():
        t0 = time.perf_counter()
        differences = ledger.check(db.session)
        print(f"\nledger.check: {differences!r} ({time.perf_counter() - t0:.1f} s)")
        db.session.remove()


if __name__ == "__main__":
    main()
