#!/usr/bin/env python
"""The customer's page at scale (issue 4): one customer with 50 contacts, 200 addresses,
1,000 notes and 5,000 audit rows, in the database bench/run.py loaded.

    .venv/bin/python bench/profile.py --database postgresql://postgres@127.0.0.1:5432/bench_customers \
        --customers 1000000

Times GET /customers/show/<id>?tab=<tab> for every tab (1 warm-up, then --runs; median and
p90), as bench_admin and as a reseller user, and a typical demo customer as the baseline in
the same run. The big customer ("Bench Profile") is made for the run and deleted after it.
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

TABS = ("details", "contacts", "addresses", "notes", "files", "finances", "messages", "works", "changes")
SIZES = {"contacts": 50, "addresses": 200, "notes": 1000, "audit": 5000}
NAME = "Bench Profile"


def make_big_customer(session, admin) -> int:
    """The customer with many children (made through plain inserts; the audit rows are extra)."""
    from sqlalchemy import select

    from app.models import Address, AuditEntry, Contact, ContactPhone, Customer, Note
    from app.models.resellers import utcnow
    from app.services.db import insert_rows
    customer = Customer(customer_type="private", first_name="Bench", surname="Profile", name=NAME,
                        sort_name="profile bench", email=None, currency="GBP", status="active",
                        reseller_id=session.scalar(select(bench_reseller_id(session))))
    session.add(customer)
    session.flush()
    now = utcnow()
    insert_rows(session, Contact.__table__, [
        {"customer_id": customer.id, "first_name": f"Person{i}", "surname": f"Contact{i}",
         "email": f"contact{i}@example.com", "is_primary": i == 0} for i in range(SIZES["contacts"])])
    contact_ids = session.scalars(select(Contact.id).where(Contact.customer_id == customer.id)).all()
    insert_rows(session, ContactPhone.__table__, [
        {"contact_id": cid, "kind": "mobile", "number": f"+4479{cid % 100000000:08d}"} for cid in contact_ids])
    insert_rows(session, Address.__table__, [
        {"customer_id": customer.id, "kind": "billing" if i == 0 else "site", "line1": f"{i} Bench Street",
         "postcode": "BS1 1AA", "country": "GB", "latitude": 51.45, "longitude": -2.59}
        for i in range(SIZES["addresses"])])
    insert_rows(session, Note.__table__, [
        {"customer_id": customer.id, "body": f"Note {i}: " + "words " * 30, "important": i % 100 == 0,
         "private": i % 10 == 0, "do_not_work": False, "created_by": "bench_admin", "created_at": now}
        for i in range(SIZES["notes"])])
    insert_rows(session, AuditEntry.__table__, [
        {"at": now, "user_id": admin.id, "username": admin.username, "action": "update", "entity": "customer",
         "entity_id": customer.id, "customer_id": customer.id, "changes": {"status": ["active", "disabled"]}}
        for _ in range(SIZES["audit"])])
    session.commit()
    return customer.id


def bench_reseller_id(session):
    from sqlalchemy import select

    from app.models import User
    return select(User.reseller_id).where(User.username == bench.RESELLER_USER).scalar_subquery()


def timed(client, url: str, runs: int) -> tuple[float, float]:
    r = client.get(url)
    if r.status_code != 200:
        sys.exit(f"{url}: {r.status_code}")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        r = client.get(url)
        r.get_data()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    app = bench.make_app(bench.sqlalchemy_url(args.database))
    bench.setup(app, args.customers)
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Customer, Note, User
    with app.app_context():
        s = db.session
        admin = s.scalar(select(User).where(User.username == bench.ADMIN))
        big = make_big_customer(s, admin)
        reseller = s.scalar(select(User.reseller_id).where(User.username == bench.RESELLER_USER))
        plain = s.scalar(select(Customer.id).where(Customer.reseller_id == reseller, Customer.status == "active")
                         .order_by(Customer.id).limit(1))
        counts = {"notes": s.scalar(select(func.count()).select_from(Note).where(Note.customer_id == big))}
    try:
        clients = {"admin": bench.html_login(app, bench.ADMIN), "reseller": bench.html_login(app, bench.RESELLER_USER)}
        print(f"customer #{big}: {SIZES['contacts']} contacts, {SIZES['addresses']} addresses, {counts['notes']:,} notes, "
              f"{SIZES['audit']:,}+ audit rows; baseline: a typical demo customer, #{plain}")
        print()
        print("| tab | admin med ms | admin p90 | reseller med ms | typical customer med ms | big / typical |")
        print("|---|---:|---:|---:|---:|---:|")
        worst = 0.0
        for tab in TABS:
            url = f"/customers/show/{big}?tab={tab}"
            med, p90 = timed(clients["admin"], url, args.runs)
            r_med, _ = timed(clients["reseller"], url, args.runs)
            base, _ = timed(clients["admin"], f"/customers/show/{plain}?tab={tab}", args.runs)
            worst = max(worst, med, r_med)
            print(f"| {tab} | {med:.1f} | {p90:.1f} | {r_med:.1f} | {base:.1f} | {med / base:.1f}x |")
        print()
        print(f"slowest median: {worst:.1f} ms (target: < 200 ms) -> {'MET' if worst < 200 else 'NOT MET'}")
    finally:
        with app.app_context():
            remove(db.session, big)


def remove(session, customer_id: int) -> None:
    """The bench customer and everything on it (the database keeps its size for bench/run.py)."""
    from sqlalchemy import delete

    from app.models import Address, AuditEntry, Contact, ContactPhone, Customer, Note
    contacts = select_ids(Contact, customer_id)
    for stmt in (delete(ContactPhone).where(ContactPhone.contact_id.in_(contacts)),
                 delete(Contact).where(Contact.customer_id == customer_id),
                 delete(Address).where(Address.customer_id == customer_id),
                 delete(Note).where(Note.customer_id == customer_id),
                 delete(AuditEntry).where(AuditEntry.customer_id == customer_id),
                 delete(Customer).where(Customer.id == customer_id)):
        session.execute(stmt)
    session.commit()


def select_ids(model, customer_id):
    from sqlalchemy import select
    return select(model.id).where(model.customer_id == customer_id)


if __name__ == "__main__":
    main()
