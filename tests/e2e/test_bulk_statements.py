"""Send statement in a real browser: Finance ticks two customers who owe and one who owes nothing on the list,
chooses "Send statement" in the Actions menu, sees the confirmation (the date, the invoices; screenshots at
both widths) and follows the job to its result: two statements sent, one left out (nothing owed)."""
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def three_customers(live_server) -> list[int]:
    def make(session):
        from sqlalchemy import select

        from app.models import TaxRate
        from app.services.billing import invoices
        from app.services.customers.create import create_customer
        from tests.factories import user
        admin = user("admin")
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        ids = []
        for i, amount in enumerate(("80.00", "35.50", None)):
            customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Statement",
                                                        "surname": f"Bulk{i}{uuid.uuid4().hex[:6]}",
                                                        "email": f"bulk{i}{uuid.uuid4().hex[:6]}@example.com"})
            if amount:
                day = (date.today() - timedelta(days=40)).isoformat()
                invoices.create_draft(session, admin, customer.id, {"issue_date": day, "due_date": day, "lines": [
                    {"description": "Window cleaning", "quantity": "1", "unit_price": amount, "tax_rate_id": rate}]},
                    str(uuid.uuid4()), issue_now=True)
            ids.append(customer.id)
        return ids
    return live_server.query(make)


def test_send_statement_to_ticked_customers(page_as, live_server, screenshots):
    ids = three_customers(live_server)
    page = page_as("finance")
    page.goto("/customers/list/?_flt_0_first_name=Statement")
    for customer_id in ids:
        page.locator(f"input.action_check[value='{customer_id}']").check()
    page.locator(".well .btn-group button.dropdown-toggle", has_text="Actions").click()
    with page.expect_navigation():
        page.locator("a.send_statement_menu_item").click()

    expect(page.locator("#bulk-count")).to_contain_text("This will e-mail the statement of 3 customers")
    expect(page.locator("#as_at")).to_have_value(date.today().isoformat())
    expect(page.locator("#attach")).to_have_value("setting")
    expect(page.locator("#bulk-confirm")).to_have_text("Send 3 statements")
    shoot(page, screenshots, "bulk-send-statement")
    with page.expect_navigation():
        page.locator("#bulk-confirm").click()
    expect(page.locator("#job-messages")).to_contain_text("2 sent", timeout=20_000)
    expect(page.locator("#job-messages")).to_contain_text("1 not sent: nothing owed")
    shoot(page, screenshots, "bulk-send-statement-result")
