"""The roles screen: permissions ticked in groups per screen, in words, stored as FAB stores them."""
import re

import pytest

from app.extensions import db
from app.models import User
from app.views.roles import permission_name, screen_name, words
from tests.conftest import PASSWORD

FORM_KEY = re.compile(r'id="form_key" name="form_key" type="hidden" value="([^"]+)"')


def pv_ids(app, *pairs):
    with app.app_context():
        sm = app.appbuilder.sm
        found = [sm.find_permission_view_menu(p, v) for p, v in pairs]
        assert all(found), pairs
        return [pv.id for pv in found]


def role_permissions(app, name):
    with app.app_context():
        role = app.appbuilder.sm.find_role(name)
        return None if role is None else {(pv.permission.name, pv.view_menu.name) for pv in role.permissions}


@pytest.fixture
def cleanup(app):
    """Roles (and their users, named like the role in lower case) to remove after the test."""
    names = []
    yield names
    with app.app_context():
        sm = app.appbuilder.sm
        for name in names:
            user = db.session.query(User).filter_by(username=name.lower()).one_or_none()
            if user is not None:
                db.session.delete(user)
            db.session.flush()
            role = sm.find_role(name)
            if role is not None:
                db.session.delete(role)
        db.session.commit()


def add_role(browser, name, ids):
    page = browser.get("/roles/add").get_data(as_text=True)
    key = FORM_KEY.search(page).group(1)
    return browser.post("/roles/add", {"name": name, "permissions": [str(i) for i in ids], "form_key": key}), key


CLERK = [("can_list", "CustomerView"), ("can_show", "CustomerView"), ("menu_access", "Customers")]


def test_the_role_form_ticks_permissions_grouped_by_screen_in_words(app, login):
    with app.app_context():
        staff = app.appbuilder.sm.find_role("Staff").id
    page = login("admin").get(f"/roles/edit/{staff}").get_data(as_text=True)
    assert "<select" not in page.split('id="permissions"')[0].rsplit("<tr", 1)[-1]
    assert '<legend>Customers' in page and '<legend>Audit log' in page and '<legend>Menu' in page
    assert "bulk e-mail" in page and "see private notes" in page and "delete in bulk" in page
    assert "can add on CustomerView" not in page and "CustomerView" not in page
    # Staff's own permissions come ticked; the Admin's delete does not.
    send_email, bulk_delete = pv_ids(app, ("send_email", "CustomerView"), ("bulk_delete", "CustomerView"))
    assert f'name="permissions" value="{send_email}" checked' in page
    assert f'name="permissions" value="{bulk_delete}">' in page


def test_saving_the_grouped_form_gives_the_role_exactly_the_ticked_permissions(app, login, cleanup):
    cleanup.append("Clerk")
    admin = login("admin")
    r, _ = add_role(admin, "Clerk", pv_ids(app, *CLERK))
    assert r.status_code == 302
    assert role_permissions(app, "Clerk") == set(CLERK)

    with app.app_context():
        sm = app.appbuilder.sm
        sm.add_user("clerk", "Clerk", "User", "clerk@example.com", sm.find_role("Clerk"), password=PASSWORD)
        role_id = sm.find_role("Clerk").id
    clerk = login("clerk")
    assert clerk.get("/customers/list/").status_code == 200
    assert clerk.get("/customers/add").status_code == 403
    assert clerk.get("/contacts/list/").status_code == 403

    # Ticking "add" on Customers in the edit form gives it; unticking "show" takes it.
    ids = pv_ids(app, ("can_list", "CustomerView"), ("can_add", "CustomerView"), ("menu_access", "Customers"))
    r = admin.form(f"/roles/edit/{role_id}", {"name": "Clerk", "permissions": [str(i) for i in ids]})
    assert r.status_code == 302
    assert role_permissions(app, "Clerk") == {("can_list", "CustomerView"), ("can_add", "CustomerView"),
                                              ("menu_access", "Customers")}
    assert clerk.get("/customers/add").status_code == 200

    # Nothing ticked: no permission at all.
    assert admin.form(f"/roles/edit/{role_id}", {"name": "Clerk"}).status_code == 302
    assert role_permissions(app, "Clerk") == set()
    assert clerk.get("/customers/list/").status_code == 403


