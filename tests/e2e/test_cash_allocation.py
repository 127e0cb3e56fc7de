"""Allocate cash in the browser: from the Finances tab, a payment typed in, "Allocate oldest first" filling
the three invoices from the server's answer, the last one cut to a part payment and the excess said live as
account credit, saved (after a row above its outstanding was refused next to it); then one allocation
un-allocated. The screen at both widths, before and after."""
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def a_customer_with_three_invoices(live_server) -> tuple[int, list[str]]:
    """A customer of its own with open invoices of £50, £40 and £30 (oldest first) -> (id, their numbers)."""
    def make(session):
        from sqlalchemy import select

        from app.models import TaxRate
        from app.services.billing import invoices
        from app.services.customers.create import create_customer
        from tests.factories import user
        admin = user("admin")
        customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Ada",
                                                    "surname": "Byron"})
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        numbers = []
        for amount, days in (("50.00", 30), ("40.00", 20), ("30.00", 10)):
            day = (date.today() - timedelta(days=days)).isoformat()
            numbers.append(invoices.create_draft(session, admin, customer.id, {
                "issue_date": day, "due_date": day, "lines": [
                    {"description": "Boiler service", "quantity": "1", "unit_price": amount, "tax_rate_id": rate}]},
                str(uuid.uuid4()), issue_now=True).number)
        return customer.id, numbers
    return live_server.query(make)


def test_a_payment_is_allocated_oldest_first_with_one_part_paid_then_one_unallocated(page_as, live_server,
                                                                                      screenshots):
    customer_id, numbers = a_customer_with_three_invoices(live_server)
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances")
    with page.expect_navigation():
        page.locator("#cash-allocation-link").click()
    rows = page.locator("tr.open-invoice")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(numbers[0])

    page.locator("#method_id").select_option(label="Cash")
    page.locator("#reference").fill("BACS 1234")
    page.locator("#amount").fill("110.00")
    page.locator("#oldest-first").click()
    amounts = page.locator(".row-amount")
    expect(amounts.nth(0)).to_have_value("50.00")
    expect(amounts.nth(1)).to_have_value("40.00")
    expect(amounts.nth(2)).to_have_value("20.00")
    expect(page.locator("#remainder")).to_have_text("£0.00")
    expect(page.locator("#excess-note")).to_be_hidden()

    amounts.nth(1).fill("45.00")  # above what is outstanding: refused next to its row, nothing written
    expect(page.locator("#over-note")).to_have_text("The rows come to £5.00 more than the payment.")
    with page.expect_navigation():
        page.locator("#save-allocation").click()
    expect(page.locator("tr.open-invoice").nth(1).locator(".field-error")).to_contain_text(
        f"Only £40.00 of invoice {numbers[1]} is outstanding.")
    expect(page.locator("tr.allocation")).to_have_count(0)
    shoot(page, screenshots, "cash-allocation-refused")
    amounts.nth(1).fill("40.00")  # the row's error goes with the amount it was about
    expect(page.locator("tr.open-invoice").nth(1).locator(".field-error")).to_have_count(0)
    amounts.nth(2).fill("10.00")  # the newest paid in part: the rest of the payment becomes credit
    expect(page.locator("#remainder")).to_have_text("£10.00")
    expect(page.locator("#excess-note")).to_have_text("£10.00 becomes account credit.")
    shoot(page, screenshots, "cash-allocation")

    with page.expect_navigation():
        page.locator("#save-allocation").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "£100.00 allocated to 3 invoices; £10.00 becomes account credit")
    expect(page.locator("tr.open-invoice")).to_have_count(1)
    expect(page.locator("tr.open-invoice")).to_contain_text("£20.00")
    expect(page.locator("#source-panel")).to_contain_text("£10.00 unallocated")
    expect(page.locator("tr.allocation")).to_have_count(3)

    done = page.locator("tr.allocation", has_text=numbers[1])
    with page.expect_navigation():
        done.locator("button.unallocate").click()
    expect(page.locator(".alert-success")).to_contain_text(f"£40.00 un-allocated from invoice {numbers[1]}")
    expect(page.locator("tr.open-invoice")).to_have_count(2)
    expect(page.locator("#source-panel")).to_contain_text("£50.00 unallocated")
    shoot(page, screenshots, "cash-allocation-unallocated")

    reader = page_as("readonly")
    reader.goto(f"/cash-allocation/{customer_id}")
    expect(reader.locator("tr.open-invoice")).to_have_count(2)
    expect(reader.locator("form#allocation-form, button.unallocate")).to_have_count(0)
    shoot(reader, screenshots, "cash-allocation-read-only")
