"""Company settings in a real browser (issue 12): an admin reaches them from the Admin menu, sets
the time zone and where the business is, and lands back on the form with what changed; the
history then shows its times in that zone."""
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e




def test_an_admin_sets_the_time_zone_and_the_business_place(page_as, live_server, screenshots):
    page = page_as("admin")
    page.set_viewport_size({"width": 1440, "height": 800})
    page.goto("/")
    page.get_by_role("link", name="Admin", exact=True).click()
    with page.expect_navigation():
        page.locator("a", has_text="Company settings").click()
    expect(page.locator("#company-settings")).to_be_visible()
    page.locator("#business_latitude").fill("north")
    with page.expect_navigation():
        page.locator("#company-save").click()
    expect(page.locator("#company-settings .has-error")).to_contain_text("Enter a number of degrees")
    shoot(page, screenshots, "company-settings-error")
    page.locator("#time_zone").select_option("Europe/Paris")
    page.locator("#business_address").fill("Head office, 1 Market Street, Leeds")
    page.locator("#business_latitude").fill("53.7997")
    page.locator("#business_longitude").fill("-1.5492")
    with page.expect_navigation():
        page.locator("#company-save").click()
    expect(page).to_have_url(f"{live_server.url}/company/")
    expect(page.locator(".alert-success")).to_contain_text("time zone, business address, latitude, longitude changed")
    expect(page.locator("#time_zone")).to_have_value("Europe/Paris")
    shoot(page, screenshots, "company-settings")
    page.goto("/audit/list/")
    expect(page.locator("body")).to_contain_text(re.compile(r"(Added|Changed) company settings"))
    # back as it was, for the other browser tests
    page.goto("/company/")
    page.locator("#time_zone").select_option("")
    for field in ("#business_address", "#business_latitude", "#business_longitude"):
        page.locator(field).fill("")
    with page.expect_navigation():
        page.locator("#company-save").click()
    expect(page.locator(".alert-success")).to_be_visible()