def test_a_forged_permission_id_is_refused_and_nothing_is_written(app, login, cleanup):
    cleanup.append("Forged")
    admin = login("admin")
    r, _ = add_role(admin, "Forged", [*pv_ids(app, *CLERK), 99999999])
    assert r.status_code == 200
    assert "A permission that does not exist was sent: nothing was saved." in r.get_data(as_text=True)
    assert role_permissions(app, "Forged") is None

    with app.app_context():
        staff = app.appbuilder.sm.find_role("Staff")
        staff_id, before = staff.id, role_permissions(app, "Staff")
    r = admin.form(f"/roles/edit/{staff_id}", {"name": "Staff", "permissions": ["99999999", "not-a-number"]})
    assert r.status_code == 200
    assert "A permission that does not exist was sent" in r.get_data(as_text=True)
    assert role_permissions(app, "Staff") == before


def test_a_role_needs_a_name(app, login):
    r, _ = add_role(login("admin"), "", pv_ids(app, *CLERK))
    assert r.status_code == 200
    assert "This field is required." in r.get_data(as_text=True)
    with app.app_context():
        assert app.appbuilder.sm.find_role("") is None


def test_a_script_in_a_role_name_is_shown_as_text(app, login, cleanup):
    name = "<script>alert(1)</script>"
    cleanup.append(name)
    admin = login("admin")
    r, _ = add_role(admin, name, pv_ids(app, *CLERK))
    assert r.status_code == 302
    with app.app_context():
        role_id = app.appbuilder.sm.find_role(name).id
    for url in ("/roles/list/", f"/roles/show/{role_id}", f"/roles/edit/{role_id}"):
        html = admin.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_the_add_form_sent_twice_adds_the_role_once(app, login, cleanup):
    cleanup.append("Twice")
    admin = login("admin")
    r, key = add_role(admin, "Twice", pv_ids(app, *CLERK))
    assert r.status_code == 302
    again = admin.post("/roles/add", {"name": "Twice", "permissions": [str(i) for i in pv_ids(app, *CLERK)],
                                      "form_key": key}, follow_redirects=True)
    assert again.status_code == 200
    assert "This form was already saved; it was not saved twice." in again.get_data(as_text=True)
    with app.app_context():
        from flask_appbuilder.security.sqla.models import Role
        assert db.session.query(Role).filter_by(name="Twice").count() == 1
    assert role_permissions(app, "Twice") == set(CLERK)


def test_the_roles_list_and_show_pages_group_permissions_by_screen(app, login):
    admin = login("admin")
    listed = admin.get("/roles/list/").get_data(as_text=True)
    assert "<strong>Customers</strong>: list, show, add, edit, export CSV" in listed
    assert "can list on CustomerView" not in listed
    with app.app_context():
        read_only = app.appbuilder.sm.find_role("Read-only").id
    shown = admin.get(f"/roles/show/{read_only}").get_data(as_text=True)
    assert "<strong>Customers</strong>: list, show, export CSV</li>" in shown
    assert "<strong>Menu</strong>: " in shown and "see private notes" not in shown


def test_names_are_words_with_a_fallback_for_screens_and_permissions_not_in_the_tables():
    assert permission_name("can_add") == "add"
    assert permission_name("send_email") == "bulk e-mail"
    assert permission_name("can_see_private_notes") == "see private notes"
    assert permission_name("bulk_delete") == "delete in bulk"
    assert permission_name("can_approve_credit_notes") == "approve credit notes"
    assert screen_name("CustomerView") == "Customers"
    assert screen_name("AuditView") == "Audit log"
    assert screen_name("CustomerApi") == "Customers (API)"
    assert screen_name("CreditNoteView") == "Credit note"
    assert screen_name("FxRateApi") == "Fx rate (API)"
    assert words("make_dormant") == "make dormant"


def test_the_roles_list_filters_by_a_permission_named_in_words(app, login):
    admin = login("admin")
    (send_email,) = pv_ids(app, ("send_email", "CustomerView"))
    listed = admin.get("/roles/list/").get_data(as_text=True)
    assert "Customers: bulk e-mail" in listed and "send_email on CustomerView" not in listed
    filtered = admin.get(f"/roles/list/?_flt_0_permissions={send_email}").get_data(as_text=True)
    assert ">Staff</span>" in filtered and ">Reseller</span>" in filtered
    assert ">Read-only</span>" not in filtered
