"""Payment reminders (services/billing/reminders.py), time-travelled with an injected "today": the steps
7/14/30 over a month, a second run sends nothing, catching up after downtime sends one (the highest),
eligibility net of credit against the minimum, disputed/voided/paid invoices left out, customers not
reminded automatically listed with their reason, a moved next-reminder date, episodes that end and
start over, a step before the due date, the statement on the last step."""
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import delete, insert, select, update

from app.extensions import db
from app.jobs import schedule, tasks
from app.models import AuditEntry, CompanySettings, Customer, Invoice, Message, PaymentMethod, TaxRate
from app.models.comms import MessageAttachment
from app.models.reminders import PaymentReminder, ReminderState, ReminderStep
from app.services.billing import invoices, payments, reminders
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from app.services.messages import delivery, outbox
from tests import factories

D0 = date.today() - timedelta(days=100)  # the invoices' issue (and due) date; runs are days after it


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def key():
    return str(uuid.uuid4())


def finance():
    return factories.user("finance")


def customer(**fields):
    n = uuid.uuid4().hex[:8]
    data = {"email": f"payer{n}@example.com", "mobile": "+447911123456"}
    mode = fields.pop("payment_reminders", None)
    data.update(fields)
    made = factories.customer(**data)
    if mode:
        db.session.execute(update(Customer).where(Customer.id == made.id).values(payment_reminders=mode))
        db.session.commit()
    return made


def issued(customer, amount, on: date = D0, due: date | None = None):
    zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    return invoices.create_draft(db.session, finance(), customer.id, {
        "issue_date": on.isoformat(), "due_date": (due or on).isoformat(),
        "lines": [{"description": "Work", "quantity": 1, "unit_price": str(amount), "tax_rate_id": zero}]},
        key(), issue_now=True)


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def pay(invoice, amount, on: date):
    return payments.record_payment(db.session, finance(), invoice.id, {
        "amount": str(amount), "method_id": cash(), "received_on": on.isoformat()}, key())


def credit(customer, amount, on: date = D0):
    return payments.record_external(db.session, finance(), customer.id, {
        "amount": str(amount), "method_id": cash(), "received_on": on.isoformat()}, key())


def run(n: int) -> dict:
    return reminders.run(db.session, day(n), current_app.config)


def sent(customer) -> list[tuple[int, int, date]]:
    """(episode, step, sent_on) of each reminder the customer was sent."""
    return [tuple(r) for r in db.session.execute(
        select(PaymentReminder.episode, PaymentReminder.step, PaymentReminder.sent_on)
        .where(PaymentReminder.customer_id == customer.id).order_by(PaymentReminder.id))]


def notifications(customer) -> list[tuple[str, str | None]]:
    return [tuple(r) for r in db.session.execute(
        select(Message.channel, Message.subject).where(Message.customer_id == customer.id,
                                                       Message.kind == "notification").order_by(Message.id))]


def set_status(customer, status):
    db.session.execute(update(Customer).where(Customer.id == customer.id).values(status=status))
    db.session.commit()


def minimum(amount):
    db.session.merge(CompanySettings(id=1, reminder_minimum=Decimal(amount)))
    db.session.commit()


@pytest.fixture
def own_steps(ctx):
    """Lets a test set its own steps; the migration's are put back after."""
    kept = [dict(r._mapping) for r in db.session.execute(select(ReminderStep.__table__))]

    def use(*days_and_attach):
        db.session.execute(delete(ReminderStep))
        for position, (days, attach) in enumerate(days_and_attach, start=1):
            db.session.add(ReminderStep(position=position, days=days, subject=f"Step {position} ({days})",
                                        body="Dear {name}, {overdue} due on {due_date}.", attach_statement=attach,
                                        active=True))
        db.session.commit()
    yield use
    db.session.rollback()
    db.session.execute(delete(ReminderStep))
    db.session.execute(insert(ReminderStep.__table__), kept)
    db.session.commit()


# --- steps, second runs, catching up -------------------------------------------------------------

