"""The customers' Actions menu in a real browser, on the list and on a customer's page: the same
groups and words, dividers between them, delete last in red; and a list that shows its stored
codes as words. Screenshots at 1440 and 1024 px wide."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

WIDTHS = (1440, 1024)
LIST_MENU = ".well .btn-group ul.actions-menu"
PROFILE_MENU = ".profile-header ul.actions-menu"


def entries(page, menu: str) -> list[str]:
    """The open menu's entries in order, a divider as "|"."""
    return page.eval_on_selector_all(
        f"{menu} > li",
        "lis => lis.map(li => li.classList.contains('divider') ? '|' : li.innerText.trim())")


def an_active_customer(live_server):
    def pick(session):
        from app.models import Customer
        return session.query(Customer.id).filter(Customer.status == "active").order_by(Customer.id).first()[0]
    return live_server.query(pick)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_lists_actions_menu_in_groups_with_delete_last(admin_page, screenshots, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/customers/list/")
    expect(page.locator(".count-label")).to_have_text("Customers:")
    page.locator(".well .btn-group button.dropdown-toggle", has_text="Actions").click()
    expect(page.locator(LIST_MENU)).to_be_visible()
    assert entries(page, LIST_MENU) == [
        "Enable", "Disable", "Make dormant", "Block", "Archive", "Unarchive", "|",
        "Send an e-mail", "Send a text", "Send statement", "|", "Edit status, tags, billing…", "|", "Delete"]
    delete = page.locator(f"{LIST_MENU} li.action-danger a")
    expect(delete).to_have_css("color", "rgb(169, 68, 66)")
    page.screenshot(path=str(screenshots / f"actions-list-{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_profiles_actions_menu_reads_as_the_lists(admin_page, live_server, screenshots, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/customers/show/{an_active_customer(live_server)}")
    page.locator("#profile-actions").click()
    expect(page.locator(PROFILE_MENU)).to_be_visible()
    assert entries(page, PROFILE_MENU) == [
        "Disable", "Make dormant", "Block", "Archive", "|", "Send an e-mail", "Send a text", "Send statement", "|",
        "Edit status, tags, billing…", "Change customer type", "|", "Merge a duplicate into this customer", "|", "Delete"]
    box = page.locator(PROFILE_MENU).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width  # the whole menu on the screen
    page.screenshot(path=str(screenshots / f"actions-profile-{width}.png"))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_services_list_shows_words_and_its_count(admin_page, screenshots, width):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/services/list/")
    expect(page.locator(".count-label")).to_have_text("Services:")
    assert "Record Count" not in page.content()
    page.screenshot(path=str(screenshots / f"services-list-{width}.png"), full_page=True)


def test_the_services_list_shows_billing_cycles_and_statuses_as_words(admin_page):
    page = admin_page
    page.goto("/services/list/")
    cells = page.locator("div.table-responsive tbody").inner_text()
    assert "Monthly" in cells and "monthly" not in cells
