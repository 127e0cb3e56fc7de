#!/usr/bin/env python
"""Money at scale (issue 13), in the database bench/run.py loaded (whose `flask seed` made about three
invoices a customer, their payments, allocations and ledger entries):

    .venv/bin/python bench/money.py --database postgresql://postgres@127.0.0.1:5432/bench_customers \
        --customers 1000000

- the Finances tab of a customer with 2,000 invoices (and 1,000 payments), each sub-tab, against a
  typical seeded customer's in the same run (target: < 200 ms median on every sub-tab);
- recording a payment over HTTP (POST /invoices/<id>/pay; target < 50 ms median), against adding a
  note over HTTP (a plain one-row write of the same app) as the baseline;
- a one-page invoice PDF (target < 0.2 s), against the invoice's page;
- `flask ledger check` over the whole database (target < 60 s), against one plain pass that sums
  the ledger per customer;
- the invoices and aged receivables CSVs (every row, streamed), against `psql \\copy` of the
  export's own statement, with the memory the process grows by while streaming (`--csv-only`: these
  alone, no bench customer made);
- the invoice, payment, credit and FX lists: first page, page 2000 and searches, each beside the
  customer list's same request (target < 40 ms median; `--lists-only`: these alone).

The big customer ("Bench Finances") is made for the run through the services and removed after it.
"""
import argparse
import os
import re
import statistics
import sys
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402

INVOICES, PAYMENTS = 2000, 1000
SUBTABS = ("invoices", "payments", "credits", "ledger")
NOTE_URL = "/customers/show/{}/notes"
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def make_big_customer(session, admin) -> int:
    """A customer with INVOICES issued invoices and PAYMENTS payments, through the services."""
    from sqlalchemy import select

    from app.models import Customer, PaymentMethod, TaxRate
    from app.services.billing import invoices, payments
    from app.services.customers.create import create_customer
    customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Bench",
                                                "surname": "Finances", "currency": "GBP"})
    rate = session.scalar(select(TaxRate.id).where(TaxRate.is_default.is_(True)))
    cash = session.scalar(select(PaymentMethod.id).order_by(PaymentMethod.id).limit(1))
    made = []
    for i in range(INVOICES):
        made.append(invoices.charge(session, admin, customer.id, {
            "description": f"Monthly service {i}", "amount": f"{20 + i % 50}.00", "tax_rate_id": rate},
            str(uuid.uuid4())).id)
    for invoice_id in made[:PAYMENTS]:
        payments.record_payment(session, admin, invoice_id, {"amount": "10.00", "method_id": cash}, str(uuid.uuid4()))
    session.commit()
    assert session.get(Customer, customer.id) is not None
    return customer.id


