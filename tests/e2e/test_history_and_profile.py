"""Readable history and the profile (issue 12) in a real browser: the Changes tab and the audit
log in words, important notes above the tabs, an archived customer's banner, the Services tab,
and a tab bar on one line, at 1440 and 1024 px."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e



def a_customer_with_history(session):
    from app.models import User
    from app.services.customers import contacts, notes, services
    from app.services.customers.update import update_customer
    from tests import factories as f

    admin = session.query(User).filter_by(username="admin").one()
    session.info["actor"] = (admin.id, "admin")
    try:
        c = f.customer(admin, first_name="Hedy", surname="Lamarr", email="hedy@example.com", currency="EUR")
        grace = contacts.create_contact(session, admin, c.id, {"first_name": "Grace", "surname": "Hopper",
                                                               "email": "grace@example.com", "position": "Landlord"})
        contacts.update_contact(session, admin, grace.id, {"marketing_email": "y", "position": "Owner"})
        services.create_service(session, admin, c.id, {"name": "Broadband 500", "price": "29.50",
                                                       "billing_cycle": "quarterly"})
        services.create_service(session, admin, c.id, {"name": "Installation", "price": "120",
                                                       "billing_cycle": "one-off", "status": "cancelled"})
        notes.add_note(session, admin, c.id, {"body": "Dog in the garden: call before arriving.", "important": "1"})
        update_customer(session, admin, c.id, {"phone": "020 7946 0003", "marketing_sms": "y"})
        archived = f.customer(admin, company_name="Old Mill Ltd", customer_type="company")
        update_customer(session, admin, archived.id, {"status": "archived"})
        return c.id, archived.id
    finally:
        session.info.pop("actor", None)



def test_history_and_profile_read_plainly(page_as, live_server, screenshots):
    customer_id, archived_id = live_server.query(a_customer_with_history)
    page = page_as("admin")
    page.set_viewport_size({"width": 1440, "height": 800})

    page.goto(f"/customers/show/{customer_id}")
    expect(page.locator("#pinned-notes")).to_contain_text("Dog in the garden")
    tabs = page.locator(".profile-tabs > li")
    tops = {round(box["y"]) for box in (tabs.nth(i).bounding_box() for i in range(tabs.count()))}
    assert len(tops) == 1, tops  # one line of tabs at 1440 px
    shoot(page, screenshots, "profile-pinned-note")

    page.goto(f"/customers/show/{customer_id}?tab=changes")
    changes = page.locator("#changes")
    expect(changes).to_contain_text("Added contact Grace Hopper")
    expect(changes).to_contain_text("Marketing by e-mail: no → yes")
    expect(changes).to_contain_text("Price: €29.50")
    expect(changes.locator("a.history-raw").first).to_have_text("details")
    shoot(page, screenshots, "history-changes-tab")

    page.goto("/audit/list/")
    expect(page.locator("table").last).to_contain_text("Hedy Lamarr")
    expect(page.locator("table").last).to_contain_text("Added service Broadband 500")
    shoot(page, screenshots, "history-audit-list")

    page.goto(f"/customers/show/{customer_id}?tab=services")
    expect(page.locator("#services")).to_contain_text("Quarterly")
    expect(page.locator("#services")).to_contain_text("Cancelled")
    shoot(page, screenshots, "profile-services-tab")

    page.goto(f"/customers/show/{archived_id}")
    expect(page.locator("#archived-banner")).to_contain_text("This customer is archived.")
    shoot(page, screenshots, "profile-archived")
