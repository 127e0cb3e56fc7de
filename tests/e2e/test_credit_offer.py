"""Account credit in the browser, after cash allocation: a customer set to "ask" with credit left sees it
offered beside Issue on its draft, ticks it and the invoice is paid from it (the message says how much);
then the rest of that credit is picked as the source on the cash allocation screen and allocated to an
older invoice. The company's write-off limit and default are set on Company settings. Screenshots of the
offer and of the settings at both widths."""
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def a_customer_asked_with_credit(live_server) -> tuple[int, int, str]:
    """A customer set to "ask" with £30 of credit, an open invoice of £25 and a draft of £20:
    (customer id, draft id, the open invoice's number)."""
    def make(session):
        from sqlalchemy import select

        from app.models import PaymentMethod, TaxRate
        from app.services.billing import invoices, payments
        from app.services.customers.create import create_customer
        from tests.factories import user
        admin = user("admin")
        customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Grace",
                                                    "surname": "Hopper"})
        customer.use_credit = "ask"
        session.commit()
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        cash = session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
        old = (date.today() - timedelta(days=20)).isoformat()
        older = invoices.create_draft(session, admin, customer.id, {"issue_date": old, "due_date": old, "lines": [
            {"description": "Gutter clearing", "quantity": "1", "unit_price": "25.00", "tax_rate_id": rate}]},
            str(uuid.uuid4()), issue_now=True)
        payments.record_external(session, admin, customer.id, {"amount": "30.00", "method_id": cash,
                                                               "reference": "Prepaid"}, str(uuid.uuid4()))
        draft = invoices.create_draft(session, admin, customer.id, {"lines": [
            {"description": "Window cleaning", "quantity": "1", "unit_price": "20.00", "tax_rate_id": rate}]},
            str(uuid.uuid4()))
        return customer.id, draft.id, older.number
    return live_server.query(make)


def test_ask_offers_the_credit_on_issue_and_the_rest_is_allocated_from_the_screen(page_as, live_server,
                                                                                   screenshots):
    customer_id, draft_id, older = a_customer_asked_with_credit(live_server)
    page = page_as("finance")
    page.goto(f"/invoices/show/{draft_id}")
    expect(page.locator("#credit-offer")).to_contain_text("£30.00 available")
    shoot(page, screenshots, "invoice-credit-offer")
    page.locator("#use_credit").check()
    with page.expect_navigation():
        page.locator("#action-issue").click()
    expect(page.locator(".alert-success")).to_contain_text("issued: £20.00; £20.00 paid from account credit")
    expect(page.locator("#invoice-status")).to_have_text("Paid")
    expect(page.locator("#credit-offer")).to_have_count(0)

    page.goto(f"/cash-allocation/{customer_id}")
    source = page.locator("tr.source", has_text="Prepaid")
    expect(source).to_contain_text("£10.00")
    source.locator("input[type=radio]").check()
    page.locator("#oldest-first").click()
    expect(page.locator(".row-amount").nth(0)).to_have_value("10.00")
    with page.expect_navigation():
        page.locator("#save-allocation").click()
    expect(page.locator(".alert-success")).to_contain_text("£10.00 allocated to 1 invoice")
    expect(page.locator("tr.open-invoice", has_text=older)).to_contain_text("£15.00")
    expect(page.locator("tr.source")).to_have_count(0)


def test_the_write_off_limit_and_the_credit_default_are_company_settings(page_as, screenshots):
    page = page_as("admin")
    page.goto("/company/")
    page.locator("#write_off_limit").fill("2.50")
    page.locator("#use_credit_default").select_option("ask")
    with page.expect_navigation():
        page.locator("#company-save").click()
    expect(page.locator(".alert-success")).to_contain_text("write-off limit, account credit on new invoices changed")
    expect(page.locator("#write_off_limit")).to_have_value("2.50")
    page.locator("#write_off_limit").scroll_into_view_if_needed()
    shoot(page, screenshots, "company-settings-allocation")
    page.locator("#write_off_limit").fill("")
    page.locator("#use_credit_default").select_option("")
    with page.expect_navigation():
        page.locator("#company-save").click()
