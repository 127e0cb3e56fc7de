"""The user screen's reseller: fixed to their own for a user confined to a reseller, whom an admin
lets onto the screen (no default role but Admin reaches it); any, or none, for an unscoped admin."""
import pytest

from app.extensions import db
from app.models import User
from tests.conftest import PASSWORD
from tests.roles import make_role_user, remove_role_user

USER_SCREEN = [("can_list", "UserView"), ("can_show", "UserView"), ("can_add", "UserView"),
               ("can_edit", "UserView"), ("menu_access", "List Users")]


def role_with_user_screen(app, name, reseller_id, also_reseller_role=False):
    """A user `name` (lower-cased) in a role like Reseller's plus the user screen (and, asked, in
    the Reseller role too). Made and removed in app contexts of their own: requests must not share
    one (it would share `g` between them)."""
    with app.app_context():
        user = make_role_user(app, db.session, name, like="Reseller", grants=USER_SCREEN, reseller_id=reseller_id)
        if also_reseller_role:
            user.roles.append(app.appbuilder.sm.find_role("Reseller"))
            db.session.commit()
    try:
        yield name.lower()
    finally:
        with app.app_context():
            remove_role_user(app, db.session, name)


@pytest.fixture
def reseller_admin(app, resellers):
    """A user of Reseller A in a role like Reseller's plus the user screen: a reseller's own admin."""
    yield from role_with_user_screen(app, "ResellerAdmin", resellers["Reseller A"])


@pytest.fixture
def loose_admin(app):
    """The same role's user, also in the Reseller role and linked to no reseller: confined to nothing."""
    yield from role_with_user_screen(app, "LooseAdmin", None, also_reseller_role=True)


@pytest.fixture
def cleanup_users(app):
    names = []
    yield names
    with app.app_context():
        for name in names:
            user = db.session.query(User).filter_by(username=name).one_or_none()
            if user is not None:
                user.roles = []
                db.session.delete(user)
        db.session.commit()


def new_user(name, role_id, **extra):
    return {"first_name": name, "last_name": "New", "username": name, "active": "y",
            "email": f"{name}@example.com", "roles": [str(role_id)], "password": PASSWORD,
            "conf_password": PASSWORD, **extra}


def role_id(app, name):
    with app.app_context():
        return app.appbuilder.sm.find_role(name).id


def saved(app, username):
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one_or_none()
        return user and (user.reseller_id,)


def test_a_reseller_admins_add_form_shows_their_own_reseller_fixed(login, reseller_admin):
    page = login(reseller_admin).get("/users/add").get_data(as_text=True)
    assert 'data-fixed="reseller"' in page and "Reseller A" in page
    assert '<select' not in page.split('id="reseller"')[0][-200:]
    assert 'name="reseller"' not in page  # nothing to choose
    assert "Reseller B" not in page
    assert "Every user you add or change belongs to your reseller." in page


def test_a_user_a_reseller_admin_adds_belongs_to_their_reseller(app, login, reseller_admin, resellers,
                                                                  cleanup_users):
    cleanup_users.append("ra_new")
    r = login(reseller_admin).form("/users/add", new_user("ra_new", role_id(app, "Reseller")))
    assert r.status_code == 302
    assert saved(app, "ra_new") == (resellers["Reseller A"],)


def test_a_forged_other_reseller_is_refused_and_nothing_is_saved(app, login, reseller_admin, resellers,
                                                                 cleanup_users):
    cleanup_users.append("ra_forged")
    r = login(reseller_admin).form("/users/add", new_user("ra_forged", role_id(app, "Reseller"),
                                                          reseller=str(resellers["Reseller B"])))
    assert r.status_code == 200
    assert "You can add and change users of Reseller A only." in r.get_data(as_text=True)
    assert saved(app, "ra_forged") is None


def test_a_forged_none_reseller_still_gives_their_own(app, login, reseller_admin, resellers, cleanup_users):
    cleanup_users.append("ra_none")
    r = login(reseller_admin).form("/users/add", new_user("ra_none", role_id(app, "Reseller"), reseller="__None"))
    assert r.status_code == 302
    assert saved(app, "ra_none") == (resellers["Reseller A"],)


def test_a_reseller_admin_sees_and_edits_only_their_resellers_users(app, login, reseller_admin, users):
    browser = login(reseller_admin)
    listed = browser.get("/users/list/").get_data(as_text=True)
    assert "reseller_a@example.com" in listed
    assert "reseller_b@example.com" not in listed and ">admin@example.com<" not in listed
    for other in ("reseller_b", "admin", "staff"):
        assert browser.get(f"/users/edit/{users[other].id}").status_code == 404
        assert browser.get(f"/users/show/{users[other].id}").status_code == 404


def test_a_reseller_admin_cannot_move_a_user_to_another_reseller(app, login, reseller_admin, users, resellers):
    target = users["reseller_a"]
    browser = login(reseller_admin)
    r = browser.form(f"/users/edit/{target.id}", {
        "first_name": "reseller_a", "last_name": "Test", "username": "reseller_a", "active": "y",
        "email": "reseller_a@example.com", "roles": [str(role_id(app, "Reseller"))],
        "reseller": str(resellers["Reseller B"])})
    assert r.status_code == 200
    assert "You can add and change users of Reseller A only." in r.get_data(as_text=True)
    assert saved(app, "reseller_a") == (resellers["Reseller A"],)
    # Sent without a reseller (the fixed text sends none), the user keeps Reseller A.
    r = browser.form(f"/users/edit/{target.id}", {
        "first_name": "Renamed", "last_name": "Test", "username": "reseller_a", "active": "y",
        "email": "reseller_a@example.com", "roles": [str(role_id(app, "Reseller"))]})
    assert r.status_code == 302
    try:
        assert saved(app, "reseller_a") == (resellers["Reseller A"],)
    finally:
        with app.app_context():
            db.session.query(User).filter_by(username="reseller_a").update({"first_name": "reseller_a"})
            db.session.commit()


