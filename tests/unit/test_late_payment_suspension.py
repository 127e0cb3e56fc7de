"""Suspension for late payment (services/billing/suspension.py), time-travelled with an injected "today"
over the steps 7/14/30 and a grace period of 10 days: suspended after the final step and the grace
period, not before; never with "do not suspend"; postponed to a date; an admin's hand enable holds the
episode; paying up re-enables only what the run suspended; services suspended and restored; invoicing
goes on; a second run the same day changes nothing; the state for the Finances tab."""
import uuid

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEntry, CompanySettings, Customer, CustomerService
from app.models.reminders import ReminderState
from app.services import company
from app.services.billing import suspension
from app.services.customers import bulk, profile, services
from app.services.customers.update import update_customer
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories
from tests.unit.test_payment_reminders import customer, day, finance, issued, pay, run

GRACE = 10
FINAL = 30  # the final step's day (the migration's steps: 7, 14, 30)
SUSPEND_DAY = FINAL + GRACE


@pytest.fixture
def grace(ctx):
    db.session.merge(CompanySettings(id=1, suspend_grace_days=GRACE))
    db.session.commit()


def admin():
    return factories.user("admin")


def overdue_customer(amount="100.00", **fields):
    payer = customer(**fields)
    services.create_service(db.session, admin(), payer.id, {"name": "Broadband", "price": "29.50"})
    return payer, issued(payer, amount)


def status_of(payer) -> str:
    return db.session.scalar(select(Customer.status).where(Customer.id == payer.id).execution_options(
        populate_existing=True))


def service_status(payer) -> str:
    return db.session.scalar(select(CustomerService.status).where(CustomerService.customer_id == payer.id)
                             .execution_options(populate_existing=True))


def state(payer) -> ReminderState:
    db.session.expire_all()
    return db.session.get(ReminderState, payer.id)


def run_days(first: int, last: int) -> None:
    for n in range(first, last + 1):
        run(n)


def enable_by_hand(payer) -> None:
    update_customer(db.session, admin(), payer.id, {"status": "active"})


def changes(payer, entity: str) -> list[dict]:
    return list(db.session.scalars(select(AuditEntry.changes).where(
        AuditEntry.customer_id == payer.id, AuditEntry.entity == entity).order_by(AuditEntry.id)))


# --- suspended ---------------------------------------------------------------------------------

def test_suspended_for_late_payment_after_the_final_step_and_the_grace_period_not_before(grace):
    payer, _ = overdue_customer()
    run_days(0, SUSPEND_DAY - 1)
    assert status_of(payer) == "active" and service_status(payer) == "active"
    assert state(payer).last_sent_on == day(FINAL)
    counts = run(SUSPEND_DAY)
    assert counts["suspended"] == 1
    assert status_of(payer) == "disabled" and service_status(payer) == "suspended"
    assert state(payer).suspended_on == day(SUSPEND_DAY)
    assert {"status": ["active", "disabled"]} in changes(payer, "customer")
    assert {"suspended_on": [None, day(SUSPEND_DAY).isoformat()], "reason": [None, "late payment"]} \
        in changes(payer, "reminder_state")
    shown, _ = profile.changes(db.session, admin(), payer.id)  # the profile's Changes
    assert {"customer", "service", "reminder_state"} <= {e.entity for e in shown}


def test_a_second_run_the_same_day_and_the_days_after_change_nothing(grace):
    payer, _ = overdue_customer()
    run(FINAL)
    assert run(SUSPEND_DAY)["suspended"] == 1
    entries = db.session.scalar(select(db.func.count(AuditEntry.id)))
    again = run(SUSPEND_DAY)
    assert (again["suspended"], again["re-enabled"], again["suspension taken over"]) == (0, 0, 0)
    run(SUSPEND_DAY + 1)
    assert db.session.scalar(select(db.func.count(AuditEntry.id))) == entries
    assert status_of(payer) == "disabled" and state(payer).suspended_on == day(SUSPEND_DAY)


def test_without_a_grace_period_nobody_is_suspended(ctx):
    payer, _ = overdue_customer()
    run(FINAL)
    assert run(FINAL + 200)["suspended"] == 0
    assert status_of(payer) == "active"