def test_steps_7_14_and_30_days_overdue_go_once_each_over_a_month(ctx):
    payer = customer()
    issued(payer, "100.00")
    for n in range(0, 36):
        run(n)
    assert sent(payer) == [(1, 1, day(7)), (1, 2, day(14)), (1, 3, day(30))]
    assert notifications(payer) == [
        ("email", "Payment reminder: £100.00 overdue"), ("email", "Second reminder: £100.00 overdue"),
        ("sms", None), ("email", "Final reminder: £100.00 overdue"), ("sms", None)]
    body = db.session.scalar(select(Message.body).where(Message.customer_id == payer.id, Message.channel == "email")
                             .order_by(Message.id))
    assert "£100.00 overdue" in body and D0.isoformat() in body
    state = db.session.get(ReminderState, payer.id)
    assert (state.episode, state.last_step, state.last_sent_on, state.next_reminder_on) == (1, 3, day(30), None)
    changes = db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.customer_id == payer.id, AuditEntry.entity == "payment_reminder").order_by(AuditEntry.id)).all()
    assert [c["step"][1] for c in changes] == [1, 2, 3]


def test_the_last_step_carries_the_statement_pdf_and_the_others_none(ctx, monkeypatch):
    """The run marks the e-mail; its delivery renders the statement as at the run's date and attaches it."""
    monkeypatch.setattr(tasks, "queue_delivery", lambda ids: 0)  # delivery later, by hand below
    payer = customer()
    issued(payer, "100.00")
    run(7), run(30)
    marked = db.session.execute(select(Message.id, Message.attach_statement_on).where(
        Message.customer_id == payer.id, Message.channel == "email").order_by(Message.id)).all()
    assert [on for _, on in marked] == [None, day(30)]
    assert db.session.scalar(select(MessageAttachment.id).where(MessageAttachment.message_id == marked[1][0])) is None
    ids = [i for i, in db.session.execute(select(Message.id).where(Message.customer_id == payer.id))]
    delivery.deliver(db.session, ids, current_app.config, runner="test")
    files = db.session.execute(
        select(Message.subject, MessageAttachment.filename, MessageAttachment.content)
        .join(MessageAttachment, MessageAttachment.message_id == Message.id)
        .where(Message.customer_id == payer.id)).all()
    assert len(files) == 1
    subject, filename, content = files[0]
    assert subject.startswith("Final reminder") and filename.endswith(".pdf") and content.startswith(b"%PDF")
    assert filename == f"statement-{payer.id}-{day(30).isoformat()}.pdf"
    assert db.session.scalar(select(Message.status).where(Message.id == marked[1][0])) == "sent"


def test_a_retry_after_a_transport_error_sends_the_statement_stored_by_the_first_attempt(ctx, monkeypatch):
    """The statement is rendered once, as at the date the e-mail names: a payment recorded between the two
    attempts changes nothing in the file the retry sends, and the message still carries one file."""
    from datetime import datetime, timezone

    from app.services.billing import statement_documents
    from app.services.messages import transports
    monkeypatch.setattr(tasks, "queue_delivery", lambda ids: 0)
    renders, handed = [], []
    real_pdf = statement_documents.pdf

    def counted_pdf(session, statement, config):
        renders.append(statement.as_at)
        return real_pdf(session, statement, config)
    monkeypatch.setattr(statement_documents, "pdf", counted_pdf)

    class FailsOnce:
        name = "fake"

        def send(self, message, headers):
            handed.append([(name, content) for name, _, content in message.attachments])
            if len(handed) == 1:
                raise transports.Transient("421 try again later")

        def close(self):
            pass
    monkeypatch.setattr(transports, "for_channel", lambda channel, config: FailsOnce())
    payer = customer()
    invoice = issued(payer, "100.00")
    run(30)
    email = db.session.scalar(select(Message.id).where(Message.customer_id == payer.id, Message.channel == "email"))
    first = datetime.now(timezone.utc)
    assert delivery.deliver(db.session, [email], current_app.config, runner="test", now=lambda: first)["retry"] == 1
    assert db.session.scalar(select(Message.status).where(Message.id == email)) == "queued"
    pay(invoice, "40.00", day(30))  # a re-render as at day 30 would now say 60.00
    later = first + timedelta(seconds=delivery.retry_delays(current_app.config)[0] + 1)
    assert delivery.deliver(db.session, [email], current_app.config, runner="test", now=lambda: later)["sent"] == 1
    assert renders == [day(30)]
    assert len(handed) == 2 and handed[0] == handed[1] and len(handed[1]) == 1
    stored = db.session.execute(select(MessageAttachment.filename, MessageAttachment.content)
                                .where(MessageAttachment.message_id == email)).all()
    assert [tuple(r) for r in stored] == handed[1]
    assert db.session.scalar(select(Message.attempts).where(Message.id == email)) == 2