def test_a_scoped_user_without_a_reseller_may_not_add_users(app, login, loose_admin, cleanup_users):
    browser = login(loose_admin)
    assert browser.get("/users/add").status_code == 403
    cleanup_users.append("loose_new")
    assert browser.post("/users/add", new_user("loose_new", role_id(app, "Staff"))).status_code == 403
    assert saved(app, "loose_new") is None
    listed = browser.get("/users/list/").get_data(as_text=True)
    assert "looseadmin@example.com" in listed and ">admin@example.com<" not in listed


def test_an_admin_picks_any_reseller_or_none(app, login, resellers, cleanup_users):
    admin = login("admin")
    page = admin.get("/users/add").get_data(as_text=True)
    assert 'name="reseller"' in page and "Reseller A" in page and "Reseller B" in page
    assert 'data-fixed="reseller"' not in page
    cleanup_users.extend(["admin_b", "admin_none"])
    staff = role_id(app, "Staff")
    assert admin.form("/users/add", new_user("admin_b", staff, reseller=str(resellers["Reseller B"]))).status_code == 302
    assert admin.form("/users/add", new_user("admin_none", staff, reseller="__None")).status_code == 302
    assert saved(app, "admin_b") == (resellers["Reseller B"],)
    assert saved(app, "admin_none") == (None,)


def test_a_reseller_admin_gives_only_roles_within_their_own_permissions(app, login, reseller_admin, cleanup_users):
    browser = login(reseller_admin)
    page = browser.get("/users/add").get_data(as_text=True)
    roles = page.split('name="roles"')[1].split("</select>")[0]
    assert ">Reseller<" in roles and ">ResellerAdmin<" in roles
    assert ">Admin<" not in roles and ">Staff<" not in roles  # Staff sees private notes, manages tags
    cleanup_users.append("ra_admin")
    for forged in ([role_id(app, "Admin")], [role_id(app, "Reseller"), role_id(app, "Admin")]):
        r = browser.form("/users/add", {**new_user("ra_admin", 0), "roles": [str(i) for i in forged]})
        assert r.status_code == 200
        assert "A role that is not offered here was sent" in r.get_data(as_text=True)
        assert saved(app, "ra_admin") is None


def test_a_user_form_without_a_role_says_so(app, login, cleanup_users):
    cleanup_users.append("no_role")
    data = new_user("no_role", 0)
    del data["roles"]
    r = login("admin").form("/users/add", data)
    assert r.status_code == 200 and "Choose at least one role." in r.get_data(as_text=True)
    assert saved(app, "no_role") is None


def test_an_admin_gives_any_role(login):
    page = login("admin").get("/users/add").get_data(as_text=True)
    roles = page.split('name="roles"')[1].split("</select>")[0]
    assert all(f">{name}<" in roles for name in ("Admin", "Staff", "Read-only", "Reseller"))


def test_setting_another_users_password_is_for_the_users_one_manages(app, login, resellers, users):
    with app.app_context():
        make_role_user(app, db.session, "PwAdmin", like="Reseller", reseller_id=resellers["Reseller A"], grants=[
            *USER_SCREEN, ("can_this_form_get", "ResetPasswordView"), ("can_this_form_post", "ResetPasswordView")])
    try:
        browser = login("pwadmin")
        new = {"password": "An0ther-Horse-Battery-77", "conf_password": "An0ther-Horse-Battery-77"}
        for other in ("admin", "reseller_b"):
            url = f"/resetpassword/form?pk={users[other].id}"
            assert browser.get(url).status_code == 404
            assert browser.post(url, new).status_code == 404
        assert browser.get("/resetpassword/form?pk=99999999").status_code == 404
        assert browser.get("/resetpassword/form?pk=x").status_code == 404
        login("admin")  # the admin's password is unchanged
        assert browser.get(f"/resetpassword/form?pk={users['reseller_a'].id}").status_code == 200
    finally:
        with app.app_context():
            remove_role_user(app, db.session, "PwAdmin")


def test_an_admin_sets_any_users_password_and_a_missing_user_is_not_found(login, users):
    admin = login("admin")
    assert admin.get(f"/resetpassword/form?pk={users['reseller_b'].id}").status_code == 200
    assert admin.get("/resetpassword/form?pk=99999999").status_code == 404


def test_the_service_checks_what_is_saved_for_a_managed_user(app, reseller_admin, resellers):
    """The backstop after the form (services/users.check_managed_user): reseller, a role, grantable roles."""
    from app.services.errors import Invalid
    from app.services.users import check_managed_user
    with app.app_context():
        actor = db.session.query(User).filter_by(username=reseller_admin).one()
        own, other = resellers["Reseller A"], resellers["Reseller B"]
        check_managed_user(db.session, actor, own, [role_id(app, "Reseller")])
        for reseller, roles, field in ((other, [role_id(app, "Reseller")], "reseller"),
                                       (own, [], "roles"),
                                       (own, [role_id(app, "Reseller"), role_id(app, "Admin")], "roles")):
            with pytest.raises(Invalid) as e:
                check_managed_user(db.session, actor, reseller, roles)
            assert field in e.value.errors
