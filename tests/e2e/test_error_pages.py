"""Error pages in a real browser (issue 12): 403, 404 and 500 in the app's layout, with the menu,
a plain message and a way back; screenshots at 1440 and 1024 px wide."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

WIDTHS = (1440, 1024)


def _shoot(page, screenshots, name):
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 700})
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)


def _in_the_layout(page):
    expect(page.locator(".navbar")).to_be_visible()
    expect(page.locator(".navbar").get_by_text("Customers").first).to_be_visible()
    expect(page.locator("#error-home")).to_be_visible()


def test_a_forbidden_page_is_the_403_page_and_back_leads_to_where_the_user_was(page_as, live_server, screenshots):
    page = page_as("readonly")
    page.goto("/customers/list/")
    response = page.goto("/customers/add", referer=f"{live_server.url}/customers/list/")
    assert response.status == 403
    _in_the_layout(page)
    expect(page.locator("#error-heading")).to_have_text("You may not open this page")
    expect(page.locator("#error-message")).to_contain_text("ask an administrator")
    _shoot(page, screenshots, "error-403")
    with page.expect_navigation():
        page.locator("#error-back").click()
    assert page.url.endswith("/customers/list/")


def test_an_unknown_address_is_the_404_page_with_a_way_home(page_as, screenshots):
    page = page_as("staff")
    response = page.goto("/customers/show/987654321")
    assert response.status == 404
    _in_the_layout(page)
    expect(page.locator("#error-heading")).to_have_text("Page not found")
    expect(page.locator("#error-back")).to_have_count(0)  # typed in: no page to go back to
    _shoot(page, screenshots, "error-404")
    with page.expect_navigation():
        page.locator("#error-home").click()
    expect(page.locator("#error-page")).to_have_count(0)


def test_an_unhandled_error_is_the_500_page_without_its_text(page_as, live_server, screenshots, monkeypatch):
    from app.services.customers import profile

    def breaks(*args, **kwargs):
        raise RuntimeError("secret detail of the failure")
    # The live server runs in this process: its profile page fails as a bug would, and Flask
    # answers as in production (TESTING would re-raise the exception to the server instead).
    monkeypatch.setitem(live_server.app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(profile, "summary", breaks)
    page = page_as("admin")
    response = page.goto("/customers/show/1", referer=f"{live_server.url}/customers/list/")
    assert response.status == 500
    _in_the_layout(page)
    expect(page.locator("#error-heading")).to_have_text("Something went wrong")
    expect(page.locator("body")).not_to_contain_text("secret detail")
    expect(page.locator("#error-back")).to_be_visible()
    _shoot(page, screenshots, "error-500")
