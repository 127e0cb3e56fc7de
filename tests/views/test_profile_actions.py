"""The customer page's actions menu (issue 4): each status action through the status service,
with its confirmation, offered only where it applies; bad input on the page's routes."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Address, Customer, Note
from app.services.customers import addresses, notes
from tests import factories as f


def menu(browser, pk) -> set[str]:
    html = browser.get(f"/customers/show/{pk}").get_data(as_text=True)
    return set(re.findall(r'class="profile-action-([a-z_-]+)"', html))


def set_status(app, pk, status):
    with app.app_context():
        db.session.get(Customer, pk).status = status
        db.session.commit()


def status_of(app, pk):
    with app.app_context():
        return db.session.get(Customer, pk).status


def act(browser, pk, link: str, **form):
    """Follow a menu link from the profile, check the confirmation, confirm it: done at once,
    back to the customer's page (the list once it is deleted)."""
    page = browser.get(link)
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    assert re.search(r"<strong>1</strong>", html)
    assert f'href="/customers/show/{pk}"' in html  # Cancel goes back to the customer
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    action = re.search(r'action="/customers/bulk/([a-z_]+)"', html).group(1)
    assert '<input type="hidden" name="next" value="profile">' in html
    r = browser.post(f"/customers/bulk/{action}", {"rowid": str(pk), "form_key": key, "next": "profile", **form})
    back = "/customers/list/" if action == "bulk_delete" else f"/customers/show/{pk}"
    assert r.status_code == 302 and r.headers["Location"] == back, r.get_data(as_text=True)[:500]
    return html


def link_of(browser, pk, name) -> str:
    html = browser.get(f"/customers/show/{pk}").get_data(as_text=True)
    return re.search(rf'<a href="([^"]+)" class="profile-action-{name}"', html).group(1).replace("&amp;", "&")


def test_the_menu_offers_only_what_applies_to_the_customers_status(app, login):
    with app.app_context():
        pk = f.customer().id
    admin = login("admin")
    offered = menu(admin, pk)
    assert {"disable", "make_dormant", "block", "archive", "bulk_edit", "send_email", "send_text", "bulk_delete",
            "type", "merge"} <= offered
    assert not {"enable", "unarchive"} & offered
    set_status(app, pk, "disabled")
    assert "enable" in menu(admin, pk) and "disable" not in menu(admin, pk)
    set_status(app, pk, "archived")
    assert {"unarchive", "bulk_delete"} <= menu(admin, pk)
    assert not {"enable", "disable", "make_dormant", "block", "archive"} & menu(admin, pk)
    set_status(app, pk, "active")
    staff = menu(login("staff"), pk)
    assert "bulk_delete" not in staff and "merge" not in staff and {"disable", "make_dormant", "block"} <= staff
    assert not {"disable", "make_dormant", "block", "bulk_delete"} & menu(login("readonly"), pk)


def test_each_status_action_of_the_menu_changes_the_customer(app, login):
    with app.app_context():
        pk = f.customer().id
        addresses.create_address(db.session, f.user("admin"), pk, {"kind": "billing", "line1": "1 Road", "postcode": "N1 1AA"})
        site = addresses.create_address(db.session, f.user("admin"), pk, {"kind": "site", "line1": "2 Yard",
                                                                          "postcode": "N1 1AB"}).id
    staff = login("staff")
    for name, expected in (("disable", "disabled"), ("enable", "active"), ("make_dormant", "dormant"),
                           ("block", "blocked"), ("archive", "archived"), ("unarchive", "active")):
        act(staff, pk, link_of(staff, pk, name))
        assert status_of(app, pk) == expected, name
        if name == "make_dormant":
            with app.app_context():
                assert db.session.get(Address, site).dormant  # the site address went dormant with it
    admin = login("admin")
    html = act(admin, pk, link_of(admin, pk, "bulk_delete"), confirm="delete")
    assert "cannot be undone" in html
    with app.app_context():
        assert db.session.get(Customer, pk) is None


def test_delete_from_the_menu_needs_the_typed_word(app, login):
    with app.app_context():
        pk = f.customer().id
    admin = login("admin")
    html = admin.get(f"/customers/action/bulk_delete/{pk}?next=profile").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    r = admin.post("/customers/bulk/bulk_delete", {"rowid": str(pk), "form_key": key, "confirm": "yes"})
    assert r.status_code == 422 and "delete" in r.get_data(as_text=True)
    assert status_of(app, pk) == "active"


