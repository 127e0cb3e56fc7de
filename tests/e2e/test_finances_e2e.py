"""The customer's Finances tab with an invoice, a part payment and a credit (each sub-tab), the
Credits list, and Add credit from the tab: an error next to the reason, then back on the tab with
the credit named."""
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, shoot

pytestmark = pytest.mark.e2e


def a_customer_with_money(live_server) -> int:
    """A private customer no other browser test picks, with an issued invoice of £120.00 part paid
    (£30.00) and a manual credit of £5.00: made once, found again on a second run."""
    def make(session):
        from sqlalchemy import select
        from app.models import Customer, Invoice, PaymentMethod, TaxRate, User
        from app.services.billing import invoices, payments
        customer_id = (session.query(Customer.id)
                       .filter(Customer.status == "active", Customer.customer_type == "private", Customer.id % 7 == 4)
                       .order_by(Customer.id.desc()).first())[0]
        if session.scalar(select(Invoice.id).where(Invoice.customer_id == customer_id)) is not None:
            return customer_id
        admin = session.query(User).filter_by(username="admin").one()
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Standard rate"))
        cash = session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
        draft = invoices.create_draft(session, admin, customer_id, {"lines": [
            {"description": "Window cleaning, March", "quantity": 1, "unit_price": "100.00", "tax_rate_id": rate}]},
            str(uuid.uuid4()))
        invoice = invoices.issue(session, admin, draft.id, str(uuid.uuid4()))
        payments.record_payment(session, admin, invoice.id, {"amount": "30.00", "method_id": cash,
                                                             "reference": "Till 4"}, str(uuid.uuid4()))
        payments.add_credit(session, admin, customer_id, {"amount": "5.00", "reason": "Missed a window"},
                            str(uuid.uuid4()))
        return customer_id
    return live_server.query(make)


def test_the_finances_tab_shows_invoices_payments_credits_and_the_ledger(page_as, live_server, screenshots):
    customer_id = a_customer_with_money(live_server)
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances")
    expect(page.locator("#debt")).to_contain_text("Owes £90.00")
    expect(page.locator("#finance-invoices")).to_contain_text("Part-paid")
    expect(page.locator("#add-credit")).to_be_visible()
    shoot(page, screenshots, "finances-invoices")
    for sub, text in (("payments", "Till 4"), ("credits", "Missed a window"), ("ledger", "Balance")):
        page.locator(f"#sub-{sub}").click()
        expect(page.locator(f"#finance-{sub}")).to_contain_text(text)
        shoot(page, screenshots, f"finances-{sub}")


def test_the_credits_list_and_add_credit_from_the_tab(page_as, live_server, screenshots):
    customer_id = a_customer_with_money(live_server)
    page = page_as("finance")
    page.goto("/credits/list/")
    expect(page.locator("#export-csv")).to_be_visible()
    expect(page.locator("table.table-bordered")).to_contain_text("Manual credit")
    shoot(page, screenshots, "credits-list")

    page.goto(f"/customers/show/{customer_id}?tab=finances&sub=credits")
    with page.expect_navigation():
        page.locator("#add-credit").click()
    page.locator("#amount").fill("12.50")
    page.locator("#reference").fill("GW-12")
    page.locator("#reason").evaluate("e => e.removeAttribute('required')")  # the server's error, next to it
    with page.expect_navigation():
        page.locator("#save").click()
    expect(page.locator("#group-reason .field-error")).to_be_visible()
    shoot(page, screenshots, "add-credit-error")
    page.locator("#reason").fill("Late visit")
    shoot(page, screenshots, "add-credit")
    with page.expect_navigation():
        page.locator("#save").click()
    assert f"/customers/show/{customer_id}?tab=finances&sub=credits" in page.url
    expect(page.locator("body")).to_contain_text("Credit of £12.50 added to")
    expect(page.locator("#finance-credits")).to_contain_text("Late visit")
