"""The line picker on the new-invoice form: typing part of an item's name lists the customer's price
book items, arrow keys and Enter (or a click) pick one, the row is filled (description, unit price,
tax rate, category) and the preview's totals follow. The price book screens at both widths."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, shoot

pytestmark = pytest.mark.e2e


def a_customer(live_server) -> int:
    """An active customer billed in pounds (nothing is saved: the form is left unsent)."""
    def pick(session):
        from app.models import Customer
        return (session.query(Customer.id)
                .filter(Customer.status == "active", Customer.currency == "GBP", Customer.id % 5 == 4)
                .order_by(Customer.id).first())[0]
    return live_server.query(pick)


def test_typing_a_name_picks_an_item_into_the_line_and_the_totals_follow(page_as, live_server, screenshots):
    customer_id = a_customer(live_server)
    page = page_as("admin")
    page.goto(f"/invoices/new/{customer_id}")
    description = page.locator("#lines-0-description")
    description.press_sequentially("valve", delay=30)
    picker = page.locator("#price-picker")
    expect(picker).to_be_visible()
    options = picker.locator("li[role=option]")
    expect(options).to_have_count(2)  # the radiator valve (GBP) and the imported one (EUR, converted)
    expect(picker).to_contain_text("Thermostatic radiator valve")
    expect(picker).to_contain_text("converted from €38.00")
    for width in WIDTHS:  # the list open (shoot() would blur the field and close it)
        page.set_viewport_size({"width": width, "height": 800})
        expect(picker).to_be_visible()
        page.screenshot(path=str(screenshots / f"price-picker-open-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})

    # Keyboard: down to the second, Enter picks it (and does not send the form).
    description.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    description.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    name = options.nth(0).locator(".price-picker-line").inner_text()
    description.press("Enter")
    expect(picker).to_be_hidden()
    assert page.url.endswith(f"/invoices/new/{customer_id}")
    picked_imported = "Imported" in name
    expect(page.locator("#lines-0-unit_price")).to_have_value("32.68" if picked_imported else "24.50")
    expect(page.locator("#lines-0-category")).to_have_value("parts")
    expect(page.locator("#lines-0-quantity")).to_have_value("1")
    total = "£39.22" if picked_imported else "£29.40"  # at the default 20%
    expect(page.locator("#preview-total")).to_have_text(total)

    # Mouse, on a second line: a code's first letters.
    page.locator("#add-line").click()
    second = page.locator("#lines-1-description")
    second.press_sequentially("lab-h", delay=30)
    expect(options).to_have_count(1)
    options.first.click()
    expect(second).to_have_value("Labour per hour")
    expect(page.locator("#lines-1-unit_price")).to_have_value("45.00")
    expect(page.locator("#lines-1-category")).to_have_value("labour")
    expect(page.locator("#preview-net")).to_have_text("£77.68" if picked_imported else "£69.50")
    shoot(page, screenshots, "price-picker-picked")


def test_the_price_book_screens(page_as, screenshots):
    page = page_as("finance")
    page.goto("/price-books/list/")
    expect(page.locator("body")).to_contain_text("Standard prices")
    shoot(page, screenshots, "price-books-list")
    page.goto("/price-book-items/list/")
    expect(page.locator("body")).to_contain_text("Thermostatic radiator valve")
    expect(page.locator("body")).to_contain_text("€38.00")
    shoot(page, screenshots, "price-book-items-list")
    page.goto("/price-book-items/add")
    expect(page.locator("#category")).to_be_visible()
    shoot(page, screenshots, "price-book-item-form")