def test_do_not_suspend_for_late_payment_is_respected(grace):
    payer, _ = overdue_customer()
    db.session.execute(update(Customer).where(Customer.id == payer.id).values(do_not_suspend=True))
    db.session.commit()
    run(FINAL), run(SUSPEND_DAY)
    assert status_of(payer) == "active" and service_status(payer) == "active"
    shown = suspension.standing(db.session, finance(), payer.id, day(SUSPEND_DAY))
    assert shown.do_not_suspend and shown.suspends_on is None


def test_only_active_customers_are_suspended_and_only_after_the_final_step(grace):
    dormant, _ = overdue_customer()
    db.session.execute(update(Customer).where(Customer.id == dormant.id).values(status="blocked"))
    db.session.commit()
    early, _ = overdue_customer()
    run(14)
    assert run(14 + GRACE)["suspended"] == 0  # step 2 was the last sent: not the final one
    assert status_of(early) == "active" and status_of(dormant) == "blocked"


def test_postponed_until_a_date_then_suspended_on_it(grace):
    payer, _ = overdue_customer()
    run(FINAL)
    until = day(SUSPEND_DAY + 5)
    suspension.postpone(db.session, finance(), payer.id, until.isoformat(), today=day(FINAL + 1))
    assert suspension.standing(db.session, finance(), payer.id, day(FINAL + 1)).suspends_on == until
    run_days(SUSPEND_DAY, SUSPEND_DAY + 4)
    assert status_of(payer) == "active"
    run(SUSPEND_DAY + 5)
    assert status_of(payer) == "disabled"
    assert {"suspension_postponed_until": [None, until.isoformat()]} in changes(payer, "reminder_state")


def test_postponing_checks_the_date_the_permission_and_the_scope(grace):
    payer, _ = overdue_customer()
    with pytest.raises(Invalid) as bad:
        suspension.postpone(db.session, finance(), payer.id, "2020-13-01", today=day(FINAL))
    assert "suspension_postponed_until" in bad.value.errors
    with pytest.raises(Invalid):
        suspension.postpone(db.session, finance(), payer.id, day(FINAL - 1), today=day(FINAL))
    with pytest.raises(Forbidden):
        suspension.postpone(db.session, factories.user("staff"), payer.id, day(FINAL), today=day(FINAL))
    with pytest.raises(NotFound):
        suspension.postpone(db.session, finance(), 10 ** 9, day(FINAL), today=day(FINAL))
    db.session.rollback()
    assert state(payer) is None  # nothing written
    suspension.postpone(db.session, finance(), payer.id, day(FINAL + 50), today=day(FINAL))
    suspension.postpone(db.session, finance(), payer.id, "", today=day(FINAL))  # cleared
    run(FINAL), run(SUSPEND_DAY)
    assert status_of(payer) == "disabled"


# --- hold ----------------------------------------------------------------------------------------

def test_an_admin_who_enables_by_hand_holds_the_episode_until_a_new_one(grace):
    payer, invoice = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    enable_by_hand(payer)
    assert status_of(payer) == "active" and service_status(payer) == "active"
    held = state(payer)
    assert held.suspension_held and held.suspended_on is None
    assert {"suspended_on": [day(SUSPEND_DAY).isoformat(), None], "suspension_held": [False, True]} \
        in changes(payer, "reminder_state")
    run_days(SUSPEND_DAY + 1, SUSPEND_DAY + 30)
    assert status_of(payer) == "active"
    assert suspension.standing(db.session, finance(), payer.id, day(SUSPEND_DAY + 1)).on_hold
    # Paid: the episode ends. A new invoice goes overdue: a new episode, suspended again.
    pay(invoice, "100.00", day(SUSPEND_DAY + 31))
    run(SUSPEND_DAY + 31)
    assert state(payer).episode_started_on is None  # the episode ended; its hold goes with the next one
    start = SUSPEND_DAY + 40
    issued(payer, "80.00", on=day(start))
    run(start + FINAL)
    assert state(payer).episode == 2 and not state(payer).suspension_held
    run(start + FINAL + GRACE)
    assert status_of(payer) == "disabled" and service_status(payer) == "suspended"


def test_a_bulk_enable_holds_the_episode_too(grace):
    payer, _ = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    job = bulk.start_bulk_action(db.session, admin(), "enable", {}, str(uuid.uuid4()), ids=[payer.id])
    assert job.status == "done" and status_of(payer) == "active"
    assert state(payer).suspension_held
    run(SUSPEND_DAY + 1)
    assert status_of(payer) == "active"


