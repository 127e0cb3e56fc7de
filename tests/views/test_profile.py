"""The customer's page (issue 4): side panel, tabs, notes, scope on every tab."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Contact, Customer, Message, Note, TaxRate
from app.services.customers import addresses, contacts, notes
from tests import factories as f

TABS = ("details", "contacts", "addresses", "notes", "finances", "messages", "works", "services", "changes")


@pytest.fixture
def ada(app, resellers):
    with app.app_context():
        admin = f.user("admin")
        c = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com", phone="020 7946 0001",
                       reseller_id=resellers["Reseller A"])
        contacts.create_contact(db.session, admin, c.id, {"first_name": "Zed", "surname": "Second",
                                                          "email": "zed@example.com"})
        prim = contacts.create_contact(db.session, admin, c.id, {"first_name": "Prim", "surname": "Ary",
                                                                 "is_primary": "y", "email": "prim@example.com"})
        contacts.add_phone(db.session, admin, prim.id, {"kind": "mobile", "number": "07911 123456"})
        addresses.create_address(db.session, admin, c.id, {"kind": "billing", "line1": "1 Analytical Row",
                                                           "postcode": "sw1a 1aa", "latitude": "51.501",
                                                           "longitude": "-0.1416"})
        addresses.create_address(db.session, admin, c.id, {"kind": "site", "line1": "2 Engine Yard", "postcode": "N1 1AA",
                                                           "access_name": "Mrs Tenant", "access_phone": "020 7946 0002",
                                                           "access_relationship": "tenant"})
        return c.id


def page(browser, pk, tab="details", **args):
    extra = "".join(f"&{k}={v}" for k, v in args.items())
    r = browser.get(f"/customers/show/{pk}?tab={tab}{extra}")
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def test_every_tab_opens_and_the_side_panel_has_the_primary_contact_first(app, login, ada):
    browser = login("admin")
    for tab in TABS:
        html = page(browser, ada, tab)
        assert "Ada Lovelace" in html and f'id="tab-content-{tab}"' in html
    html = page(browser, ada)
    side = html[html.index('id="side-contacts"'):html.index('id="side-address"')]
    assert side.index("Prim Ary") < side.index("Zed Second")
    assert 'href="tel:+447911123456"' in side and 'href="mailto:prim@example.com"' in side
    assert "Balance" in html and 'id="annual-value">£0.00' in html and 'id="account-credit">£0.00' in html


def test_the_tabs_show_their_records(app, login, ada):
    browser = login("staff")
    assert "Zed Second" in page(browser, ada, "contacts")
    html = page(browser, ada, "addresses")
    assert html.index("1 Analytical Row") < html.index("2 Engine Yard")
    assert "fa-key" in html and "Mrs Tenant" in html and "(tenant)" in html
    html = page(browser, ada, "changes")
    assert "Added contact <strong>Zed Second</strong>" in html
    assert "No invoices" in page(browser, ada, "finances")


def test_the_mini_map_and_the_distance_from_the_business(app, login, ada, monkeypatch):
    browser = login("admin")
    html = page(browser, ada)
    assert 'class="minimap"' in html and 'data-lat="51.501000"' in html and "vendor/leaflet/leaflet.js" in html
    assert "Set where the business is" in html  # no business coordinates configured
    monkeypatch.setitem(app.config, "BUSINESS_LATITUDE", "51.5074")
    monkeypatch.setitem(app.config, "BUSINESS_LONGITUDE", "-0.1278")
    html = page(browser, ada)
    assert re.search(r"1\.\d km from the office, as the crow flies", html)
    with app.app_context():
        bare = f.customer(surname="Nowhere").id
        addresses.create_address(db.session, f.user("admin"), bare, {"kind": "billing", "line1": "3 Lane",
                                                                     "postcode": "E1 1AA"})
    html = page(browser, bare)
    assert "this address has no coordinates" in html and 'class="minimap"' not in html


def test_notes_are_added_pinned_and_kept_private_from_resellers(app, login, ada):
    staff = login("staff")
    r = staff.post(f"/customers/show/{ada}/notes", {"body": "Gate code 1234"})
    assert r.status_code == 302 and r.headers["Location"].endswith("tab=notes")
    staff.post(f"/customers/show/{ada}/notes", {"body": "Owes from 2019", "private": "1"})
    staff.post(f"/customers/show/{ada}/notes", {"body": "Beware of the dog <b>", "important": "1"})
    html = page(staff, ada, "notes")
    assert html.index("Beware of the dog &lt;b&gt;") < html.index("Gate code 1234")
    assert "Owes from 2019" in html and "note-important" in html
    reseller = login("reseller_a")
    html = page(reseller, ada, "notes")
    assert "Gate code 1234" in html and "Owes from 2019" not in html and 'name="private"' not in html
    assert "Owes from 2019" not in page(reseller, ada, "changes")  # nor in the history
    assert "Owes from 2019" in page(staff, ada, "changes")
    with app.app_context():
        secret = db.session.scalar(select(Note.id).where(Note.private.is_(True)))
    assert reseller.post(f"/customers/notes/{secret}/pin", {"important": "1"}).status_code == 404


def test_do_not_work_with_again_shows_on_the_page_and_the_customer_is_dormant(app, login, ada):
    browser = login("staff")
    browser.post(f"/customers/show/{ada}/notes", {"body": "Abusive", "do_not_work": "1"})
    html = page(browser, ada)
    assert 'id="never-again"' in html
    with app.app_context():
        assert db.session.get(Customer, ada).status == "dormant"


def test_a_bad_note_is_refused_with_the_reason(app, login, ada):
    browser = login("staff")
    r = browser.post(f"/customers/show/{ada}/notes", {"body": "   "})
    assert r.status_code == 302
    assert "Write the note." in browser.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Note.id)) is None


def test_read_only_users_see_but_cannot_write_notes_and_only_admins_delete_them(app, login, ada):
    readonly = login("readonly")
    html = page(readonly, ada, "notes")
    assert 'id="note-form"' not in html
    assert readonly.post(f"/customers/show/{ada}/notes", {"body": "x"}).status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(Note.id)) is None
        note_id = notes.add_note(db.session, f.user("staff"), ada, {"body": "keep"}).id
    login("staff").post(f"/customers/notes/{note_id}/delete")
    with app.app_context():
        assert db.session.get(Note, note_id) is not None  # staff may not delete
    login("admin").post(f"/customers/notes/{note_id}/delete")
    with app.app_context():
        assert db.session.get(Note, note_id) is None


def test_another_resellers_customer_is_not_found_on_the_page_every_tab_and_the_note_routes(app, login, ada, resellers):
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
        note_id = notes.add_note(db.session, f.user("admin"), theirs, {"body": "B's"}).id
    browser = login("reseller_a")
    for tab in TABS:
        assert browser.get(f"/customers/show/{theirs}?tab={tab}").status_code == 404
    assert browser.post(f"/customers/show/{theirs}/notes", {"body": "x"}).status_code == 404
    assert browser.post(f"/customers/notes/{note_id}/pin", {"important": "1"}).status_code == 404
    assert browser.get("/customers/show/not-a-number").status_code == 404
    assert browser.get(f"/customers/show/{ada}?tab=nonsense").status_code == 404


def test_the_messages_tab_can_show_notification_logs(app, login, ada):
    with app.app_context():
        db.session.add_all([
            Message(customer_id=ada, channel="email", subject="Manual one", body="B", status="sent"),
            Message(customer_id=ada, channel="sms", kind="notification", body="Reminder: tomorrow 9am",
                    status="failed", error="gateway answered 503")])
        db.session.commit()
    browser = login("admin")
    html = page(browser, ada, "messages")
    assert "Manual one" in html and "Reminder: tomorrow" not in html
    html = page(browser, ada, "messages", logs=1)
    assert "Reminder: tomorrow 9am" in html and "gateway answered 503" in html


def test_the_header_shows_a_debt(app, login, ada):
    import uuid
    from app.services.billing import invoices
    with app.app_context():
        admin = f.user("admin")
        invoices.charge(db.session, admin, ada, {"description": "Call-out", "amount": "42.50",
                                                 "tax_rate_id": db.session.scalar(select(TaxRate.id).where(
                                                     TaxRate.name == "Zero rate"))}, str(uuid.uuid4()))
    assert "Owes £42.50" in page(login("admin"), ada)


def test_an_admin_merges_a_duplicate_and_its_old_id_leads_to_the_survivor(app, login, ada):
    with app.app_context():
        dup = f.customer(first_name="Ada", surname="Lovelace (old)", mobile="07911 123456").id
        notes.add_note(db.session, f.user("admin"), dup, {"body": "From the old record"})
    admin = login("admin")
    assert "Merge a duplicate into this customer" in page(admin, ada)
    html = admin.get(f"/customers/show/{ada}/merge?duplicate={dup}").get_data(as_text=True)
    assert 'id="merge-plan"' in html and "Lovelace (old)" in html and "mobile" in html
    r = admin.post(f"/customers/show/{ada}/merge", {"duplicate": str(dup)})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/show/{ada}?tab=details")
    assert "From the old record" in page(admin, ada, "notes")
    r = admin.get(f"/customers/show/{dup}?tab=notes")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/show/{ada}?tab=notes")
    # a second click finds nothing left to merge, and changes nothing
    r = admin.post(f"/customers/show/{ada}/merge", {"duplicate": str(dup)})
    assert r.status_code == 422 and "No customer with this ID" in r.get_data(as_text=True)


def test_merging_is_refused_for_staff_and_outside_the_scope(app, login, ada, resellers):
    with app.app_context():
        dup = f.customer(surname="Dup").id
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
    staff = login("staff")
    assert "Merge a duplicate" not in page(staff, ada)
    assert staff.post(f"/customers/show/{ada}/merge", {"duplicate": str(dup)}).status_code in (302, 403)
    with app.app_context():
        assert db.session.get(Customer, dup) is not None
    assert login("reseller_a").get(f"/customers/show/{theirs}/merge").status_code in (302, 403, 404)
    r = login("admin").get(f"/customers/show/{ada}/merge?duplicate=%3Cscript%3E")
    assert r.status_code == 422 and "<script>" not in r.get_data(as_text=True)


def test_contacts_are_made_primary_with_a_tick_and_deleted_only_with_the_typed_word(app, login, ada):
    with app.app_context():
        zed = db.session.scalar(select(Contact.id).where(Contact.first_name == "Zed"))
        prim = db.session.scalar(select(Contact.id).where(Contact.first_name == "Prim"))
    staff, admin = login("staff"), login("admin")
    html = page(staff, ada, "contacts")
    assert 'placeholder="Type primary"' not in html
    assert re.search(r'<input type="checkbox" name="confirm" value="1" required aria-label="Make Zed Second the '
                     r'primary contact"', html)
    staff.post(f"/customers/contacts/{zed}/primary", {})  # the box left unticked
    assert "Tick the box to make Zed Second the primary contact." in page(staff, ada, "contacts")
    with app.app_context():
        assert not db.session.get(Contact, zed).is_primary
    r = staff.post(f"/customers/contacts/{zed}/primary", {"confirm": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("tab=contacts")
    with app.app_context():
        assert db.session.get(Contact, zed).is_primary and not db.session.get(Contact, prim).is_primary
    assert staff.post(f"/customers/contacts/{prim}/delete", {"confirm": "delete"}).status_code in (302, 403)
    with app.app_context():
        assert db.session.get(Contact, prim) is not None  # staff may not delete
    admin.post(f"/customers/contacts/{prim}/delete", {"confirm": "del"})
    with app.app_context():
        assert db.session.get(Contact, prim) is not None
    admin.post(f"/customers/contacts/{prim}/delete", {"confirm": "DELETE"})
    with app.app_context():
        assert db.session.get(Contact, prim) is None


def test_another_resellers_contact_steps_are_not_found(app, login, resellers):
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
        contact = contacts.create_contact(db.session, f.user("admin"), theirs, {"surname": "Theirs"}).id
    browser = login("reseller_a")
    assert browser.post(f"/customers/contacts/{contact}/primary", {"confirm": "1"}).status_code == 404


def test_the_tabs_show_preferences_dormant_sites_address_changes_and_the_configured_tiles(app, login, ada, monkeypatch):
    with app.app_context():
        zed = db.session.scalars(select(Contact).where(Contact.first_name == "Zed")).one()
        contacts.update_contact(db.session, f.user("admin"), zed.id, {"marketing_email": "y", "service_sms": ""})
    browser = login("admin")
    html = page(browser, ada, "contacts")
    html = html[html.index('id="tab-content-contacts"'):]
    row = html[html.index("Zed Second"):]
    assert "service e-mail, service letter, service phone, marketing e-mail" in row[:row.index("</tr>")]
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    assert 'data-tiles="https://tiles.example.org/{z}/{x}/{y}.png"' in page(browser, ada)
    browser.post(f"/customers/show/{ada}/notes", {"body": "Never again", "do_not_work": "1"})
    html = page(browser, ada, "addresses")
    html = html[html.index('id="tab-content-addresses"'):]
    rows = {("billing" if "Billing" in r else "site"): r for r in html.split('<tr class="address"')[1:]}
    assert "address-dormant" in rows["site"] and "address-dormant" not in rows["billing"]
    changes = page(browser, ada, "changes")
    assert "Added address <strong>1 Analytical Row, SW1A 1AA</strong>" in changes and "Dormant" in changes


def test_a_tab_is_an_entry_in_the_registry_and_reads_only_when_open(app, login, ada, monkeypatch):
    from jinja2 import ChoiceLoader, DictLoader

    from app.views import profile as profile_views
    reads = []
    monkeypatch.setitem(profile_views.TABS, "statements", profile_views.Tab(
        "Statements", lambda view, pk, args: reads.append(pk) or {"greeting": "no statements yet"}))
    monkeypatch.setattr(app, "jinja_loader", ChoiceLoader([
        DictLoader({"customers/profile/statements.html": '<p id="statements">{{ content.greeting }}</p>'}),
        app.jinja_loader]))
    browser = login("admin")
    details = page(browser, ada)
    assert 'id="tab-statements"' in details and reads == []
    assert '<p id="statements">no statements yet</p>' in page(browser, ada, tab="statements")
    assert reads == [ada]