def test_another_resellers_customer_is_not_found_on_its_actions(app, login, resellers):
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
    browser = login("reseller_a")
    for name in ("disable", "enable", "archive", "bulk_edit", "send_email"):
        assert browser.get(f"/customers/action/{name}/{theirs}").status_code == 404, name
        assert browser.get(f"/customers/action/{name}/{theirs}?next=profile").status_code == 404, name
    assert browser.get("/customers/action/disable/99999999999999999999").status_code == 404
    assert status_of(app, theirs) == "active"


@pytest.mark.parametrize("tab", ["notes", "changes"])
def test_a_page_cursor_that_is_not_an_id_is_ignored(app, login, tab):
    with app.app_context():
        pk = f.customer().id
    browser = login("admin")
    for before in ("99999999999999999999999", "-99999999999999999999999", "abc", "", "1e9"):
        assert browser.get(f"/customers/show/{pk}?tab={tab}&before={before}").status_code == 200, before


def test_merging_is_for_roles_with_the_merge_permission(app, login):
    """Permissions decide, not role names: Staff without can_merge is refused (403, nothing
    merged); the same role given can_merge in the browser merges."""
    from flask_appbuilder.security.sqla.models import Permission, PermissionView, Role, ViewMenu
    with app.app_context():
        survivor, dup = f.customer().id, f.customer().id
    r = login("staff").post(f"/customers/show/{survivor}/merge", {"duplicate": str(dup)})
    assert r.status_code == 403
    with app.app_context():
        assert db.session.get(Customer, dup) is not None
        pv = db.session.scalars(select(PermissionView).join(Permission).join(ViewMenu)
                                .where(Permission.name == "can_merge", ViewMenu.name == "CustomerView")).one()
        staff = db.session.scalars(select(Role).where(Role.name == "Staff")).one()
        staff.permissions.append(pv)
        db.session.commit()
    try:
        r = login("staff").post(f"/customers/show/{survivor}/merge", {"duplicate": str(dup)})
        assert r.status_code == 302
        with app.app_context():
            assert db.session.get(Customer, dup) is None
    finally:
        with app.app_context():
            staff = db.session.scalars(select(Role).where(Role.name == "Staff")).one()
            staff.permissions = [p for p in staff.permissions if p.permission.name != "can_merge"]
            db.session.commit()


def test_a_note_with_control_characters_is_refused(app, login):
    with app.app_context():
        pk = f.customer().id
    browser = login("staff")
    r = browser.post(f"/customers/show/{pk}/notes", {"body": "a\x07b"})  # (a NUL byte is refused before: 400)
    assert r.status_code == 302
    assert "control characters" in browser.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Note.id)) is None
        # line breaks and tabs are a note's own
        assert notes.add_note(db.session, f.user("staff"), pk, {"body": "line one\r\n\tline two"}).body == "line one\n\tline two"


def test_deleting_a_note_or_a_file_asks_first(app, login):
    with app.app_context():
        pk = f.customer().id
        notes.add_note(db.session, f.user("admin"), pk, {"body": "to delete"})
    html = login("admin").get(f"/customers/show/{pk}?tab=notes").get_data(as_text=True)
    assert re.search(r'<form[^>]+data-confirm="Delete this note\?"', html)