def test_a_render_cut_short_by_the_jobs_timeout_stores_nothing_and_the_message_goes_again(ctx, monkeypatch):
    """Not failed (it is not the statement's fault) and not uncertain (nothing went out): queued, due now;
    the batch stops; the next delivery renders it and sends one file."""
    from rq.timeouts import JobTimeoutException

    from app.services.billing import statement_documents
    monkeypatch.setattr(tasks, "queue_delivery", lambda ids: 0)
    real_pdf, calls = statement_documents.pdf, []

    def times_out_once(session, statement, config):
        calls.append(1)
        if len(calls) == 1:
            raise JobTimeoutException("Task exceeded maximum timeout value (180 seconds)")
        return real_pdf(session, statement, config)
    monkeypatch.setattr(statement_documents, "pdf", times_out_once)
    payer = customer()
    issued(payer, "100.00")
    run(30)
    email = db.session.scalar(select(Message.id).where(Message.customer_id == payer.id, Message.channel == "email"))
    with pytest.raises(JobTimeoutException):
        delivery.deliver(db.session, [email], current_app.config, runner="test")
    db.session.expire_all()
    message = db.session.get(Message, email)
    assert (message.status, message.claimed_by) == ("queued", None) and "goes again" in message.error
    assert db.session.scalar(select(MessageAttachment.id).where(MessageAttachment.message_id == email)) is None
    assert delivery.deliver(db.session, [email], current_app.config, runner="test")["sent"] == 1
    assert len(db.session.execute(select(MessageAttachment.id).where(MessageAttachment.message_id == email)).all()) == 1


def test_a_statement_too_big_to_attach_fails_its_message_with_the_reason(ctx, monkeypatch):
    monkeypatch.setattr(tasks, "queue_delivery", lambda ids: 0)
    payer = customer()
    issued(payer, "100.00")
    run(30)
    email = db.session.scalar(select(Message.id).where(Message.customer_id == payer.id, Message.channel == "email"))
    monkeypatch.setattr(outbox, "MAX_ATTACHMENT_BYTES", 10)
    delivery.deliver(db.session, [email], current_app.config, runner="test")
    status, error = db.session.execute(select(Message.status, Message.error).where(Message.id == email)).one()
    assert status == "failed" and "could not be attached" in error and "at most" in error
    assert db.session.scalar(select(MessageAttachment.id).where(MessageAttachment.message_id == email)) is None
    # Sent again once the limit allows it, the copy still carries the statement (rendered by its delivery).
    monkeypatch.undo()
    monkeypatch.setattr(tasks, "queue_delivery", lambda ids: 0)
    copy = outbox.resend(db.session, factories.user("admin"), email)
    delivery.deliver(db.session, [copy.id], current_app.config, runner="test")
    assert db.session.scalar(select(Message.status).where(Message.id == copy.id)) == "sent"
    files = db.session.scalars(select(MessageAttachment.filename).where(MessageAttachment.message_id == copy.id)).all()
    assert len(files) == 1 and files[0].endswith(".pdf")


def test_a_second_run_the_same_day_sends_nothing(ctx):
    payer = customer()
    issued(payer, "100.00")
    assert run(7)["reminded"] == 1
    assert run(7)["reminded"] == 0
    assert run(8)["reminded"] == 0
    assert sent(payer) == [(1, 1, day(7))]
    assert len(notifications(payer)) == 1


