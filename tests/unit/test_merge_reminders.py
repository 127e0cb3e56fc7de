"""Merging customers keeps their payment reminders: the duplicate's sent reminders join the survivor's
history, and the merged account carries on the overdue episode further along, so nobody is sent a first
reminder again for debts already reminded (services/customers/merge.py, reminders.py)."""
from sqlalchemy import select

from app.extensions import db
from app.models.reminders import PaymentReminder, ReminderState
from app.services.customers import merge
from tests import factories
from tests.unit.test_payment_reminders import customer, day, issued, run, sent


def merged(survivor, duplicate):
    merge.merge(db.session, factories.user("admin"), survivor.id, duplicate.id)
    db.session.expire_all()


def test_the_duplicates_episode_further_along_carries_on_in_the_survivor(ctx):
    survivor, duplicate = customer(), customer()
    issued(survivor, "40.00", on=day(10), due=day(10))
    issued(duplicate, "100.00")
    run(7), run(14), run(18)  # the duplicate: steps 1 and 2; the survivor: step 1 (its invoice 8 days late)
    assert [s for _, s, _ in sent(duplicate)] == [1, 2] and [s for _, s, _ in sent(survivor)] == [1]
    gone = duplicate.id
    merged(survivor, duplicate)
    state = db.session.get(ReminderState, survivor.id)
    assert (state.last_step, state.last_sent_on) == (2, day(14))
    assert db.session.get(ReminderState, gone) is None
    history = sorted((r.episode, r.step) for r in db.session.scalars(
        select(PaymentReminder).where(PaymentReminder.customer_id == survivor.id)))
    assert history == [(1, 1), (2, 1), (2, 2)]  # the duplicate's numbered after the survivor's
    assert state.episode == 2
    run(20)  # nothing new is due: step 2 was sent already (not a first reminder again)
    assert len(sent(survivor)) == 3
    run(30)
    assert sent(survivor)[-1] == (2, 3, day(30))


def test_the_survivors_episode_further_along_stays_and_a_new_episode_never_collides(ctx):
    survivor, duplicate = customer(), customer()
    issued(survivor, "100.00")
    issued(duplicate, "40.00", on=day(10), due=day(10))
    run(7), run(14), run(18)  # the survivor: steps 1 and 2; the duplicate: step 1
    merged(survivor, duplicate)
    state = db.session.get(ReminderState, survivor.id)
    assert (state.episode, state.last_step) == (1, 2)
    history = sorted((r.episode, r.step) for r in db.session.scalars(
        select(PaymentReminder).where(PaymentReminder.customer_id == survivor.id)))
    assert history == [(0, 1), (1, 1), (1, 2)]  # the duplicate's kept below the survivor's, as history
    run(30)
    assert sent(survivor)[-1] == (1, 3, day(30))


def test_a_duplicate_never_reminded_changes_nothing_and_one_with_history_alone_is_taken_over(ctx):
    survivor, duplicate, quiet = customer(), customer(), customer()
    issued(duplicate, "100.00")
    run(7)
    merged(survivor, duplicate)
    state = db.session.get(ReminderState, survivor.id)
    assert (state.episode, state.last_step, state.last_sent_on) == (1, 1, day(7))
    assert sent(survivor) == [(1, 1, day(7))]
    merged(survivor, quiet)
    assert db.session.get(ReminderState, survivor.id).last_step == 1
