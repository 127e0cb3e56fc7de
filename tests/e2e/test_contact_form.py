"""A contact added from the customer's Contacts tab with its phone numbers on the same form and
"primary" a tick box, back on the tab with a message naming it."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, shoot

pytestmark = pytest.mark.e2e



def a_company(live_server) -> int:
    """An active company no other browser test picks."""
    def pick(session):
        from app.models import Customer
        return (session.query(Customer.id)
                .filter(Customer.status == "active", Customer.customer_type == "company", Customer.id % 5 == 2)
                .order_by(Customer.id.desc()).first())[0]
    return live_server.query(pick)



def fill_in(page) -> None:
    expect(page.locator(".phone-row")).to_have_count(3)
    page.locator("#first_name").fill("Ada")
    page.locator("#surname").fill("Okafor")
    page.locator("#position").fill("Office manager")
    primary = page.locator("#is_primary")
    expect(primary).to_have_attribute("type", "checkbox")
    primary.check()
    page.locator("#phone_rows-0-number").fill("07400 123456")
    page.locator("#phone_rows-1-kind").select_option("office")
    page.locator("#phone_rows-1-number").fill("020 7946 0000")


def test_a_contact_is_added_with_two_phones_and_primary_ticked_from_the_contacts_tab(page_as, live_server,
                                                                                     screenshots):
    customer_id = a_company(live_server)
    page = page_as("staff")
    page.goto(f"/customers/show/{customer_id}?tab=contacts")
    with page.expect_navigation():
        page.locator("#add-contact").click()
    form_url = page.url
    # Each width from a fresh load: FAB's select2 fixes its width when the page loads.
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(form_url)
        fill_in(page)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        page.screenshot(path=str(screenshots / f"contact-form-{width}.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#save-contact").click()
    expect(page).to_have_url(f"{live_server.url}/customers/show/{customer_id}?tab=contacts")
    expect(page.locator(".alert-success")).to_contain_text("Contact Ada Okafor added")
    row = page.locator("#contacts tr.contact", has_text="Ada Okafor")
    expect(row.locator(".contact-primary")).to_have_text("Yes")
    expect(row).to_contain_text("07400 123456")
    expect(row).to_contain_text("020 7946 0000")
    expect(page.locator("#side-contacts li", has_text="Ada Okafor")).to_contain_text("Primary")
    expect(page.locator("#contacts")).not_to_contain_text("True")
    expect(page.locator("#contacts")).not_to_contain_text("False")
    other = page.locator("#contacts tr.contact", has_not_text="Ada Okafor").first
    expect(other.locator(".contact-primary input[type=checkbox]")).not_to_be_checked()
    shoot(page, screenshots, "profile-contacts")


def test_an_invalid_phone_in_row_two_is_shown_next_to_it_and_nothing_is_saved(page_as, live_server, screenshots):
    customer_id = a_company(live_server)
    page = page_as("staff")
    page.goto(f"/customers/show/{customer_id}?tab=contacts")
    with page.expect_navigation():
        page.locator("#add-contact").click()
    page.locator("#surname").fill("Nobody")
    page.locator("#phone_rows-0-number").fill("07400 123457")
    page.locator("#phone_rows-1-number").fill("12345")
    with page.expect_navigation():
        page.locator("#save-contact").click()
    expect(page.locator("#phone-row-1 .phone-error")).to_contain_text("Enter a valid phone number")
    expect(page.locator("#phone-row-0 .phone-error")).to_have_count(0)
    expect(page.locator("#phone_rows-1-number")).to_have_value("12345")
    page.screenshot(path=str(screenshots / "contact-form-error-1440.png"), full_page=True)
    page.goto(f"/customers/show/{customer_id}?tab=contacts")
    expect(page.locator("#contacts")).not_to_contain_text("Nobody")
