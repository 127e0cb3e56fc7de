"""Helpers that make test data through the services, as a user would."""
import uuid

from app.extensions import db
from app.models import Reseller, Tag, User
from app.services.customers.create import create_customer


def user(username: str) -> User:
    return db.session.query(User).filter_by(username=username).one()


def reseller_id(name: str) -> int:
    return db.session.query(Reseller).filter_by(name=name).one().id


def tag(name: str, colour=None) -> Tag:
    t = Tag(name=name, colour=colour)
    db.session.add(t)
    db.session.commit()
    return t


_n = [0]


def customer(actor="admin", **fields):
    _n[0] += 1
    data = {"customer_type": "private", "first_name": "Test", "surname": f"Person{_n[0]}"}
    data.update(fields)
    return create_customer(db.session, user(actor) if isinstance(actor, str) else actor, data)


def balance_adjusted(customer_id: int, amount, actor="admin"):
    """Move a customer's balance by `amount` through the ledger (Edit balance), as a user would:
    customer.balance and its copy customer_balance.balance, which the list's balance filters and
    sort read, move together (writing customer.balance directly leaves the copy behind)."""
    from app.services.billing import payments
    return payments.adjust_balance(db.session, user(actor) if isinstance(actor, str) else actor, customer_id,
                                   {"amount": str(amount), "reason": "Opening balance"}, str(uuid.uuid4()))


def stopped_job(session, actor, action: str, ids, params=None, chunk: int = 1) -> int:
    """A bulk job of `action` on `ids` whose process ended under it after its first chunk of
    `chunk` customers (nothing recorded the failure: the job still says running). Its id."""
    from app.jobs import runner
    from app.services.customers import bulk
    job = bulk.prepare(session, actor, action, params or {}, ids=ids)
    session.commit()
    real, calls = bulk.ACT[action], []

    def dies_on_the_second_chunk(s, chunk_params, chunk_ids):
        calls.append(chunk_ids)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as the process ending under it
        return real(s, chunk_params, chunk_ids)
    bulk.ACT[action] = dies_on_the_second_chunk
    try:
        bulk.run(session, job, chunk=chunk, runner=runner.this_process())
    except KeyboardInterrupt:
        session.rollback()
    finally:
        bulk.ACT[action] = real
    return job.id