def test_catching_up_after_three_weeks_of_downtime_sends_one_the_highest_due(ctx):
    payer = customer()
    issued(payer, "100.00")
    run(7)
    assert run(31)["reminded"] == 1  # 14 and 30 both due: only 30 goes
    assert sent(payer) == [(1, 1, day(7)), (1, 3, day(31))]
    never_run = customer()
    issued(never_run, "50.00")
    run(40)
    assert sent(never_run) == [(1, 3, day(40))]
    assert [c for c, _ in notifications(never_run)] == ["email", "sms"]


# --- who counts --------------------------------------------------------------------------------

def test_credit_that_brings_net_overdue_under_the_minimum_means_no_reminder(ctx):
    minimum("50.00")
    under, over = customer(), customer()
    issued(under, "100.00"), credit(under, "60.00")  # 40 net: under
    issued(over, "100.00"), credit(over, "40.00")  # 60 net: over
    run(7)
    assert sent(under) == [] and sent(over) == [(1, 1, day(7))]
    assert "£60.00" in notifications(over)[0][1]
    assert reminders.not_reminded(db.session, factories.user("admin"), day(7)) == []


def test_disputed_voided_and_paid_invoices_never_count(ctx):
    disputed, voided, paid, owing = customer(), customer(), customer(), customer()
    invoice = issued(disputed, "100.00")
    db.session.execute(update(Invoice).where(Invoice.id == invoice.id).values(disputed=True))
    db.session.commit()
    invoices.void(db.session, finance(), issued(voided, "100.00").id, "Wrong customer", key())
    pay(issued(paid, "100.00"), "100.00", day(1))
    issued(owing, "100.00")
    issued(owing, "30.00")
    db.session.execute(update(Invoice).where(Invoice.customer_id == owing.id, Invoice.total == Decimal("30"))
                       .values(disputed=True))
    db.session.commit()
    assert run(7)["reminded"] == 1
    assert sent(disputed) == sent(voided) == sent(paid) == []
    assert "£100.00" in notifications(owing)[0][1]  # the disputed 30.00 left out


def test_customers_not_reminded_automatically_are_listed_with_their_reason(ctx):
    manual, off = customer(payment_reminders="manual"), customer(payment_reminders="off")
    dormant, blocked, archived = customer(), customer(), customer()
    opted_out, no_address, reminded = customer(), customer(email=None), customer()
    for c in (manual, off, dormant, blocked, archived, opted_out, no_address, reminded):
        issued(c, "100.00")
    for c, status in ((dormant, "dormant"), (blocked, "blocked"), (archived, "archived")):
        set_status(c, status)
    db.session.execute(update(Customer).where(Customer.id == opted_out.id).values(service_email=False))
    db.session.commit()
    counts = run(7)
    assert (counts["reminded"], counts["not reminded"]) == (1, 7)
    assert sent(reminded) == [(1, 1, day(7))]
    listed = reminders.not_reminded(db.session, factories.user("admin"), day(7))
    assert [(r.customer_id, r.reason, r.net_overdue) for r in listed] == [
        (manual.id, "manual", Decimal("100.00")), (off.id, "off", Decimal("100.00")),
        (dormant.id, "dormant", Decimal("100.00")), (blocked.id, "blocked", Decimal("100.00")),
        (archived.id, "archived", Decimal("100.00")), (opted_out.id, "opted out", Decimal("100.00")),
        (no_address.id, "no address", Decimal("100.00"))]
    page = reminders.not_reminded(db.session, factories.user("admin"), day(7), after_id=blocked.id, limit=2)
    assert [r.customer_id for r in page] == [archived.id, opted_out.id]
    assert reminders.not_reminded(db.session, factories.user("reseller_a"), day(7)) == []  # out of scope


def test_the_company_default_decides_for_customers_without_their_own_setting(ctx):
    db.session.merge(CompanySettings(id=1, default_payment_reminders="manual"))
    db.session.commit()
    own, default = customer(payment_reminders="automatic"), customer()
    issued(own, "10.00"), issued(default, "10.00")
    run(7)
    assert sent(own) == [(1, 1, day(7))] and sent(default) == []


