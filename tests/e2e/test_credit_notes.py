"""A credit note in a real browser: "Raise credit note" on an issued invoice opens the invoice form
pre-filled with the invoice's lines and what is left to credit; saved, it lands on the credit note's
page, which says what it paid on the invoice and what became account credit. Its PDF in each of
Commusoft's four breakdown styles is kept as a picture. Screenshots at 1440 and 1024 px."""
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot
from tests.e2e.test_invoices_e2e import look_at_pdf

pytestmark = pytest.mark.e2e


def an_invoice(live_server) -> int:
    """An issued invoice (labour £120.00, parts £45.00 and £15.00, at 20%) of a customer billed in
    pounds that no other browser test picks."""
    def make(session):
        from app.models import Customer
        from app.services.billing import invoices
        from tests import factories
        customer_id = (session.query(Customer.id)
                       .filter(Customer.status == "active", Customer.currency == "GBP", Customer.id % 11 == 10)
                       .order_by(Customer.id.desc()).first())[0]
        invoice = invoices.create_draft(session, factories.user("admin"), customer_id, {"lines": [
            {"description": "Boiler installation labour", "category": "labour", "quantity": "4",
             "unit_price": "30.00"},
            {"description": "Thermostatic radiator valve", "category": "parts", "quantity": "3",
             "unit_price": "15.00"},
            {"description": "Flue extension", "category": "parts", "quantity": "1", "unit_price": "15.00"},
            {"description": "Waste disposal", "category": "other", "quantity": "1", "unit_price": "10.00"}]},
            str(uuid.uuid4()), issue_now=True)
        return invoice.id
    return live_server.query(make)


def test_a_credit_note_is_raised_from_an_invoice_and_printed_in_each_style(page_as, live_server, screenshots):
    invoice_id = an_invoice(live_server)
    page = page_as("finance")
    page.goto(f"/invoices/show/{invoice_id}")
    with page.expect_navigation():
        page.locator("#action-credit-note").click()
    expect(page.locator("tr.invoice-line")).to_have_count(5)  # the invoice's four lines and a blank one
    expect(page.locator("#left-to-credit")).to_contain_text("£228.00 is left to credit")
    page.locator("#description").fill("Boiler install refund")
    page.locator("#breakdown_style").select_option("full_category")
    page.locator("#lines-0-quantity").fill("1")  # one hour of labour back
    page.locator("#lines-1-quantity").fill("1")  # one valve returned
    page.locator("tr.invoice-line").nth(3).locator(".remove-line").click()  # waste disposal stays charged
    page.locator("#notes").fill("Sorry for the extra visit.")
    expect(page.locator("#preview-total")).to_have_text("£72.00")
    shoot(page, screenshots, "credit-note-form")

    page.set_viewport_size({"width": 1400, "height": 900})
    with page.expect_navigation():
        page.locator("#save-credit").click()
    expect(page.locator(".alert-success")).to_contain_text("Credit note CN-")
    expect(page.locator(".alert-success")).to_contain_text("£72.00 paid on invoice")
    expect(page.locator("#credit-note-description")).to_have_text("Boiler install refund")
    expect(page.locator("#credit-left")).to_contain_text("£0.00")
    expect(page.locator("#credit-note-allocations tr.allocation")).to_have_count(1)
    shoot(page, screenshots, "credit-note-page")

    for style in ("none", "category", "full", "full_category"):
        href = page.locator("#action-pdf").get_attribute("href")
        pdf = page.request.get(f"{href}?style={style}")
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
        look_at_pdf(pdf.body(), screenshots / f"credit-note-pdf-{style}")

    page.goto(f"/invoices/show/{invoice_id}")
    expect(page.locator("#invoice-credit-notes tr.credit-note")).to_have_count(1)
    expect(page.locator("#invoice-status")).to_have_text("Part-paid")
    shoot(page, screenshots, "invoice-with-credit-note")

    # The customer's Credit notes sub-tab lists it; "Add credit note" gives account credit shown on Credits.
    with page.expect_navigation():
        page.locator("#invoice-credit-notes a").first.click()
    with page.expect_navigation():
        page.locator("#customer-link").click()
    expect(page.locator("#finance-credit-notes tr.credit-note")).to_have_count(1)
    with page.expect_navigation():
        page.locator("#add-credit-note").click()
    page.locator("#description").fill("Goodwill for the late visit")
    page.locator("#lines-0-description").fill("Late visit")
    page.locator("#lines-0-unit_price").fill("10.00")
    with page.expect_navigation():
        page.locator("#save-credit").click()
    expect(page.locator(".alert-success")).to_contain_text("£12.00 became account credit")
    with page.expect_navigation():
        page.locator("#back").click()
    expect(page.locator("#finance-credit-notes tr.credit-note")).to_have_count(2)
    shoot(page, screenshots, "credit-notes-tab")
