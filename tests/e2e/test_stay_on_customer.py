"""Issue 12, "stay where the work is", in a real browser: a contact saved from the customer's
page comes back to its Contacts tab with a message naming it; one customer's action is asked
for by name and done at once, back on its page."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e



def a_company(live_server) -> tuple[int, str]:
    """An active company no other browser test picks (theirs: private customers, the newest ones)."""
    def pick(session):
        from app.models import Customer
        return (session.query(Customer.id, Customer.name)
                .filter(Customer.status == "active", Customer.customer_type == "company", Customer.id % 5 == 3)
                .order_by(Customer.id).first())
    return tuple(live_server.query(pick))



def test_a_contact_saved_from_the_profile_comes_back_to_its_tab(page_as, live_server, screenshots):
    customer_id, _ = a_company(live_server)
    page = page_as("staff")
    page.goto(f"/customers/show/{customer_id}?tab=contacts")
    with page.expect_navigation():
        page.locator("#add-contact").click()
    page.locator("#first_name").fill("Ada")
    page.locator("#surname").fill("Okafor")
    expect(page.locator("#is_primary")).to_have_attribute("type", "checkbox")
    with page.expect_navigation():
        page.locator("form button[type=submit]").first.click()
    expect(page).to_have_url(f"{live_server.url}/customers/show/{customer_id}?tab=contacts")
    expect(page.locator(".alert-success")).to_contain_text("Contact Ada Okafor added")
    expect(page.locator("#contacts")).to_contain_text("Ada Okafor")
    shoot(page, screenshots, "stay-contact-saved")


def test_one_customers_action_names_it_and_comes_back_to_its_page(page_as, live_server, screenshots):
    customer_id, name = a_company(live_server)
    page = page_as("staff")
    page.goto(f"/customers/show/{customer_id}")
    page.locator("#profile-actions").click()
    with page.expect_navigation():
        page.locator("a.profile-action-disable").click()
    expect(page.locator("#bulk-title")).to_have_text(f"Disable {name} (#{customer_id})?")
    shoot(page, screenshots, "stay-one-customer-confirm")
    with page.expect_navigation():
        page.locator("#bulk-confirm").click()
    expect(page).to_have_url(f"{live_server.url}/customers/show/{customer_id}")
    expect(page.locator(".alert-success")).to_contain_text(f"{name} (#{customer_id}) disabled")
    shoot(page, screenshots, "stay-one-customer-done")
    # put it back, for whoever picks this customer next
    page.locator("#profile-actions").click()
    with page.expect_navigation():
        page.locator("a.profile-action-enable").click()
    with page.expect_navigation():
        page.locator("#bulk-confirm").click()
    expect(page.locator(".alert-success")).to_contain_text(f"(#{customer_id}) enabled")