def timed_get(client, url: str, runs: int) -> float:
    r = client.get(url)
    if r.status_code != 200:
        sys.exit(f"{url}: {r.status_code}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        client.get(url).get_data()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def post_once(client, form_url: str, post_url: str, data: dict) -> float:
    """POST a form once with the fresh key of its page (the GET is not timed); milliseconds."""
    page = client.get(form_url).get_data(as_text=True)
    key, csrf = FORM_KEY.search(page), CSRF.search(page)
    sent = {**data, "csrf_token": csrf.group(1) or csrf.group(2)}
    if key:
        sent["form_key"] = key.group(1)
    t0 = time.perf_counter()
    r = client.post(post_url, data=sent)
    elapsed = (time.perf_counter() - t0) * 1000
    if r.status_code != 302:
        sys.exit(f"POST {post_url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
    return elapsed


CSV_DOWNLOADS = (("invoices CSV", "/invoices/export.csv"),
                 ("aged receivables CSV", "/receivables/aged.csv"))


def money_csv(app, args) -> None:
    """Each money download (every row, streamed to the end over HTTP) against `psql \\copy` of the
    same statement, taken from the app (bench/csv_bench.export_sql), run by run interleaved; and the
    process's resident memory while it streams (peak minus before: flat means it does not grow with
    the rows)."""
    import subprocess

    from bench.csv_bench import baseline_command, export_sql, reset_peak_rss, rss_kb
    dialect = "postgresql" if args.database.startswith("postgres") else "sqlite"
    client = bench.html_login(app, bench.ADMIN)
    print(f"| download | median s | baseline: psql \\copy of the same rows, s | ratio | memory growth MB | target |")
    print("|---|---:|---:|---:|---:|---|")
    for label, url in CSV_DOWNLOADS:
        cmd, _tool = baseline_command(args, dialect, export_sql(app, url) or "")
        ours, theirs, growth, rows = [], [], [], 0
        for _ in range(args.runs + 1):  # the first warms up
            before = rss_kb()
            reset = reset_peak_rss()
            t0 = time.perf_counter()
            r = client.get(url, buffered=False)
            rows = sum(chunk.count(b"\n") for chunk in r.response) - 1
            r.close()
            ours.append(time.perf_counter() - t0)
            growth.append((rss_kb("VmHWM") if reset else rss_kb()) - before)
            if cmd:
                t0 = time.perf_counter()
                subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
                theirs.append(time.perf_counter() - t0)
        our_s, their_s = statistics.median(ours[1:]), statistics.median(theirs[1:]) if theirs else 0.0
        met = their_s and our_s <= 3 * their_s
        print(f"| {label} ({rows:,} rows) | {our_s:.2f} | {their_s:.2f} | {ratio(our_s, their_s)} | "
              f"{max(growth[1:]) / 1024:.1f} | within 3x: {'met' if met else 'MISSED'} |")
    print()


def money_lists(app, args) -> None:
    """The money lists' first page, a deep page and a search, each beside the customer list's same
    request in the same run (the baseline: issue 14 asks the customer list's figures, < 40 ms)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Invoice, Payment
    with app.app_context():
        number = db.session.scalar(select(Invoice.number).where(Invoice.number.is_not(None))
                                   .order_by(Invoice.id).offset(1_000_000).limit(1)) or "INV-1"
        reference = db.session.scalar(select(Payment.reference).where(Payment.reference.is_not(None))
                                      .order_by(Payment.id).offset(500_000).limit(1)) or "x"
    client = bench.html_login(app, bench.ADMIN)
    deep = 2000
    customers = {"first page": "/customers/list/", f"page {deep}": f"/customers/list/?page_CustomerView={deep}",
                 "search": "/customers/list/?_flt_0_name=smith"}
    lists = {
        "Invoices": ("InvoiceView", "/invoices/list/", [("customer contains smith", "_flt_0_customer=smith"),
                                                       (f"number is {number}", f"_flt_1_number={number}")]),
        "Payments": ("PaymentView", "/payments/list/", [("customer contains smith", "_flt_0_customer=smith"),
                                                       ("reference contains", f"_flt_0_reference={reference}")]),
        "Credits": ("CreditView", "/credits/list/", [("customer contains smith", "_flt_0_customer=smith")]),
        "FX rates": ("FxRateView", "/fx-rates/list/", [("from currency EUR", "_flt_0_from_currency=EUR")]),
    }
    base = {what: timed_get(client, url, args.runs) for what, url in customers.items()}
    print("| list | request | median ms | customer list, same request, ms | ratio | < 40 ms |")
    print("|---|---|---:|---:|---:|---|")
    missed = []
    for name, (view, url, searches) in lists.items():
        requests = [("first page", url, base["first page"]),
                    (f"page {deep}", f"{url}?page_{view}={deep}", base[f"page {deep}"])]
        requests += [(what, f"{url}?{query}", base["search"]) for what, query in searches]
        for what, request_url, baseline in requests:
            ms = timed_get(client, request_url, args.runs)
            if ms >= 40:
                missed.append(f"{name} {what}")
            print(f"| {name} | {what} | {ms:.1f} | {baseline:.1f} | {ratio(ms, baseline)} | "
                  f"{'met' if ms < 40 else 'MISSED'} |")
    print(f"\nmoney lists: {'every median under 40 ms' if not missed else 'MISSED: ' + ', '.join(missed)}\n")
    report = timed_get(client, "/receivables/", args.runs)
    aged = timed_get(client, f"/receivables/?as_of={date.today().isoformat()}", max(3, args.runs // 3))
    print("| report | median ms | baseline: the customer list's first page, ms | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| Receivables page (per currency, base currency at stored and today's rates) | {report:.1f} | "
          f"{base['first page']:.1f} | {ratio(report, base['first page'])} |")
    print(f"| Receivables page with the aged totals as of today | {aged:.1f} | {base['first page']:.1f} | "
          f"{ratio(aged, base['first page'])} |\n")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--csv-only", action="store_true", help="only the money CSVs against psql \\copy")
    p.add_argument("--lists-only", action="store_true", help="only the money lists beside the customer list")
    args = p.parse_args()
    app = bench.make_app(bench.sqlalchemy_url(args.database))
    bench.setup(app, args.customers)
    if args.csv_only or args.lists_only:
        money_csv(app, args) if args.csv_only else money_lists(app, args)
        return
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Invoice, LedgerEntry, PaymentMethod, User
    from app.services.billing import ledger
    with app.app_context():
        s = db.session
        admin = s.scalar(select(User).where(User.username == bench.ADMIN))
        t0 = time.perf_counter()
        big = make_big_customer(s, admin)
        made_in = time.perf_counter() - t0
        typical = s.scalar(select(Invoice.customer_id).where(Invoice.customer_id != big)
                           .group_by(Invoice.customer_id).having(func.count() >= 3).limit(1))
        open_ids = list(s.scalars(select(Invoice.id).where(Invoice.customer_id == big, Invoice.status == "issued")
                                  .order_by(Invoice.id).limit(args.runs + 2)))
        one_invoice = open_ids[0]
        cash = s.scalar(select(PaymentMethod.id).order_by(PaymentMethod.id).limit(1))
    try:
        client = bench.html_login(app, bench.ADMIN)
        print(f"customer #{big}: {INVOICES:,} invoices and {PAYMENTS:,} payments (made in {made_in:.0f} s); "
              f"baseline: a typical seeded customer, #{typical}")
        print()
        print("| Finances sub-tab | 2,000-invoice customer med ms | typical customer med ms | ratio |")
        print("|---|---:|---:|---:|")
        worst = 0.0
        for sub in SUBTABS:
            big_ms = timed_get(client, f"/customers/show/{big}?tab=finances&sub={sub}", args.runs)
            base_ms = timed_get(client, f"/customers/show/{typical}?tab=finances&sub={sub}", args.runs)
            worst = max(worst, big_ms)
            print(f"| {sub} | {big_ms:.1f} | {base_ms:.1f} | {ratio(big_ms, base_ms)} |")
        print(f"\nslowest sub-tab median: {worst:.1f} ms (target < 200 ms): {'MET' if worst < 200 else 'MISSED'}\n")

        pays = [post_once(client, f"/invoices/{i}/pay", f"/invoices/{i}/pay",
                          {"amount": "5.00", "method_id": str(cash)}) for i in open_ids[:args.runs + 1]]
        notes = [post_once(client, f"/customers/show/{big}?tab=notes", NOTE_URL.format(big), {"body": "A bench note"})
                 for _ in range(args.runs + 1)]
        pay_ms, note_ms = statistics.median(pays[1:]), statistics.median(notes[1:])  # the first warms up
        print("| write over HTTP | median ms | baseline: add a note, ms | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| record a payment | {pay_ms:.1f} | {note_ms:.1f} | {ratio(pay_ms, note_ms)} |")
        print(f"\nrecord a payment median: {pay_ms:.1f} ms (target < 50 ms): {'MET' if pay_ms < 50 else 'MISSED'}\n")

        money_csv(app, args)
        money_lists(app, args)

        pdf_ms = timed_get(client, f"/invoices/{one_invoice}/pdf", args.runs)
        page_ms = timed_get(client, f"/invoices/show/{one_invoice}", args.runs)
        print("| document | median ms | baseline: the invoice's page, ms | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| one-page invoice PDF | {pdf_ms:.1f} | {page_ms:.1f} | {ratio(pdf_ms, page_ms)} |")
        print(f"\nPDF median: {pdf_ms:.1f} ms (target < 200 ms): {'MET' if pdf_ms < 200 else 'MISSED'}\n")

        with app.app_context():
            s = db.session
            entries = s.scalar(select(func.count()).select_from(LedgerEntry))
            t0 = time.perf_counter()
            s.execute(select(LedgerEntry.customer_id, func.sum(LedgerEntry.amount))
                      .group_by(LedgerEntry.customer_id)).all()
            plain_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            differences = ledger.check(s)
            check_s = time.perf_counter() - t0
            s.rollback()
        print("| check | seconds | baseline: one pass summing the ledger per customer, s | ratio |")
        print("|---|---:|---:|---:|")
        print(f"| flask ledger check ({entries:,} entries) | {check_s:.1f} | {plain_s:.1f} | {ratio(check_s, plain_s)} |")
        print(f"\nledger check: {check_s:.1f} s (target < 60 s): {'MET' if check_s < 60 else 'MISSED'}; "
              f"{len(differences)} differences")
    finally:
        with app.app_context():
            remove(db.session, big)


def remove(session, customer_id: int) -> None:
    """The bench customer and its money (the database keeps its size for bench/run.py)."""
    from sqlalchemy import delete

    from app.models import (Adjustment, Allocation, AuditEntry, Customer, Invoice, LedgerEntry, Note, Payment,
                            Release)
    from app.models.comms import Message
    for model in (LedgerEntry, Allocation, Release, Adjustment, Payment, Invoice, Note, AuditEntry, Message):
        session.execute(delete(model).where(model.customer_id == customer_id))
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.commit()


if __name__ == "__main__":
    main()
