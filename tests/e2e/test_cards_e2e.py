"""A customer's cards in the browser: from the Finances tab's Cards button, Add card (an error first:
the number and CVC come back empty), then the list with the card as the default."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, shoot

pytestmark = pytest.mark.e2e


def a_customer_for_cards(live_server) -> int:
    """A private customer no other browser test picks (its cards are made here)."""
    def pick(session):
        from app.models import Customer
        return (session.query(Customer.id)
                .filter(Customer.status == "active", Customer.customer_type == "private", Customer.id % 7 == 6)
                .order_by(Customer.id.desc()).first())[0]
    return live_server.query(pick)


def test_add_a_card_from_the_finances_tab_and_see_it_listed(page_as, live_server, screenshots):
    customer_id = a_customer_for_cards(live_server)
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances")
    page.locator("#cards").click()
    page.locator("#add-card").click()
    page.fill("#number", "4242 4242 4242 4242")
    page.select_option("#exp_month", "9")
    page.fill("#exp_year", "2001")
    page.fill("#cvc", "123")
    page.fill("#name", "Card Holder")
    page.locator("#save").click()
    expect(page.locator("#group-expiry")).to_contain_text("This card has expired")
    expect(page.locator("#number")).to_have_value("")
    expect(page.locator("#cvc")).to_have_value("")
    expect(page.locator("#retype")).to_be_visible()
    shoot(page, screenshots, "cards-add-error", widths=WIDTHS[:1])
    page.fill("#number", "4242 4242 4242 4242")
    page.fill("#exp_year", "2031")
    page.fill("#cvc", "123")
    page.locator("#save").click()
    expect(page.locator("#card-list")).to_contain_text("Visa \u2022\u2022\u2022\u2022 4242")
    expect(page.locator("#card-list")).to_contain_text("09/2031")
    expect(page.locator("#card-list .default-card").first).to_be_visible()
    shoot(page, screenshots, "cards")
