"""A bulk job whose process stopped half-way, in a real browser: its page says so, and Start
again finishes the customers not done."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_a_stopped_job_says_so_and_start_again_finishes_it(page_as, live_server, screenshots):
    from sqlalchemy import select

    from app.models import Customer, User
    from tests import factories as f

    def stopped_job(session):
        ids = session.scalars(select(Customer.id).where(Customer.status == "active", Customer.reseller_id.is_(None))
                              .order_by(Customer.id.desc()).limit(4)).all()  # not the other tests' first ones
        admin = session.scalar(select(User).where(User.username == "admin"))
        return f.stopped_job(session, admin, "disable", ids, chunk=2), ids

    job_id, ids = live_server.query(stopped_job)
    page = page_as("admin")
    page.goto(f"/jobs/{job_id}")
    expect(page.locator("#job-status")).to_contain_text("Stopped: The process running this job stopped")
    expect(page.locator("#job-start-again")).to_contain_text("the 2 customers not done yet")
    for width in (1440, 1024):
        page.set_viewport_size({"width": width, "height": 700})
        page.screenshot(path=str(screenshots / f"job-stopped-{width}.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#job-start-again button").click()
    expect(page.locator("#job-status")).to_have_text("Done.")
    page.screenshot(path=str(screenshots / "job-started-again-1024.png"), full_page=True)
    statuses = live_server.query(lambda s: s.scalars(select(Customer.status).where(Customer.id.in_(ids))).all())
    assert statuses == ["disabled"] * 4
