"""The Customers menu reaches Services, Jobs and the API documentation, and the jobs list shows a
user's jobs with their page one click away, in a real browser (issue 12)."""
from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

WIDTHS = (1440, 1024)


def _jobs(session):
    """Three jobs of the staff user, one of each state a list shows, and one of the admin's."""
    from sqlalchemy import select

    from app.models import Job, User
    users = {u.username: u.id for u in session.scalars(select(User).where(User.username.in_(["admin", "staff"])))}
    rows = [
        ("staff", "email", "done", 120, 120, datetime(2024, 5, 6, 9, 41, tzinfo=timezone.utc)),
        ("staff", "disable", "failed", 1_200, 3_456, datetime(2024, 5, 7, 14, 5, tzinfo=timezone.utc)),
        ("staff", "sms", "running", 40, 75, datetime(2024, 5, 8, 8, 30, tzinfo=timezone.utc)),
        ("admin", "archive", "done", 12, 12, datetime(2024, 5, 8, 10, 0, tzinfo=timezone.utc)),
    ]
    jobs = [Job(action=action, params={}, user_id=users[who], username=who, status=status, done=done, total=total,
                result={}, created_at=at) for who, action, status, done, total, at in rows]
    session.add_all(jobs)
    session.commit()
    return {job.username + ":" + job.action: job.id for job in jobs}


def test_the_jobs_list_shows_the_users_own_jobs_and_opens_each_jobs_page(page_as, live_server, screenshots):
    ids = live_server.query(_jobs)
    page = page_as("staff")
    page.goto("/jobs/list/")
    table = page.locator("table.table-bordered")
    expect(table).to_contain_text("Send an e-mail")
    expect(table).to_contain_text("1,200 of 3,456")
    expect(table.locator(f'a[href="/jobs/{ids["staff:disable"]}"]').first).to_be_visible()
    expect(table.locator(f'a[href="/jobs/{ids["admin:archive"]}"]')).to_have_count(0)  # not the staff's
    expect(table).to_contain_text("Stopped")
    expect(table).to_contain_text("2024-05-07 14:05")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 700})
        page.screenshot(path=str(screenshots / f"jobs-list-{width}.png"), full_page=True)
    with page.expect_navigation():
        table.locator(f'a[href="/jobs/{ids["staff:email"]}"]').first.click()
    expect(page.locator("#job-status")).to_have_text("Done.")


def test_the_customers_menu_opens_on_services_jobs_and_the_api_documentation(page_as, live_server, screenshots):
    page = page_as("staff")
    page.goto("/customers/list/")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 700})
        toggle = page.locator(".navbar .dropdown-toggle", has_text="Customers").first
        toggle.click()
        menu = toggle.locator("xpath=..").locator(".dropdown-menu")
        expect(menu).to_be_visible()
        for name in ("Services", "Jobs", "API documentation"):
            expect(menu.get_by_role("link", name=name)).to_be_visible()
        page.screenshot(path=str(screenshots / f"customers-menu-{width}.png"))
        toggle.click()  # closed again for the next width
    page.locator(".navbar .dropdown-toggle", has_text="Customers").first.click()
    with page.expect_navigation():
        page.get_by_role("link", name="API documentation").click()
    expect(page.locator("#swagger-ui")).to_be_attached()
