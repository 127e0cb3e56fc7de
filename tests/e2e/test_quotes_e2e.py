"""A quote in a real browser: New quote from the customer's Finances tab (the invoice form, its preview
adding up the lines), saved and sent, accepted into a draft invoice, and the Quotes sub-tab.
Screenshots of the form, the quote's page and the sub-tab at 1440 and 1024 px."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def a_customer(live_server) -> int:
    """An active customer billed in pounds that no other browser test picks."""
    def pick(session):
        from app.models import Customer
        return (session.query(Customer.id)
                .filter(Customer.status == "active", Customer.currency == "GBP", Customer.id % 7 == 6)
                .order_by(Customer.id.desc()).first())[0]
    return live_server.query(pick)


def test_a_quote_is_written_sent_and_accepted(page_as, live_server, screenshots):
    customer_id = a_customer(live_server)
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances&sub=quotes")
    with page.expect_navigation():
        page.locator("#new-quote").click()
    page.locator("#lines-0-description").fill("Conservatory roof clean")
    page.locator("#lines-0-category").select_option("labour")
    page.locator("#lines-0-quantity").fill("3")
    page.locator("#lines-0-unit_price").fill("25.00")
    expect(page.locator("#preview-total")).to_have_text("£90.00")
    expect(page.locator("#expires_on")).not_to_have_value("")
    shoot(page, screenshots, "quote-form")

    page.set_viewport_size({"width": 1400, "height": 900})
    with page.expect_navigation():
        page.locator("#save-send").click()
    expect(page.locator(".alert-success")).to_contain_text("sent: £90.00")  # back on the Quotes sub-tab
    row = page.locator("#finance-quotes tr.quote").first
    expect(row).to_contain_text("Sent")
    with page.expect_navigation():
        row.locator("a.quote-link").click()
    expect(page.locator("#quote-status")).to_have_text("Sent")
    expect(page.locator("#quote-number")).to_contain_text("QUO-")
    shoot(page, screenshots, "quote-page")

    page.once("dialog", lambda dialog: dialog.accept())  # "The customer accepted this quote: ...?"
    with page.expect_navigation():
        page.locator("#action-accept").click()
    expect(page.locator(".alert-success")).to_contain_text("draft invoice for £90.00")
    row = page.locator("#finance-quotes tr.quote").first
    expect(row).to_contain_text("Accepted")
    expect(row.locator("a.quote-invoice")).to_be_visible()
    shoot(page, screenshots, "quote-tab")
