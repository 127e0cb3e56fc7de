#!/usr/bin/env python
"""Send statement in bulk (issue 16; target: statements for 10,000 customers queued in < 30 s, and one
worker's statements per second reported), on the database bench/run.py loads:

    .venv/bin/python bench/statements_bulk.py --database postgresql://postgres@127.0.0.1:5432/bench_customers \
        --customers 1000000 --queue 10000 --sample 200

1. Queue: statement_batch.start for --queue customers (those with invoices first, as the ones a
   statement is for), as the confirmed bulk action does: the form's key claimed, the customers fixed
   in job_customer, committed, the job put on Redis (no worker takes it here). Reported: seconds.
2. One worker's rate: statement_batch.run, in this process as a worker runs it, over a job of --sample
   of those customers: each statement built, its PDF rendered, its message and files written, a chunk a
   transaction, the delivery jobs put on Redis (not delivered). Reported: statements per second, and
   how many were written, skipped and left out by reason.
Everything it adds (jobs, their messages and files, the RQ queue) is removed at the end.
"""
import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")

from bench import harness as bench  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/bench_customers")
    p.add_argument("--customers", type=int, default=1_000_000, help="the database's size (bench/run.py loads it)")
    p.add_argument("--queue", type=int, default=10_000, help="customers whose statements are queued")
    p.add_argument("--sample", type=int, default=200, help="statements one worker writes, for the rate")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    args = p.parse_args()

    url = bench.sqlalchemy_url(args.database)
    bench.ensure_database(args.database, reset=False)
    app = bench.make_app(url, REDIS_URL=args.redis, RQ_QUEUE=f"bench-{uuid.uuid4().hex[:6]}", BULK_SYNC_LIMIT=0)
    bench.setup(app, args.customers)

    from sqlalchemy import delete, select

    from app.extensions import db
    from app.jobs import get_queue
    from app.models import Customer, Invoice, Job, Message, User, job_customer
    from app.services.billing import statement_batch

    with app.app_context():
        s = db.session
        admin = s.scalar(select(User).where(User.username == bench.ADMIN))
        owing = s.scalars(select(Invoice.customer_id).distinct().where(Invoice.status.in_(("issued", "part_paid")))
                          .order_by(Invoice.customer_id).limit(args.queue)).all()
        ids = list(owing)
        if len(ids) < args.queue:
            ids += s.scalars(select(Customer.id).where(Customer.id.not_in(owing) if owing else Customer.id > 0)
                             .order_by(Customer.id).limit(args.queue - len(ids))).all()
        print(f"customers: {len(ids):,} ({len(owing):,} with open invoices)")
        made = []
        try:
            # 1. queue them (ticked ids, as the list's form sends them; 10,000 is the form's limit)
            t0 = time.perf_counter()
            job = statement_batch.start(s, admin, {}, str(uuid.uuid4()), ids=ids)
            t_queue = time.perf_counter() - t0
            made.append(job.id)
            print(f"queued {job.total:,} statements in {t_queue:.2f} s (target < 30 s): job {job.id}, {job.status}")

            # 2. one worker's rate over a sample
            sample = statement_batch.prepare(s, admin, {}, ids=ids[:args.sample])
            s.commit()
            made.append(sample.id)
            t0 = time.perf_counter()
            statement_batch.run(s, sample, app.config)
            t_run = time.perf_counter() - t0
            r = sample.result
            print(f"one worker: {sample.total:,} customers in {t_run:.2f} s = {sample.total / t_run:.1f} statements/s; "
                  f"sent {r['sent']:,}, skipped {r['skipped']}, of which not written {r['unwritten']}")
        finally:
            s.rollback()
            s.execute(delete(Message).where(Message.batch_id.in_(made)))  # their files go with them (CASCADE)
            s.execute(delete(job_customer).where(job_customer.c.job_id.in_(made)))
            s.execute(delete(Job).where(Job.id.in_(made)))
            s.commit()
            queue = get_queue(app)
            if queue is not None:
                queue.empty()
                queue.delete(delete_jobs=True)


if __name__ == "__main__":
    main()
