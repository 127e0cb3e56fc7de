"""The home page's dashboard in a real browser, at 1440 and 1024 px: its panels side by side,
statuses as words, and a reseller's board holding only their customers."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_dashboard_shows_the_admins_board_in_panels_at_both_widths(page_as, live_server, screenshots):
    from sqlalchemy import func, select

    from app.models import Customer
    total = live_server.query(lambda s: s.scalar(select(func.count()).select_from(Customer)))
    page = page_as("admin")
    page.goto("/")
    expect(page.locator("#dashboard-statuses .status-total")).to_contain_text(f"{total:,}")
    expect(page.locator("#dashboard-statuses")).to_contain_text("Dormant")
    expect(page.locator("#dashboard-newest tbody tr")).to_have_count(10)
    expect(page.locator("#dashboard-jobs")).to_be_visible()
    expect(page.locator("#dashboard-messages")).to_contain_text("may have gone out")
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        statuses, newest = page.locator("#dashboard-statuses").bounding_box(), \
            page.locator("#dashboard-newest").bounding_box()
        assert statuses["y"] == newest["y"] and statuses["x"] + statuses["width"] <= newest["x"]  # side by side
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing runs off the page
        page.screenshot(path=str(screenshots / f"dashboard-admin-{width}.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#dashboard-statuses a", has_text="Dormant").click()
    assert "_flt_0_status=dormant" in page.url


def test_a_resellers_dashboard_holds_only_their_customers(page_as, live_server, screenshots):
    from sqlalchemy import func, select

    from app.models import Customer, Reseller
    mine = live_server.query(lambda s: s.scalar(
        select(func.count()).select_from(Customer).join(Reseller).where(Reseller.name == "Reseller A")))
    page = page_as("reseller_a")
    page.goto("/")
    expect(page.locator("#dashboard-statuses .status-total")).to_contain_text(f"{mine:,}")
    expect(page.locator("#dashboard-jobs")).to_contain_text("Your bulk jobs")
    page.set_viewport_size({"width": 1024, "height": 900})
    page.screenshot(path=str(screenshots / "dashboard-reseller-1024.png"), full_page=True)
