"""A statement in the browser: from the Finances tab, the outstanding statement of a customer with a part-paid
invoice and a newer one, its ageing; an activity period chosen on the form; then e-mailed with one invoice
attached, landing back on the statement with a message naming what was sent. Screenshots at both widths."""
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def a_customer_who_owes(live_server) -> tuple[int, list[str]]:
    def make(session):
        from sqlalchemy import select

        from app.models import PaymentMethod, TaxRate
        from app.services.billing import invoices, payments
        from app.services.customers.create import create_customer
        from tests.factories import user
        admin = user("admin")
        customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Mary",
                                                    "surname": "Somerville", "email": "mary@example.com"})
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        cash = session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
        numbers = []
        for amount, days in (("120.00", 75), ("45.00", 12)):
            day = (date.today() - timedelta(days=days)).isoformat()
            invoice = invoices.create_draft(session, admin, customer.id, {
                "issue_date": day, "due_date": day, "lines": [
                    {"description": "Window cleaning", "quantity": "1", "unit_price": amount, "tax_rate_id": rate}]},
                str(uuid.uuid4()), issue_now=True)
            numbers.append(invoice.number)
            if days == 75:
                payments.record_payment(session, admin, invoice.id, {"amount": "20.00", "method_id": cash,
                                                                     "reference": "Cash at door"}, str(uuid.uuid4()))
        return customer.id, numbers
    return live_server.query(make)


def test_a_statement_is_shown_and_e_mailed_with_an_invoice(page_as, live_server, screenshots):
    customer_id, numbers = a_customer_who_owes(live_server)
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances")
    with page.expect_navigation():
        page.locator("#statement-link").click()
    expect(page.locator("tr.statement-line")).to_have_count(2)
    expect(page.locator("#statement-closing")).to_contain_text("£145.00")
    expect(page.locator("#statement-ageing")).to_contain_text("£100.00")
    shoot(page, screenshots, "statement-outstanding")

    page.locator("#kind-activity").check()
    page.locator("#start").fill((date.today() - timedelta(days=90)).isoformat())
    with page.expect_navigation():
        page.locator("#statement-show").click()
    expect(page.locator("tr.opening")).to_contain_text("Balance brought forward")
    expect(page.locator("#statement-lines")).to_contain_text("Cash at door")
    shoot(page, screenshots, "statement-activity")

    with page.expect_navigation():
        page.locator("#statement-email").click()
    expect(page.locator("#body")).to_contain_text("£145.00")
    boxes = page.locator(".attach-invoice")
    expect(boxes).to_have_count(2)
    for i in range(2):
        boxes.nth(i).uncheck()
    boxes.nth(0).check()
    shoot(page, screenshots, "statement-email")
    with page.expect_navigation():
        page.locator("#statement-email-send").click()
    expect(page.locator(".alert-success")).to_contain_text("Statement e-mailed to mary@example.com with 1 invoice")
    expect(page.locator("#statement-panel")).to_be_visible()