# --- by hand, moved dates, episodes --------------------------------------------------------------

def test_an_admin_sends_one_by_hand_to_a_manual_customer_but_never_past_an_opt_out(ctx):
    manual, opted_out = customer(payment_reminders="off"), customer(payment_reminders="manual")
    issued(manual, "100.00"), issued(opted_out, "100.00")
    db.session.execute(update(Customer).where(Customer.id == opted_out.id).values(service_email=False))
    db.session.commit()
    form = key()
    reminder = reminders.send_by_hand(db.session, finance(), manual.id, current_app.config, form, today=day(3))
    assert (reminder.step, reminder.by_hand, reminder.created_by) == (1, True, "finance")
    with pytest.raises(AlreadyDone):
        reminders.send_by_hand(db.session, finance(), manual.id, current_app.config, form, today=day(3))
    with pytest.raises(Invalid) as error:
        reminders.send_by_hand(db.session, finance(), opted_out.id, current_app.config, key(), today=day(3))
    assert "opted out" in str(error.value.errors).lower()
    with pytest.raises(Forbidden):
        reminders.send_by_hand(db.session, factories.user("staff"), manual.id, current_app.config, key(), today=day(3))
    with pytest.raises(NotFound):
        reminders.send_by_hand(db.session, finance(), manual.id + 10_000, current_app.config, key())
    assert sent(manual) == [(1, 1, day(3))] and sent(opted_out) == []


@pytest.mark.parametrize("status", ["dormant", "blocked", "archived"])
def test_a_hand_sent_reminder_to_a_dormant_blocked_or_archived_customer_goes_once_confirmed(ctx, status):
    """The run reminds them nothing; an admin who confirms sends one despite the status, and its delivery
    (which reads the status again) sends it rather than skipping it. Audited with the status it overrode."""
    payer = customer()
    issued(payer, "100.00")
    set_status(payer, status)
    with pytest.raises(Invalid) as error:  # not confirmed: refused, nothing written
        reminders.send_by_hand(db.session, finance(), payer.id, current_app.config, key(), today=day(8))
    assert f"{status}" in str(error.value.errors) and "despite" in str(error.value.errors)
    assert sent(payer) == [] and notifications(payer) == []
    reminder = reminders.send_by_hand(db.session, finance(), payer.id, current_app.config, key(), today=day(8),
                                      despite_status=True)
    assert (reminder.step, reminder.by_hand) == (1, True)
    rows = db.session.execute(select(Message.channel, Message.status, Message.skip_reason, Message.sent_despite_status)
                              .where(Message.customer_id == payer.id).order_by(Message.id)).all()
    assert [tuple(r) for r in rows] == [("email", "sent", None, True)]  # step 1 has no text
    changes = db.session.scalar(select(AuditEntry.changes).where(AuditEntry.customer_id == payer.id,
                                                                 AuditEntry.entity == "payment_reminder"))
    assert changes["despite_status"] == [None, status] and changes["by_hand"] == [None, True]
    assert run(9)["reminded"] == 0 and sent(payer) == [(1, 1, day(8))]  # the run still reminds it nothing


def test_despite_the_status_an_opt_out_or_a_missing_address_still_stops_a_hand_sent_reminder(ctx):
    opted_out, no_address = customer(), customer(email=None)
    db.session.execute(update(Customer).where(Customer.id == opted_out.id).values(service_email=False))
    db.session.commit()
    for payer in (opted_out, no_address):
        issued(payer, "100.00")
        set_status(payer, "dormant")
        with pytest.raises(Invalid) as error:
            reminders.send_by_hand(db.session, finance(), payer.id, current_app.config, key(), today=day(8),
                                   despite_status=True)
        assert "opted out" in str(error.value.errors) or "no e-mail address" in str(error.value.errors)
        assert sent(payer) == []


