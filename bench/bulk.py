#!/usr/bin/env python
"""Bulk-action and messaging benchmark, on the database bench/run.py loads.

    .venv/bin/python bench/bulk.py --database postgresql://postgres@127.0.0.1:5432/bench_customers \
        --customers 1000000 --rows 100000

1. Disable ROWS customers matching a filter (their resellers) with the bulk service, as the
   confirmed bulk action does: fix the customers (job_customer), then set-based chunks with
   their audit rows. Reported: time to commit, rows changed, audit rows. They are enabled
   again afterwards (timed too).
2. Baseline in the same run: what a stock FAB @action does, one ORM object at a time
   (datamodel.get, change, datamodel.edit: a commit per row), on --stock-rows customers.
3. Queue an e-mail to the same customers: outbox rows written and committed, delivery jobs
   enqueued in Redis (as the compose screen does). Reported: time, messages.
4. One worker's delivery rate: an RQ worker (flask worker's AppWorker) delivers
   --deliver messages by SMTP to a local sink (aiosmtpd in its own process).
5. Delete --delete-rows customers with their contacts, addresses, services, notes... each row
   audited (the one set-based delete of one customer and of the bulk action), in chunks as the
   bulk job does; rolled back, so the database keeps its size.
Everything it adds (jobs, messages, audit rows) is removed at the end; statuses are restored.
"""
import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def smtp_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                             "-c", "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink
        except OSError:
            time.sleep(0.1)
    sink.kill()
    sys.exit("the SMTP sink did not start")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=1_000_000, help="the database's size (bench/run.py loads it)")
    p.add_argument("--rows", type=int, default=100_000, help="customers to disable and to e-mail")
    p.add_argument("--stock-rows", type=int, default=10_000, help="customers for the stock FAB per-row baseline")
    p.add_argument("--deliver", type=int, default=5_000, help="messages one worker delivers, for the rate")
    p.add_argument("--delete-rows", type=int, default=20_000, help="customers to delete (rolled back)")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = p.parse_args()

    url = bench.sqlalchemy_url(args.database)
    bench.ensure_database(args.database, reset=False)
    port = free_port()
    app = bench.make_app(url, REDIS_URL=args.redis, RQ_QUEUE=f"bench-{uuid.uuid4().hex[:6]}", MAIL_TRANSPORT="smtp",
                         MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_DEFAULT_SENDER="office@example.com")
    bench.setup(app, args.customers)

    from sqlalchemy import delete, func, select, update

    from app.extensions import db
    from app.jobs import get_queue, tasks
    from app.jobs.worker import AppWorker
    from app.models import AuditEntry, Customer, Job, Message, MessageAttempt, Reseller, User
    from app.services.customers import bulk
    from app.services.messages import outbox

    sink = smtp_sink(port)
    results = {}
    with app.app_context():
        s = db.session
        admin = s.scalar(select(User).where(User.username == bench.ADMIN))
        s.info["actor"] = (admin.id, admin.username)
        # Resellers, largest first, until their active customers reach --rows.
        sizes = s.execute(select(Customer.reseller_id, func.count()).where(Customer.status == "active")
                          .group_by(Customer.reseller_id).order_by(func.count().desc())).all()
        chosen, total = [], 0
        for reseller_id, n in sizes:
            if reseller_id is None or total >= args.rows:
                continue
            chosen.append(reseller_id)
            total += n
        names = s.scalars(select(Reseller.name).where(Reseller.id.in_(chosen))).all()
        matching = select(Customer.id).where(Customer.reseller_id.in_(chosen), Customer.status == "active")
        before_audit = s.scalar(select(func.max(AuditEntry.id))) or 0
        print(f"filter: active customers of {', '.join(names)}: {total:,}")

        # A large job ends with a VACUUM of what it changed, after its last commit: time that apart.
        vacuums = []
        real_vacuum = bulk.vacuum

        def timed_vacuum(session, *tables):
            started = time.perf_counter()
            real_vacuum(session, *tables)
            vacuums.append((started, time.perf_counter() - started))
        bulk.vacuum = timed_vacuum

        # 1. disable, set-based
        t0 = time.perf_counter()
        job = bulk.prepare(s, admin, "disable", {}, matching=matching)
        s.commit()
        t_prepare = time.perf_counter() - t0
        bulk.run(s, job)
        t_disable = (vacuums[-1][0] if vacuums else time.perf_counter()) - t0
        t_vacuum = vacuums[-1][1] if vacuums else 0.0
        audit_rows = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id > before_audit))
        results["disable"] = (t_disable, job.result["changed"], audit_rows, t_prepare, t_vacuum)
        print(f"disable {job.result['changed']:,}: committed at {t_disable:.2f} s (fixing the customers "
              f"{t_prepare:.2f} s), {audit_rows:,} audit rows; then VACUUM {t_vacuum:.2f} s")
        # ... and enable them again (also a bulk action)
        t0 = time.perf_counter()
        # exactly the customers the disable changed (its audit rows say which)
        again = bulk.prepare(s, admin, "enable", {}, matching=select(AuditEntry.entity_id).where(
            AuditEntry.id > before_audit, AuditEntry.entity == "customer"))
        s.commit()
        vacuums.clear()
        bulk.run(s, again)
        results["enable"] = ((vacuums[-1][0] if vacuums else time.perf_counter()) - t0, again.result["changed"])
        print(f"enable {again.result['changed']:,}: {results['enable'][0]:.2f} s")

        # 2. stock FAB: one object at a time, a commit per row
        from flask_appbuilder.models.sqla.interface import SQLAInterface
        datamodel = SQLAInterface(Customer, s)
        ids = s.scalars(matching.order_by(Customer.id).limit(args.stock_rows)).all()
        t0 = time.perf_counter()
        for customer_id in ids:
            item = datamodel.get(customer_id)
            item.status = "disabled"
            datamodel.edit(item)
        t_stock = time.perf_counter() - t0
        results["stock"] = (t_stock, len(ids))
        print(f"stock FAB per-row action, {len(ids):,} customers: {t_stock:.2f} s "
              f"({t_stock / len(ids) * args.rows:.1f} s at {args.rows:,}, extrapolated)")
        s.execute(update(Customer).where(Customer.id.in_(ids)).values(status="active"))
        s.commit()

        # 3. queue an e-mail to the same customers
        t0 = time.perf_counter()
        values = outbox.clean("email", {"subject": "News for {first_name}", "body": "Dear {name},\nyour balance: {balance}."})
        mail_job = outbox.start(s, admin, values, matching=matching)
        queued = outbox.write(s, mail_job, app.config)
        s.commit()
        mail_job_id, job_ids = mail_job.id, [job.id, again.id, mail_job.id]
        t_written = time.perf_counter() - t0
        jobs = tasks.queue_delivery(queued)
        t_queue = time.perf_counter() - t0
        results["queue"] = (t_queue, len(queued), t_written, jobs)
        print(f"queue {len(queued):,} e-mails: {t_queue:.2f} s (outbox rows committed at {t_written:.2f} s; "
              f"{jobs:,} delivery jobs in Redis)")

        # 4. one worker delivering to the SMTP sink
        queue = get_queue()
        batches = max(1, args.deliver // tasks.DELIVERY_BATCH)
        t0 = time.perf_counter()
        AppWorker([queue], connection=queue.connection).work(burst=True, max_jobs=batches)
        t_deliver = time.perf_counter() - t0
        sent = s.scalar(select(func.count()).select_from(Message).where(Message.batch_id == mail_job_id,
                                                                        Message.status == "sent"))
        results["deliver"] = (t_deliver, sent)
        print(f"one worker delivered {sent:,} e-mails in {t_deliver:.2f} s: {sent / t_deliver:.0f} a second")

        # 5. delete customers with everything that belongs to them, audited, then rolled back (the
        #    database keeps its size): the one set-based delete, in the bulk job's chunks
        from app.services.customers.delete import delete_customers
        doomed = s.scalars(select(Customer.id).order_by(Customer.id.desc()).limit(args.delete_rows)).all()
        before_delete = s.scalar(select(func.max(AuditEntry.id))) or 0
        t0 = time.perf_counter()
        for start in range(0, len(doomed), bulk.CHUNK):
            delete_customers(s, doomed[start:start + bulk.CHUNK])
            s.flush()
        t_delete = time.perf_counter() - t0
        delete_audit = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.id > before_delete))
        s.rollback()
        results["delete"] = (t_delete, len(doomed), delete_audit)
        print(f"delete {len(doomed):,} customers: {t_delete:.2f} s with {delete_audit:,} audit rows (rolled back)")

        # clean up
        queue.empty()
        batch = select(Message.id).where(Message.batch_id == mail_job_id)
        s.execute(delete(MessageAttempt).where(MessageAttempt.message_id.in_(batch)))
        s.execute(delete(Message).where(Message.batch_id == mail_job_id))
        s.execute(delete(AuditEntry).where(AuditEntry.id > before_audit))
        s.execute(delete(Job).where(Job.id.in_(job_ids)))
        s.commit()
    sink.terminate()

    t_disable, changed, audit_rows, _, t_vacuum = results["disable"]
    t_stock, stock_n = results["stock"]
    per_row = t_stock / stock_n
    print()
    print("| measure | value | target |")
    print("|---|---:|---|")
    print(f"| disable {changed:,} customers, committed with {audit_rows:,} audit rows | {t_disable:.2f} s | < 3 s |")
    print(f"| stock FAB per-row action, {stock_n:,} customers | {t_stock:.2f} s | (about 4 s in the issue) |")
    print(f"| then VACUUM (ANALYZE) customer, service (the list's index-only walks) | {t_vacuum:.2f} s | |")
    print(f"| ours vs stock, per customer | {per_row / (t_disable / changed):.0f}x faster | |")
    print(f"| enable them again (services restored) | {results['enable'][0]:.2f} s | |")
    t_queue, n_queued, t_written, _ = results["queue"]
    print(f"| queue an e-mail to {n_queued:,} customers (outbox + Redis) | {t_queue:.2f} s | < 10 s |")
    t_deliver, sent = results["deliver"]
    print(f"| one worker to a local SMTP sink | {sent / t_deliver:.0f} e-mails/s | >= 200/s |")
    t_delete, n_deleted, delete_audit = results["delete"]
    print(f"| delete {n_deleted:,} customers and what belongs to them, {delete_audit:,} audit rows (rolled back) "
          f"| {t_delete:.2f} s | |")


if __name__ == "__main__":
    main()
