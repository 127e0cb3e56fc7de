"""Payment reminders and suspension for late payment on a customer's Finances tab, in the browser (issue 16):
after the daily run sent the final step, the tab says when the customer would be suspended; Finance postpones
it and lands back on the tab with the date said. Screenshots at both widths."""
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def a_customer_sent_the_final_reminder(live_server) -> int:
    """A customer of its own, 45 days overdue, sent the final step by today's run; a 10 days' grace."""
    def make(session):
        from flask import current_app
        from sqlalchemy import select

        from app.models import CompanySettings, TaxRate
        from app.services.billing import invoices, reminders
        from app.services.customers.create import create_customer
        from tests.factories import user
        session.merge(CompanySettings(id=1, suspend_grace_days=10))
        session.commit()
        customer = create_customer(session, user("admin"), {
            "customer_type": "private", "first_name": "Late", "surname": "Payer",
            "email": f"{uuid.uuid4().hex[:8]}@example.com"})
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        on = (date.today() - timedelta(days=45)).isoformat()
        invoices.create_draft(session, user("finance"), customer.id, {
            "issue_date": on, "due_date": on,
            "lines": [{"description": "Broadband", "quantity": "1", "unit_price": "60.00", "tax_rate_id": rate}]},
            str(uuid.uuid4()), issue_now=True)
        reminders.run(session, date.today(), current_app.config)
        return customer.id
    return live_server.query(make)


def no_grace(session):
    from app.models import CompanySettings
    session.merge(CompanySettings(id=1, suspend_grace_days=None))
    session.commit()


def test_finance_sees_when_a_late_payer_would_be_suspended_and_postpones_it(page_as, live_server, screenshots):
    customer_id = a_customer_sent_the_final_reminder(live_server)
    try:
        see_and_postpone(page_as, customer_id, screenshots)
    finally:
        live_server.query(no_grace)


def see_and_postpone(page_as, customer_id, screenshots):
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances")
    expect(page.locator("#reminder-episode")).to_contain_text("step 3 sent on")
    expect(page.locator("#late-due")).to_contain_text((date.today() + timedelta(days=10)).strftime('%d %b %Y'))
    until = date.today() + timedelta(days=21)
    page.locator("#suspension_postponed_until").fill(until.isoformat())
    with page.expect_navigation():
        page.locator("#postpone-suspension").click()
    expect(page.locator(".alert-success")).to_contain_text(f"is not suspended for late payment before "
                                                           f"{until.strftime('%d %b %Y')}")
    expect(page.locator("#late-postponed")).to_contain_text(until.strftime('%d %b %Y'))
    page.locator("#payment-reminders").scroll_into_view_if_needed()
    shoot(page, screenshots, "finances-late-payment")
