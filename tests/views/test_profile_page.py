"""The customer's page (issue 12): important notes above the tabs, a banner for an archived
customer, the Services tab in words."""
import pytest

from app.extensions import db
from app.services.customers import notes, services
from app.services.customers.update import update_customer
from tests import factories as f


@pytest.fixture
def ada(app, resellers):
    with app.app_context():
        admin = f.user("admin")
        c = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"])
        notes.add_note(db.session, admin, c.id, {"body": "Dog in the garden", "important": "1"})
        notes.add_note(db.session, admin, c.id, {"body": "Key safe code 1234", "important": "1", "private": "1"})
        notes.add_note(db.session, admin, c.id, {"body": "Paid by cheque once"})
        services.create_service(db.session, admin, c.id, {"name": "Broadband", "price": "29.50",
                                                          "billing_cycle": "quarterly"})
        services.create_service(db.session, admin, c.id, {"name": "Set-up", "price": "100",
                                                          "billing_cycle": "one-off", "status": "cancelled"})
        return c.id


def page(browser, pk, tab="details") -> str:
    r = browser.get(f"/customers/show/{pk}?tab={tab}")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_important_notes_are_above_the_tabs_on_every_tab(app, login, ada):
    for tab in ("details", "services", "changes"):
        html = page(login("staff"), ada, tab)
        pinned = html[html.index('id="pinned-notes"'):html.index('class="nav nav-tabs profile-tabs"')]
        assert "Dog in the garden" in pinned and "Key safe code" in pinned and "Paid by cheque" not in pinned


def test_a_private_important_note_is_not_pinned_for_who_may_not_see_private_notes(app, login, ada):
    html = page(login("reseller_a"), ada)
    assert "Dog in the garden" in html and "Key safe code" not in html


def test_no_important_notes_no_panel(app, login):
    with app.app_context():
        bare = f.customer(surname="Plain").id
    assert 'id="pinned-notes"' not in page(login("admin"), bare)


def test_an_archived_customers_page_says_so(app, login, ada):
    assert 'id="archived-banner"' not in page(login("admin"), ada)
    with app.app_context():
        update_customer(db.session, f.user("admin"), ada, {"status": "archived"})
    html = page(login("admin"), ada)
    assert 'id="archived-banner"' in html and "This customer is archived." in html


def test_the_services_tab_lists_the_services_with_words(app, login, ada):
    html = page(login("staff"), ada, "services")
    table = html[html.index('id="services"'):html.index("</table>", html.index('id="services"'))]
    assert table.index("Broadband") < table.index("Set-up")  # active first
    assert "Quarterly" in table and "One-off" in table and "quarterly" not in table
    assert "£29.50" in table and "Active</span>" in table and "Cancelled</span>" in table
