"""The FX rates list in a real browser: two rates ticked, Actions, Copy to a new effective date, the
date asked on the confirmation page, then back on the list with the copies. Screenshots of the list,
the confirmation and the upload preview at 1440 and 1024 px."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, shoot

pytestmark = pytest.mark.e2e


def some_rates(live_server) -> None:
    """USD/GBP and EUR/GBP on 2026-06-15 (made once, found again on a second run)."""
    def make(session):
        from datetime import date
        from app.models import FxRate, User
        from app.services.billing import fx
        if session.query(FxRate).filter_by(effective_on=date(2026, 6, 15)).count():
            return
        admin = session.query(User).filter_by(username="admin").one()
        for from_, rate in (("USD", "0.7874"), ("EUR", "0.8562")):
            fx.create_rate(session, admin, {"from_currency": from_, "to_currency": "GBP", "rate": rate,
                                            "effective_on": "2026-06-15"})
    live_server.query(make)


def test_the_fx_list_copies_ticked_rates_to_a_new_date(page_as, live_server, screenshots):
    some_rates(live_server)
    page = page_as("finance")
    page.goto("/fx-rates/list/")
    table = page.locator("table.table-bordered")
    expect(table).to_contain_text("0.7874")
    expect(page.locator("#upload-csv")).to_be_visible()
    shoot(page, screenshots, "fx-rates")
    for row in ("0.7874", "0.8562"):
        table.locator("tr", has_text=row).locator("input[type=checkbox]").check()
    page.locator(".well .btn-group button.dropdown-toggle", has_text="Actions").click()
    page.locator("ul.actions-menu a, .dropdown-menu a", has_text="Copy to a new effective date").first.click()
    expect(page.locator("#bulk-title")).to_contain_text("2 FX rates")
    page.fill("#effective_on", "2026-07-01")
    shoot(page, screenshots, "fx-rates-copy")
    with page.expect_navigation():
        page.locator("#confirm").click()
    expect(page.locator(".alert-success")).to_contain_text("Copied 2 FX rates to 2026-07-01")
    expect(page.locator("table.table-bordered")).to_contain_text("2026-07-01")


def test_the_upload_preview(page_as, live_server, screenshots):
    some_rates(live_server)
    page = page_as("finance")
    page.goto("/fx-rates/upload")
    page.fill("#csv", "from,to,rate,date\nUSD,GBP,0.79,2026-06-15\nJPY,GBP,0.0052,2026-06-15\nAUD,GBP,0,2026-06-15\n")
    page.locator("#preview").click()
    expect(page.locator("#upload-summary")).to_contain_text("1 new, 1 changed, 0 unchanged")
    expect(page.locator("#upload-errors")).to_contain_text("more than zero")
    shoot(page, screenshots, "fx-upload-preview")
