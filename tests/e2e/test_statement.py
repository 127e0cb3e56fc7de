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


def a_customer_grouping_by_contact(live_server) -> tuple[int, int]:
    """Mary (statements grouped by contact) owes £45.00 herself and £300.00 on a claim invoiced to her
    insurer -> (customer id, insurer id)."""
    def make(session):
        from sqlalchemy import select

        from app.models import TaxRate
        from app.services.billing import invoice_addresses, invoices
        from app.services.customers.create import create_customer
        from tests.factories import user
        admin = user("admin")
        customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Grace",
                                                    "surname": "Hopper", "email": "grace@example.com"})
        customer.group_statements_by_contact = True
        session.commit()
        insurer = invoice_addresses.add(session, admin, {
            "name": "Acme Insurance", "contact_name": "Claims Dept", "line1": "1 Policy Road", "town": "York",
            "postcode": "YO1 1AA", "email": "claims@example.com"})
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        for amount, days, to in (("45.00", 12, None), ("300.00", 50, insurer.id)):
            day = (date.today() - timedelta(days=days)).isoformat()
            draft = invoices.create_draft(session, admin, customer.id, {
                "issue_date": day, "due_date": day, "lines": [
                    {"description": "Boiler repair", "quantity": "1", "unit_price": amount, "tax_rate_id": rate}]},
                str(uuid.uuid4()))
            if to:
                invoice_addresses.choose_for_invoice(session, admin, draft.id, to)
            invoices.issue(session, admin, draft.id, str(uuid.uuid4()))
        return customer.id, insurer.id
    return live_server.query(make)


def test_a_statement_grouped_by_contact_shows_each_contacts_statement(page_as, live_server, screenshots):
    customer_id, insurer_id = a_customer_grouping_by_contact(live_server)
    page = page_as("finance")
    page.goto(f"/statements/{customer_id}")
    expect(page.locator("#by_contact")).to_have_value("yes")  # the customer's setting
    groups = page.locator(".statement-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).locator(".statement-contact")).to_contain_text("Grace Hopper")
    expect(groups.nth(1).locator(".statement-contact")).to_contain_text("Acme Insurance (Claims Dept)")
    expect(page.locator("#statement-closing-customer")).to_contain_text("£45.00")
    expect(page.locator(f"#statement-closing-{insurer_id}")).to_contain_text("£300.00")
    shoot(page, screenshots, "statement-grouped")

    with page.expect_navigation():
        page.locator(f"#statement-email-{insurer_id}").click()
    expect(page.locator("#to")).to_have_value("claims@example.com")
    expect(page.locator("#body")).to_contain_text("£300.00")
    with page.expect_navigation():
        page.locator("#statement-email-send").click()
    expect(page.locator(".alert-success")).to_contain_text("Statement e-mailed to claims@example.com")
    expect(page.locator(".statement-group")).to_have_count(2)

    page.locator("#by_contact").select_option("no")
    with page.expect_navigation():
        page.locator("#statement-show").click()
    expect(page.locator("#statement-closing")).to_contain_text("£345.00")