def test_changing_the_customer_type_asks_for_the_fields_the_new_type_needs(app, login):
    with app.app_context():
        pk = f.customer(first_name="Ada", surname="Lovelace").id
    staff = login("staff")
    html = staff.get(f"/customers/show/{pk}/type").get_data(as_text=True)
    assert 'id="change-type-form"' in html and 'value="Lovelace"' in html
    r = staff.post(f"/customers/show/{pk}/type", {"customer_type": "company", "company_name": "  "})
    assert r.status_code == 422 and "Company name is required for a company." in r.get_data(as_text=True)
    r = staff.post(f"/customers/show/{pk}/type", {"customer_type": "company", "company_name": "Analytical Engines Ltd"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/show/{pk}")
    with app.app_context():
        c = db.session.get(Customer, pk)
        assert (c.customer_type, c.name, c.surname) == ("company", "Analytical Engines Ltd", "Lovelace")
    r = staff.post(f"/customers/show/{pk}/type", {"customer_type": "private", "first_name": "Ada", "surname": ""})
    assert r.status_code == 422 and "Surname is required for a private customer." in r.get_data(as_text=True)
    r = staff.post(f"/customers/show/{pk}/type", {"customer_type": "charity"})
    assert r.status_code == 422
    # only the type and its names change here: nothing else can ride along
    r = staff.post(f"/customers/show/{pk}/type", {"customer_type": "private", "surname": "King", "status": "archived",
                                                  "reseller_id": "1"})
    assert r.status_code == 302
    with app.app_context():
        c = db.session.get(Customer, pk)
        assert (c.customer_type, c.name, c.status, c.reseller_id) == ("private", "Ada King", "active", None)
    assert login("readonly").post(f"/customers/show/{pk}/type", {"customer_type": "company",
                                                                 "company_name": "X"}).status_code in (302, 403)


def test_another_resellers_customer_type_is_not_found(app, login, resellers):
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
    browser = login("reseller_a")
    assert browser.get(f"/customers/show/{theirs}/type").status_code == 404
    assert browser.post(f"/customers/show/{theirs}/type", {"customer_type": "company",
                                                           "company_name": "X"}).status_code == 404


def test_a_merged_away_id_leads_to_the_survivors_forms_too(app, login, resellers):
    with app.app_context():
        survivor, dup = f.customer().id, f.customer().id
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
    admin = login("admin")
    assert admin.post(f"/customers/show/{survivor}/merge", {"duplicate": str(dup)}).status_code == 302
    for path, target in (("", ""), ("/merge", "/merge"), ("/type", "/type")):
        r = admin.get(f"/customers/show/{dup}{path}")
        assert r.status_code == 302 and r.headers["Location"].split("?")[0].endswith(f"/customers/show/{survivor}{target}")
    # a form posted to the old id changes nothing and is not found
    assert admin.post(f"/customers/show/{dup}/type", {"customer_type": "company", "company_name": "X"}).status_code == 404
    # the alias leads nowhere for a user who may not see the survivor
    with app.app_context():
        other = f.customer(reseller_id=resellers["Reseller B"]).id
    assert admin.post(f"/customers/show/{theirs}/merge", {"duplicate": str(other)}).status_code == 302
    assert login("reseller_a").get(f"/customers/show/{other}/type").status_code == 404


def test_changing_the_type_of_a_customer_whose_other_details_are_wrong_says_what_is_wrong(app, login):
    with app.app_context():
        pk = f.customer(surname="Legacy").id
        db.session.get(Customer, pk).currency = "XXQ"  # as an old import left it
        db.session.commit()
    r = login("staff").post(f"/customers/show/{pk}/type", {"customer_type": "company", "company_name": "Legacy Ltd"})
    assert r.status_code == 422 and "Currency:" in r.get_data(as_text=True)


def test_ids_in_other_digits_are_not_found_not_an_error(app, login):
    with app.app_context():
        pk = f.customer().id
    browser = login("admin")
    for path in ("/customers/show/²/type", "/customers/show/²", "/customers/action/disable/²", "/customers/edit/²"):
        assert browser.get(path).status_code == 404, path
    assert browser.get("/customers/list/?_flt_0_name=²²").status_code == 200  # the free-text search box
    r = browser.post("/customers/action_post", {"action": "disable", "rowid": ["²", str(pk)]})
    assert r.status_code == 200 and "<strong>1</strong>" in r.get_data(as_text=True)


@pytest.mark.parametrize("sneaky", ["A\u202eB", "A\u2028B", "x\x85y", "a\u2066b"])
def test_text_that_reads_otherwise_than_it_is_stored_is_refused(app, login, sneaky):
    with app.app_context():
        pk = f.customer(surname="Plain").id
    browser = login("staff")
    r = browser.post(f"/customers/show/{pk}/type", {"customer_type": "company", "company_name": sneaky})
    assert r.status_code == 422 and "one line of plain text" in r.get_data(as_text=True)
    r = browser.post(f"/customers/show/{pk}/notes", {"body": sneaky})
    assert "control characters" in browser.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Customer, pk).customer_type == "private"
        assert db.session.scalar(select(Note.id)) is None