def test_delivery_honours_the_override_for_the_status_only(ctx, monkeypatch):
    """A message marked sent_despite_status goes to a dormant customer, but one whose recipient opted out
    after it was written is still skipped; a message not marked is skipped for the status as before."""
    monkeypatch.setattr(tasks, "queue_delivery", lambda ids: 0)  # delivery below, by hand
    payer, later_opted_out, unmarked = customer(), customer(), customer()
    for c in (payer, later_opted_out, unmarked):
        issued(c, "100.00")
        set_status(c, "blocked")
    for c in (payer, later_opted_out):
        reminders.send_by_hand(db.session, finance(), c.id, current_app.config, key(), today=day(8),
                               despite_status=True)
    db.session.execute(update(Customer).where(Customer.id == later_opted_out.id).values(service_email=False))
    unmarked_id = outbox_message(unmarked)
    db.session.commit()
    ids = list(db.session.scalars(select(Message.id).where(
        Message.customer_id.in_([payer.id, later_opted_out.id, unmarked.id]), Message.channel == "email")))
    delivery.deliver(db.session, ids, current_app.config, runner="test")
    outcome = {cid: (status, reason) for cid, status, reason in db.session.execute(
        select(Message.customer_id, Message.status, Message.skip_reason).where(Message.id.in_(ids)))}
    assert outcome[payer.id] == ("sent", None)
    assert outcome[later_opted_out.id] == ("skipped", "opted out of service messages by e-mail")
    assert outcome[unmarked.id] == ("skipped", "customer blocked")
    assert unmarked_id in ids


def outbox_message(c) -> int:
    """A queued service e-mail to `c`, not marked to go despite its status."""
    message = Message(customer_id=c.id, channel="email", purpose="service", kind="notification", direction="out",
                      recipient=c.email, body="Hello", subject="Hello", status="queued", attempts=0)
    db.session.add(message)
    db.session.flush()
    return message.id


def test_a_hand_sent_step_is_not_sent_again_by_the_run(ctx):
    payer = customer()
    issued(payer, "100.00")
    run(7)
    reminders.send_by_hand(db.session, finance(), payer.id, current_app.config, key(), today=day(8))
    for n in range(8, 31):
        run(n)
    assert sent(payer) == [(1, 1, day(7)), (1, 2, day(8)), (1, 3, day(30))]


def test_a_moved_next_reminder_date_holds_the_reminders_and_brings_the_next_step_on_it(ctx):
    payer = customer()
    issued(payer, "100.00")
    run(7)
    reminders.move_next_reminder(db.session, finance(), payer.id, day(20).isoformat(), today=day(8))
    for n in range(8, 20):
        run(n)
    assert sent(payer) == [(1, 1, day(7))]  # 14 was due: held
    run(20)
    assert sent(payer)[-1] == (1, 2, day(20))
    reminders.move_next_reminder(db.session, finance(), payer.id, day(22), today=day(21))
    run(21), run(22)
    assert sent(payer)[-1] == (1, 3, day(22))  # brought forward from day 30
    moves = db.session.scalars(select(AuditEntry.changes).where(AuditEntry.customer_id == payer.id,
                                                                 AuditEntry.entity == "reminder_state").order_by(AuditEntry.id)).all()
    assert [m["next_reminder_on"][1] for m in moves] == [day(20).isoformat(), day(22).isoformat()]
    with pytest.raises(Invalid) as error:
        reminders.move_next_reminder(db.session, finance(), payer.id, day(1), today=day(23))
    assert "next_reminder_on" in error.value.errors


def test_the_episode_ends_when_paid_and_a_new_one_starts_over_from_the_first_step(ctx):
    payer = customer()
    first = issued(payer, "100.00")
    run(7), run(14)
    pay(first, "100.00", day(15))
    assert run(16)["episodes ended"] == 1
    assert db.session.get(ReminderState, payer.id).episode_started_on is None
    issued(payer, "80.00", on=day(16))
    for n in range(17, 24):
        run(n)
    assert sent(payer) == [(1, 1, day(7)), (1, 2, day(14)), (2, 1, day(23))]


