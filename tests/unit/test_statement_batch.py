"""Send statement as a bulk action (issue 16): one outbox message per customer with its statement, to the
customer's own address else its primary contact's, never twice for one job; customers owing nothing, with
no address, out of scope or dormant (and the like) are left out or skipped and counted by reason."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models import Contact, Customer, Job, Message, MessageAttachment, TaxRate
from app.services import jobs, money
from app.services.billing import invoices, statement_batch, statements
from app.services.errors import Forbidden, Invalid
from tests import factories as f

TODAY = date.today()


def issued(ctx, customer_id, amount, days_ago):
    day = TODAY - timedelta(days=days_ago)
    rate = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    return invoices.create_draft(ctx, f.user("admin"), customer_id, {
        "issue_date": day.isoformat(), "due_date": day.isoformat(),
        "lines": [{"description": "Work", "quantity": 1, "unit_price": amount, "tax_rate_id": rate}]},
        str(uuid.uuid4()), issue_now=True)


def owing(ctx, amounts=("50.00",), **fields):
    customer = f.customer(**fields)
    for i, amount in enumerate(amounts):
        issued(ctx, customer.id, amount, 40 - i * 30)
    return customer.id


def send(ctx, actor="finance", ids=None, matching=None, chunk=2, **params):
    job = statement_batch.prepare(ctx, f.user(actor), params, ids=ids, matching=matching)
    ctx.commit()
    return statement_batch.run(ctx, job, {}, chunk=chunk)


def messages_of(ctx, job_id):
    return ctx.scalars(select(Message).where(Message.batch_id == job_id).order_by(Message.customer_id)).all()


def files_of(ctx, message_id):
    return ctx.scalars(select(MessageAttachment.filename).where(MessageAttachment.message_id == message_id)
                       .order_by(MessageAttachment.id)).all()


def test_each_ticked_customer_gets_one_message_with_its_statement_or_a_reason(ctx):
    ada = owing(ctx, ("50.00", "30.00"), first_name="Ada", email="ada@example.com")
    ctx.get(Customer, ada).attach_invoices_to_statements = True
    bob = owing(ctx, first_name="Bob")  # no address of its own: its primary contact's
    ctx.add(Contact(customer_id=bob, first_name="Bea", surname="Primary", email="bea@example.com", is_primary=True))
    paid_up = f.customer(email="carl@example.com").id
    dormant = owing(ctx, email="dan@example.com", status="dormant")
    nowhere = owing(ctx)
    opted_out = owing(ctx, email="olly@example.com", service_email=False)
    ctx.commit()

    job = send(ctx, ids=[ada, bob, paid_up, dormant, nowhere, opted_out])

    assert job.status == "done" and job.done == job.total == 6
    assert job.result["sent"] == 2
    assert job.result["skipped"] == {"nothing owed": 1, "no e-mail address": 1, "customer dormant": 1,
                                     "opted out of service messages by e-mail": 1}
    assert job.result["unwritten"] == {"nothing owed": 1, "no e-mail address": 1}
    written = {m.customer_id: m for m in messages_of(ctx, job.id)}
    assert set(written) == {ada, bob, dormant, opted_out}
    assert (written[ada].recipient, written[ada].send_key) == ("ada@example.com", f"statement:{job.id}:{ada}")
    assert written[ada].status == "sent"  # its delivery queued once its chunk committed (at once in tests)
    assert written[bob].recipient == "bea@example.com" and written[bob].recipient_name == "Bea Primary"
    assert (written[dormant].status, written[dormant].skip_reason) == ("skipped", "customer dormant")
    assert written[opted_out].status == "skipped"
    # The amount in the words is the statement's closing balance; its PDF goes with it, the invoices
    # too as the customer's setting says.
    closing = statements.outstanding(ctx, f.user("finance"), ada, TODAY).closing_balance
    assert closing == Decimal("80.00")
    assert f"The balance owed is {money.format(closing, 'GBP')}" in written[ada].body
    assert len(files_of(ctx, written[ada].id)) == 3 and files_of(ctx, written[ada].id)[0].startswith("statement-")
    assert len(files_of(ctx, written[bob].id)) == 1
    assert files_of(ctx, written[dormant].id) == []  # never sent: no files kept


def test_the_statement_is_as_at_the_date_asked_and_invoices_go_as_the_form_says(ctx):
    ada = owing(ctx, ("50.00", "30.00"), email="ada@example.com")  # issued 40 and 10 days ago
    ctx.commit()
    as_at = TODAY - timedelta(days=20)
    job = send(ctx, ids=[ada], as_at=as_at.isoformat(), attach="all")
    (message,) = messages_of(ctx, job.id)
    closing = statements.outstanding(ctx, f.user("finance"), ada, as_at).closing_balance
    assert closing == Decimal("50.00") and f"as at {as_at.isoformat()}" in message.subject
    assert f"The balance owed is {money.format(closing, 'GBP')}" in message.body
    assert len(files_of(ctx, message.id)) == 2  # the statement and the one invoice it lists
    none = send(ctx, ids=[ada], attach="none")
    assert len(files_of(ctx, messages_of(ctx, none.id)[0].id)) == 1


def test_all_matching_a_filter(ctx):
    ids = [owing(ctx, surname=f"Match{i}", email=f"m{i}@example.com") for i in range(3)]
    other = owing(ctx, surname="Elsewhere", email="e@example.com")
    ctx.commit()
    job = send(ctx, matching=select(Customer.id).where(Customer.surname.like("Match%")))
    assert job.total == 3 and job.result["sent"] == 3
    assert {m.customer_id for m in messages_of(ctx, job.id)} == set(ids)
    assert ctx.scalar(select(Message.id).where(Message.customer_id == other)) is None


def test_another_resellers_customers_are_not_touched(ctx, resellers):
    own = owing(ctx, email="own@example.com", reseller_id=resellers["Reseller A"])
    theirs = owing(ctx, email="theirs@example.com", reseller_id=resellers["Reseller B"])
    finance = f.user("finance")
    finance.reseller_id = resellers["Reseller A"]  # a Finance user of reseller A's
    ctx.commit()
    try:
        job = send(ctx, ids=[own, theirs])
        assert job.total == 1 and job.result["not_found"] == 1 and job.result["sent"] == 1
        assert [m.customer_id for m in messages_of(ctx, job.id)] == [own]
        with pytest.raises(Invalid):
            send(ctx, ids=[theirs])
    finally:
        finance = f.user("finance")
        finance.reseller_id = None
        ctx.commit()


def test_a_job_started_again_sends_none_twice(ctx, monkeypatch):
    ids = [owing(ctx, email=f"c{i}@example.com") for i in range(3)]
    ctx.commit()
    job = statement_batch.prepare(ctx, f.user("finance"), {}, ids=ids)
    ctx.commit()
    real, calls = statement_batch.statement_delivery.files, []

    def dies_on_the_second(*args):
        calls.append(args)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the worker's process ends under it
        return real(*args)
    monkeypatch.setattr(statement_batch.statement_delivery, "files", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        statement_batch.run(ctx, job, {}, chunk=1)
    ctx.rollback()
    monkeypatch.setattr(statement_batch.statement_delivery, "files", real)
    assert len(messages_of(ctx, job.id)) == 1
    # Its progress was lost too (as if the first chunk's record had not been kept): started again, it
    # goes through every customer, and the one already written is not written twice.
    job = ctx.get(Job, job.id)
    job.status, job.done_through, job.done, job.error = "failed", None, 0, jobs.DIED
    ctx.commit()
    jobs.start_again(ctx, f.user("finance"), job.id)
    job = ctx.get(Job, job.id)
    ctx.refresh(job)
    assert job.status == "done" and job.result["sent"] == 2 and job.result["skipped"] == {"already sent": 1}
    assert sorted(m.customer_id for m in messages_of(ctx, job.id)) == sorted(ids)


def test_a_second_write_of_one_key_is_refused_by_the_database(ctx):
    customer = f.customer().id
    row = dict(customer_id=customer, channel="email", body="x", status="queued", send_key="statement:1:1")
    ctx.add(Message(**row))
    ctx.commit()
    ctx.add(Message(**row))
    with pytest.raises(IntegrityError):
        ctx.flush()
    ctx.rollback()


def test_who_may_start_it_and_what_it_checks(ctx):
    ada = owing(ctx, email="ada@example.com")
    ctx.commit()
    for actor in ("staff", "reseller_a", "readonly"):
        with pytest.raises(Forbidden):
            statement_batch.prepare(ctx, f.user(actor), {}, ids=[ada])
        ctx.rollback()
    with pytest.raises(Invalid) as e:
        statement_batch.prepare(ctx, f.user("finance"), {"as_at": "31/02/2025", "attach": "some"}, ids=[ada])
    assert set(e.value.errors) == {"as_at", "attach"}
    ctx.rollback()
    job = statement_batch.prepare(ctx, f.user("admin"), {}, ids=[ada])
    assert job.params == {"kind": "outstanding", "as_at": TODAY.isoformat(), "attach": "setting"}
    ctx.rollback()


def test_a_customer_grouping_by_contact_gets_a_message_per_group_owing_and_none_twice(ctx, monkeypatch):
    from app.services.billing import invoice_addresses
    admin = f.user("admin")
    insurer = invoice_addresses.add(ctx, admin, {"name": "Acme Insurance", "line1": "1 Policy Road",
                                                 "email": "claims@example.com"})
    landlord = invoice_addresses.add(ctx, admin, {"name": "Bell Lettings", "line1": "2 Rent Row"})  # no e-mail
    quiet = invoice_addresses.add(ctx, admin, {"name": "Cole Mutual", "line1": "3 Paid Street",
                                               "email": "cole@example.com"})
    ada = owing(ctx, ("50.00",), email="ada@example.com")
    ctx.get(Customer, ada).group_statements_by_contact = True
    for address, amount in ((insurer, "120.00"), (landlord, "80.00"), (quiet, "10.00")):
        invoice_addresses.choose_for_customer(ctx, admin, ada, address.id)
        issued(ctx, ada, amount, 5)
    invoice_addresses.choose_for_customer(ctx, admin, ada, None)
    from app.models import Invoice, PaymentMethod
    from app.services.billing import payments
    cash = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    owed_by_quiet = ctx.scalar(select(Invoice.id).where(Invoice.invoice_address_id == quiet.id))
    payments.record_payment(ctx, f.user("finance"), owed_by_quiet, {"amount": "10.00", "method_id": cash},
                            str(uuid.uuid4()))  # Cole's group owes nothing: not sent
    bob = owing(ctx, email="bob@example.com")  # not grouping: one message as before
    ctx.commit()

    monkeypatch.setattr(statement_batch.jobs, "finish", lambda session, job: None)  # its customers kept: run again
    job = send(ctx, ids=[ada, bob])
    assert job.done == job.total == 2 and job.result["sent"] == 4
    written = {m.send_key: m for m in messages_of(ctx, job.id)}
    assert set(written) == {f"statement:{job.id}:{ada}", f"statement:{job.id}:{ada}:{insurer.id}",
                            f"statement:{job.id}:{ada}:{landlord.id}", f"statement:{job.id}:{bob}"}
    assert written[f"statement:{job.id}:{ada}"].recipient == "ada@example.com"
    assert "The balance owed is £50.00" in written[f"statement:{job.id}:{ada}"].body
    to_insurer = written[f"statement:{job.id}:{ada}:{insurer.id}"]
    assert to_insurer.recipient == "claims@example.com" and "The balance owed is £120.00" in to_insurer.body
    assert f"for the account of {ctx.get(Customer, ada).name}" in to_insurer.body
    assert files_of(ctx, to_insurer.id) == [f"statement-{ada}-{insurer.id}-{TODAY.isoformat()}.pdf"]
    assert written[f"statement:{job.id}:{ada}:{landlord.id}"].recipient == "ada@example.com"  # it has none

    # Run again (its progress lost): nothing is written twice.
    job.done_through, job.done = None, 0
    ctx.commit()
    again = statement_batch.run(ctx, job, {}, chunk=2)
    assert again.result["skipped"] == {"already sent": 4} and len(messages_of(ctx, job.id)) == 4
