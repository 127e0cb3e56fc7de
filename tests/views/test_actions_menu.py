"""The customers' Actions menu, through HTTP: the list's and the customer page's are one menu
(views/bulk.py ACTION_GROUPS): the same words and icons, in the same groups and order, dividers
between the groups, delete last and apart; a permission taken away takes the entry off both.
Every list's count reads "<list title>: N"."""
import re
from contextlib import contextmanager

from sqlalchemy import select

from app.extensions import db
from app.views.bulk import ACTION_GROUPS
from tests import factories as f

ENTRY = re.compile(r'<li role="separator" class="divider"></li>'
                   r'|<li( class="action-danger")?>\s*<a href="[^"]*" '
                   r'class="(?:profile-action-)?([a-z_]+?)(?:_menu_item)?"><i class="fa ([a-z0-9-]+)"></i> ([^<]+)</a>')


def groups_in(menu_html: str) -> list[list[tuple]]:
    """The menu's entries, (name, label, icon, dangerous), in groups split at its dividers."""
    groups = [[]]
    for m in ENTRY.finditer(menu_html):
        if m.group(0).startswith('<li role="separator"'):
            groups.append([])
        else:
            groups[-1].append((m.group(2), m.group(4).strip(), m.group(3), bool(m.group(1))))
    return groups


def list_menu(browser) -> list[list[tuple]]:
    html = browser.get("/customers/list/").get_data(as_text=True)
    if 'class="dropdown-menu actions-menu"' not in html:
        return []
    return groups_in(html.split('class="dropdown-menu actions-menu"', 1)[1].split("</ul>", 1)[0])


def profile_menu(browser, pk) -> list[list[tuple]]:
    html = browser.get(f"/customers/show/{pk}").get_data(as_text=True)
    return groups_in(html.split('actions-menu">', 1)[1].split("</ul>", 1)[0])


def only(groups, names) -> list[list[tuple]]:
    """The groups with only the entries named, empty groups dropped."""
    kept = [[e for e in group if e[0] in names] for group in groups]
    return [group for group in kept if group]


@contextmanager
def without_permission(role_name: str, permission: str, app):
    from flask_appbuilder.security.sqla.models import Role
    with app.app_context():
        role = db.session.scalars(select(Role).where(Role.name == role_name)).one()
        taken = [p for p in role.permissions if p.permission.name == permission and p.view_menu.name == "CustomerView"]
        role.permissions = [p for p in role.permissions if p not in taken]
        db.session.commit()
        taken_ids = [p.id for p in taken]
    try:
        yield
    finally:
        from flask_appbuilder.security.sqla.models import PermissionView
        with app.app_context():
            role = db.session.scalars(select(Role).where(Role.name == role_name)).one()
            role.permissions.extend(db.session.get(PermissionView, i) for i in taken_ids)
            db.session.commit()


def test_the_list_and_the_profile_show_one_menu_in_the_same_groups_words_and_order(app, login):
    with app.app_context():
        active = f.customer().id
        f.customer()
    admin = login("admin")
    on_list = list_menu(admin)
    declared = [[(a.name, a.label, a.icon, a.dangerous) for a in entries] for _group, entries in ACTION_GROUPS]
    assert on_list == declared  # every action, grouped as declared, dividers between the groups
    assert on_list[-1] == [("bulk_delete", "Delete", "fa-trash", True)]  # last, apart, dangerous
    on_profile = profile_menu(admin, active)
    # The page adds its own entries for one customer: changing the type (with the edits), merging.
    assert ("type", "Change customer type", "fa-exchange", False) in on_profile[2]
    assert on_profile[-2] == [("merge", "Merge a duplicate into this customer", "fa-compress", False)]
    assert on_profile[-1] == on_list[-1]
    # The rest is the list's menu, less what does not apply to an active customer.
    applies = {e[0] for group in on_profile for e in group} - {"type", "merge"}
    assert applies == {"disable", "make_dormant", "block", "archive", "send_email", "send_text", "send_statement", "bulk_edit",
                       "bulk_delete"}
    assert only(on_profile, applies) == only(on_list, applies)


def test_the_list_names_its_bulk_edit_as_the_profile_does(app, login):
    with app.app_context():
        pk = f.customer().id
    staff = login("staff")
    edit = [e for group in list_menu(staff) for e in group if e[0] == "bulk_edit"]
    assert edit == [("bulk_edit", "Edit status, tags, billing…", "fa-pencil", False)]
    assert edit[0] in profile_menu(staff, pk)[2]
    assert "Bulk edit" not in staff.get("/customers/list/").get_data(as_text=True)


def test_a_permission_taken_away_takes_the_entry_off_both_menus(app, login):
    with app.app_context():
        pk = f.customer().id
    with without_permission("Staff", "block", app):
        staff = login("staff")
        names_on_list = {e[0] for group in list_menu(staff) for e in group}
        names_on_profile = {e[0] for group in profile_menu(staff, pk) for e in group}
        assert "block" not in names_on_list and "block" not in names_on_profile
        assert {"disable", "make_dormant", "archive"} <= names_on_list & names_on_profile
        assert "block_menu_item" not in staff.get("/customers/list/").get_data(as_text=True)
    assert "block" in {e[0] for group in list_menu(login("staff")) for e in group}


def test_staff_without_delete_has_no_dangerous_group_and_no_trailing_divider(app, login):
    with app.app_context():
        pk = f.customer().id
    staff = login("staff")
    for menu in (list_menu(staff), profile_menu(staff, pk)):
        assert all(group for group in menu)  # no empty group: no divider twice, none at the end
        assert not any(e[3] for group in menu for e in group)


def test_every_list_says_its_title_and_count(app, login):
    with app.app_context():
        f.customer()
        f.tag("Gold")
    admin = login("admin")
    for url, title in (("/customers/list/", "Customers"), ("/tags/list/", "Tags"), ("/resellers/list/", "Resellers"),
                       ("/addresses/list/", "Addresses"), ("/services/list/", "Services"),
                       ("/messages/list/", "Messages"), ("/jobs/list/", "Jobs"), ("/audit/list/", "Audit log"),
                       ("/contacts/list/", "Contacts"), ("/custom-fields/list/", "Custom fields")):
        html = admin.get(url).get_data(as_text=True)
        assert re.search(rf'<strong class="count-label">{title}:</strong>', html), url
        assert "Record Count" not in html, url


def test_a_list_without_actions_has_no_actions_menu(app, login):
    admin = login("admin")
    html = admin.get("/tags/list/").get_data(as_text=True)
    assert "actions-menu" not in html and "_menu_item" not in html


def test_show_pages_give_times_without_microseconds(app, login):
    from app.services import resellers
    with app.app_context():
        pk = resellers.create_reseller(db.session, {"name": "North Ltd", "email": "north@example.com"}).id
    admin = login("admin")
    for url in ("/resellers/list/", f"/resellers/show/{pk}"):
        html = admin.get(url).get_data(as_text=True)
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", html), url
        assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", html), url


def test_fabs_own_screens_count_with_the_same_label(app, login):
    admin = login("admin")
    for url, title in (("/users/list/", "Users"), ("/roles/list/", "Roles")):
        html = admin.get(url).get_data(as_text=True)
        assert "Record Count" not in html
        assert f'<strong class="count-label">{title}:</strong>' in html, url
