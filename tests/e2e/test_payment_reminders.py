"""Payment reminders' screens in the browser (issue 16): the Admin's steps page, a step refused for an
unknown placeholder beside its field, and Finance's "Overdue, not reminded" list with Send reminder
landing back with the customer named. Both pages at both widths."""
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def an_overdue_customer(live_server, name: str) -> int:
    """A customer of its own whose reminders are manual, with an invoice 20 days overdue."""
    def make(session):
        from sqlalchemy import select, update

        from app.models import Customer, TaxRate
        from app.services.billing import invoices
        from app.services.customers.create import create_customer
        from tests.factories import user
        customer = create_customer(session, user("admin"), {
            "customer_type": "private", "first_name": name, "surname": "Slowpay",
            "email": f"{uuid.uuid4().hex[:8]}@example.com"})
        session.execute(update(Customer).where(Customer.id == customer.id).values(payment_reminders="manual"))
        session.commit()
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        on = (date.today() - timedelta(days=20)).isoformat()
        invoices.create_draft(session, user("finance"), customer.id, {
            "issue_date": on, "due_date": on,
            "lines": [{"description": "Boiler service", "quantity": "1", "unit_price": "180.00", "tax_rate_id": rate,
                       "category": "labour"}]}, str(uuid.uuid4()), issue_now=True)
        return customer.id
    return live_server.query(make)


def test_the_admin_reads_the_steps_and_a_bad_placeholder_is_said_beside_the_field(page_as, screenshots):
    page = page_as("admin")
    page.goto("/reminder-steps/")
    rows = page.locator("#steps-table tr.reminder-step")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Payment reminder: {overdue} overdue")
    expect(rows.nth(2)).to_contain_text("30 overdue")
    shoot(page, screenshots, "reminder-steps")

    with page.expect_navigation():
        page.locator("#add-step").click()
    page.locator("#days").fill("60")
    page.locator("#subject").fill("Very late: {overdue}")
    page.locator("#body").fill("Dear {name}, pay {amount_owed} now.")
    with page.expect_navigation():
        page.locator("#save").click()
    expect(page.locator("#group-body .field-error")).to_contain_text("Unknown placeholder {amount_owed}. Known:")
    expect(page.locator("#subject")).to_have_value("Very late: {overdue}")
    shoot(page, screenshots, "reminder-step-refused")


def test_finance_sends_a_reminder_from_the_overdue_list(page_as, live_server, screenshots):
    customer_id = an_overdue_customer(live_server, "Olive")
    page = page_as("finance")
    page.goto("/overdue-not-reminded/")
    row = page.locator(f"tr.overdue-row[data-customer='{customer_id}']")
    expect(row).to_contain_text("Olive Slowpay")
    expect(row).to_contain_text("£180.00")
    expect(row).to_contain_text("Reminders manual")
    shoot(page, screenshots, "overdue-not-reminded")
    with page.expect_navigation():
        row.locator(".send-reminder").click()
    expect(page.locator(".alert-success")).to_contain_text("Reminder step 2 sent to Olive Slowpay (£180.00 overdue).")

    page.goto(f"/customers/show/{customer_id}?tab=finances")
    expect(page.locator("#payment-reminders")).to_contain_text("step 2 sent on")
    expect(page.locator("#move-next-form")).to_be_visible()


def test_a_dormant_customer_is_sent_one_only_after_confirming_it_goes_despite_its_status(page_as, live_server,
                                                                                     screenshots):
    customer_id = an_overdue_customer(live_server, "Dora")

    def make_dormant(session):
        from sqlalchemy import update

        from app.models import Customer
        session.execute(update(Customer).where(Customer.id == customer_id).values(status="dormant"))
        session.commit()
    live_server.query(make_dormant)
    page = page_as("finance")
    page.goto("/overdue-not-reminded/")
    row = page.locator(f"tr.overdue-row[data-customer='{customer_id}']")
    expect(row).to_contain_text("Dormant")
    expect(row.locator(".send-despite-status")).to_have_text("Send despite dormant")
    shoot(page, screenshots, "overdue-send-despite-status")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.locator(".send-despite-status").click()
    assert asked == ["Dora Slowpay is dormant: automatic reminders skip this customer. Send a reminder anyway, "
                     "despite its status?"]
    expect(page.locator(".alert-success")).to_have_count(0)  # dismissed: nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.locator(".send-despite-status").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Reminder step 2 sent to Dora Slowpay (£180.00 overdue), despite its status (dormant).")