def test_a_status_changed_outside_the_services_is_held_by_the_next_run(grace):
    payer, _ = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    db.session.execute(update(Customer).where(Customer.id == payer.id).values(status="active"))
    db.session.commit()
    assert run(SUSPEND_DAY + 1)["suspension taken over"] == 1
    assert status_of(payer) == "active" and state(payer).suspension_held


# --- re-enabled ----------------------------------------------------------------------------------

def test_paying_up_re_enables_a_customer_the_run_suspended_and_restores_its_services(grace):
    payer, invoice = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    assert service_status(payer) == "suspended"
    pay(invoice, "100.00", day(SUSPEND_DAY + 3))
    counts = run(SUSPEND_DAY + 3)
    assert counts["re-enabled"] == 1
    assert status_of(payer) == "active" and service_status(payer) == "active"
    assert state(payer).suspended_on is None
    assert changes(payer, "customer")[-1] == {"status": ["disabled", "active"]}
    assert run(SUSPEND_DAY + 3)["re-enabled"] == 0


def test_paying_up_never_enables_a_customer_disabled_by_hand(grace):
    by_hand, invoice = overdue_customer()
    run(FINAL)
    update_customer(db.session, admin(), by_hand.id, {"status": "disabled"})
    run(SUSPEND_DAY)
    assert state(by_hand).suspended_on is None  # not the run's suspension
    pay(invoice, "100.00", day(SUSPEND_DAY + 1))
    run(SUSPEND_DAY + 1)
    assert status_of(by_hand) == "disabled" and service_status(by_hand) == "suspended"


def test_enabled_by_hand_then_disabled_by_hand_stays_disabled_after_paying(grace):
    payer, invoice = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    enable_by_hand(payer)
    update_customer(db.session, admin(), payer.id, {"status": "disabled"})
    pay(invoice, "100.00", day(SUSPEND_DAY + 2))
    run(SUSPEND_DAY + 2)
    assert status_of(payer) == "disabled"


def test_below_the_minimum_ends_the_episode_and_re_enables(grace):
    payer, invoice = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    db.session.merge(CompanySettings(id=1, suspend_grace_days=GRACE, reminder_minimum=50))
    db.session.commit()
    pay(invoice, "60.00", day(SUSPEND_DAY + 1))  # 40 left: under the minimum
    run(SUSPEND_DAY + 1)
    assert status_of(payer) == "active"


# --- invoicing, settings, the Finances tab -------------------------------------------------------

def test_invoicing_goes_on_while_suspended(grace):
    payer, _ = overdue_customer()
    run(FINAL), run(SUSPEND_DAY)
    assert status_of(payer) == "disabled"
    later = issued(payer, "29.50", on=day(SUSPEND_DAY + 1))
    assert later.status == "issued" and later.number


def test_the_grace_period_is_a_company_setting(ctx):
    assert company.update(db.session, admin(), {"suspend_grace_days": "14"}) == ["suspend_grace_days"]
    assert suspension.grace_days(db.session) == 14
    for bad in ("-1", "soon", "10000"):
        with pytest.raises(Invalid) as refused:
            company.update(db.session, admin(), {"suspend_grace_days": bad})
        assert "suspend_grace_days" in refused.value.errors
    company.update(db.session, admin(), {"suspend_grace_days": ""})
    assert suspension.grace_days(db.session) is None


def test_the_finances_tab_reads_the_episode_and_the_suspension(grace):
    payer, _ = overdue_customer()
    fresh = suspension.standing(db.session, finance(), payer.id, day(1))
    assert fresh.episode is None and fresh.suspended_on is None and not fresh.on_hold
    run(FINAL)
    shown = suspension.standing(db.session, finance(), payer.id, day(FINAL))
    assert (shown.episode, shown.last_step, shown.last_sent_on, shown.suspends_on) == \
        (1, 3, day(FINAL), day(SUSPEND_DAY))
    run(SUSPEND_DAY)
    shown = suspension.standing(db.session, finance(), payer.id, day(SUSPEND_DAY))
    assert shown.suspended_on == day(SUSPEND_DAY) and shown.suspends_on is None
    other = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    with pytest.raises(NotFound):
        suspension.standing(db.session, factories.user("reseller_a"), other.id)