def test_a_step_before_the_due_date_goes_that_many_days_before_it(ctx, own_steps):
    own_steps((-3, False), (7, True))
    payer = customer()
    issued(payer, "100.00", on=D0, due=day(10))
    run(6)
    assert sent(payer) == []
    run(7)
    assert sent(payer) == [(1, 1, day(7))]
    for n in range(8, 18):
        run(n)
    assert sent(payer) == [(1, 1, day(7)), (1, 2, day(17))]
    assert notifications(payer) == [("email", "Step 1 (-3)"), ("email", "Step 2 (7)")]


def test_the_key_is_unique_per_customer_episode_and_step(ctx):
    payer = customer()
    issued(payer, "100.00")
    run(7)
    db.session.add(PaymentReminder(customer_id=payer.id, episode=1, step=1, sent_on=day(8), net_overdue=Decimal(1),
                                   currency="GBP"))
    with pytest.raises(Exception):
        db.session.commit()
    db.session.rollback()


def test_the_daily_job_is_declared_and_its_task_runs_the_reminders(ctx):
    job = next(j for j in schedule.PERIODIC if j.name == schedule.PAYMENT_REMINDERS)
    assert job.task is tasks.payment_reminders and job.cron
    payer = customer()
    issued(payer, "100.00")
    assert tasks.payment_reminders(day(7))["reminded"] == 1
    assert tasks.payment_reminders(day(7))["reminded"] == 0


def test_the_minimum_is_in_the_base_currency_and_converted_for_other_currencies(ctx):
    from app.models import FxRate
    minimum("50.00")  # GBP
    db.session.add(FxRate(from_currency="GBP", to_currency="EUR", rate=Decimal("2"), effective_on=D0))
    db.session.commit()
    under, over = customer(currency="EUR"), customer(currency="EUR")
    issued(under, "90.00"), issued(over, "110.00")  # the minimum is 100.00 EUR
    no_rate = customer(currency="USD")  # no GBP/USD rate: any net overdue is reminded
    issued(no_rate, "1.00")
    run(7)
    assert sent(under) == [] and sent(over) == [(1, 1, day(7))] and sent(no_rate) == [(1, 1, day(7))]


# --- the run's set-based writes ------------------------------------------------------------------

def test_the_run_writes_chunk_by_chunk_each_customer_once(ctx, monkeypatch):
    monkeypatch.setattr(reminders, "CHUNK", 2)
    payers = [customer() for _ in range(5)]
    for payer in payers:
        issued(payer, "100.00")
    counts = run(7)
    assert counts["reminded"] >= 5 and counts["episodes started"] >= 5
    for payer in payers:
        assert sent(payer) == [(1, 1, day(7))]
        assert notifications(payer) == [("email", "Payment reminder: £100.00 overdue")]
        state = db.session.get(ReminderState, payer.id)
        assert (state.episode, state.episode_started_on, state.last_step, state.next_reminder_on) == \
            (1, day(7), 1, D0 + timedelta(days=14))
        email = db.session.scalar(select(PaymentReminder.email_message_id)
                                  .where(PaymentReminder.customer_id == payer.id))
        assert db.session.scalar(select(Message.customer_id).where(Message.id == email)) == payer.id
        assert db.session.scalar(select(AuditEntry.entity_id).where(
            AuditEntry.customer_id == payer.id, AuditEntry.entity == "payment_reminder")) is not None


def test_a_key_taken_meanwhile_writes_nothing_else_for_that_customer(ctx):
    payer = customer()
    issued(payer, "100.00")
    db.session.add(PaymentReminder(customer_id=payer.id, episode=1, step=1, sent_on=day(7), net_overdue=Decimal(100),
                                   currency="GBP", by_hand=True, created_by="finance"))
    db.session.commit()
    run(7)
    assert sent(payer) == [(1, 1, day(7))]
    assert notifications(payer) == []
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.customer_id == payer.id,
                                                         AuditEntry.entity == "payment_reminder")) is None
    state = db.session.get(ReminderState, payer.id)
    assert (state.episode, state.episode_started_on, state.last_step) == (1, day(7), None)
