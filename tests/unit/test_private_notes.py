"""Private notes are for admins and staff (issue 12): a permission decides (can_see_private_notes
on CustomerView, Admin's and Staff's by default), never a role's name; Read-only and resellers
do not read them anywhere (the list, the pinned ones, one note, the profile's count, the
history of notes) nor write them."""
import pytest
from sqlalchemy import delete, select

from app.extensions import db
from app.models import AuditEntry, Note
from app.services.customers import notes, profile
from app.services.errors import Forbidden, NotFound
from tests import factories as f
from tests.conftest import make_app
from tests.roles import role_user

GRANT = notes.PRIVATE_NOTES


@pytest.fixture
def written(ctx):
    """A customer with an open note, a private one and a pinned private one."""
    c = f.customer()
    staff = f.user("staff")
    return {
        "customer": c.id,
        "open": notes.add_note(ctx, staff, c.id, {"body": "Key under the mat"}).id,
        "private": notes.add_note(ctx, staff, c.id, {"body": "Owes us from 2019", "private": "1"}).id,
        "pinned": notes.add_note(ctx, staff, c.id, {"body": "Lawyer involved", "private": "1", "important": "1"}).id,
    }


def _seen(session, actor, customer_id):
    return {n.id for n in notes.notes_for(session, actor, customer_id)}


def _history(session, actor, customer_id):
    return session.scalars(select(AuditEntry.entity).where(
        AuditEntry.customer_id == customer_id, notes.history_visible(session, actor))).all()


@pytest.mark.parametrize("username", ["admin", "staff"])
def test_admins_and_staff_read_private_notes_everywhere(ctx, written, username):
    user = f.user(username)
    assert notes.may_see_private(ctx, user)
    assert _seen(ctx, user, written["customer"]) == {written["open"], written["private"], written["pinned"]}
    assert notes.notes_for(ctx, user, written["customer"])[0].id == written["pinned"]
    assert notes.get_note(ctx, user, written["private"]).body == "Owes us from 2019"
    assert profile.summary(ctx, user, written["customer"], {}).counts["notes"] == 3
    assert "note" in _history(ctx, user, written["customer"])


def test_read_only_users_do_not_see_private_notes_pinned_or_not(ctx, written):
    readonly = f.user("readonly")
    assert not notes.may_see_private(ctx, readonly)
    assert _seen(ctx, readonly, written["customer"]) == {written["open"]}
    page, more = notes.notes_page(ctx, readonly, written["customer"], before=written["pinned"] + 1)
    assert [n.id for n in page] == [written["open"]] and more is None
    for hidden in (written["private"], written["pinned"]):
        with pytest.raises(NotFound):
            notes.get_note(ctx, readonly, hidden)
    assert profile.summary(ctx, readonly, written["customer"], {}).counts["notes"] == 1
    history = _history(ctx, readonly, written["customer"])
    assert "note" not in history and "customer" in history  # the rest of the history stays


def test_read_only_users_and_resellers_cannot_write_a_private_note(ctx, resellers):
    c = f.customer(reseller_id=resellers["Reseller A"])
    for username in ("readonly", "reseller_a"):
        with pytest.raises(Forbidden):
            notes.add_note(ctx, f.user(username), c.id, {"body": "x", "private": "on"})
    assert notes.notes_for(ctx, f.user("admin"), c.id) == []


def test_resellers_still_never_see_private_notes(ctx, resellers):
    c = f.customer(reseller_id=resellers["Reseller A"])
    secret = notes.add_note(ctx, f.user("staff"), c.id, {"body": "Owes us", "private": "1"})
    reseller = f.user("reseller_a")
    assert _seen(ctx, reseller, c.id) == set()
    with pytest.raises(NotFound):
        notes.get_note(ctx, reseller, secret.id)
    assert "note" not in _history(ctx, reseller, c.id)


def test_the_permission_decides_not_the_roles_name(app, ctx, written):
    with role_user(app, ctx, "Auditor", like="Read-only", grants=[GRANT]) as auditor:
        assert notes.may_see_private(ctx, auditor)
        assert written["private"] in _seen(ctx, auditor, written["customer"])
    staff = app.appbuilder.sm.find_role("Staff")
    granted = [pv for pv in staff.permissions if (pv.permission.name, pv.view_menu.name) == GRANT]
    staff_without = [pv for pv in staff.permissions if pv not in granted]
    with role_user(app, ctx, "Junior", like="Staff") as junior:
        junior.roles[0].permissions = staff_without  # an admin untook it from this role
        ctx.commit()
        assert not notes.may_see_private(ctx, junior)
        assert _seen(ctx, junior, written["customer"]) == {written["open"]}


def test_a_user_confined_to_a_reseller_never_sees_them_even_with_the_permission(app, ctx, resellers):
    c = f.customer(reseller_id=resellers["Reseller A"])
    secret = notes.add_note(ctx, f.user("staff"), c.id, {"body": "Owes us", "private": "1"})
    with role_user(app, ctx, "PartnerStaff", like="Staff", reseller_id=resellers["Reseller A"]) as partner:
        assert not notes.may_see_private(ctx, partner)
        assert secret.id not in _seen(ctx, partner, c.id)


def test_without_a_session_the_actors_own_answers_and_no_user_sees_none(ctx, written):
    staff = f.user("staff")

    def rows(actor):
        return set(ctx.scalars(select(Note.id).where(Note.customer_id == written["customer"], notes.visible(actor))))
    assert rows(staff) == {written["open"], written["private"], written["pinned"]}
    assert rows(None) == {written["open"]}


@pytest.mark.parametrize("role, holds", [("Admin", True), ("Staff", True), ("Read-only", False), ("Reseller", False)])
def test_the_default_roles(app, ctx, role, holds):
    pvs = app.appbuilder.sm.find_role(role).permissions
    assert (GRANT in {(pv.permission.name, pv.view_menu.name) for pv in pvs}) is holds


def test_setup_on_an_existing_installation_gives_the_new_permission_to_admin_and_staff(tmp_path_factory):
    from flask_appbuilder.security.sqla.models import Permission, PermissionView, ViewMenu, assoc_permissionview_role
    from flask_migrate import upgrade
    application = make_app(f"sqlite:///{tmp_path_factory.mktemp('private') / 'p.db'}")
    try:
        with application.app_context():
            upgrade()
            sm = application.appbuilder.sm
            sm.create_roles_and_permissions()
            # An installation from before this permission existed.
            pv = db.session.scalars(select(PermissionView).join(Permission).join(ViewMenu).where(
                Permission.name == GRANT[0], ViewMenu.name == GRANT[1])).one()
            db.session.execute(delete(assoc_permissionview_role).where(
                assoc_permissionview_role.c.permission_view_id == pv.id))
            db.session.delete(pv)
            db.session.commit()

            assert sm.create_roles_and_permissions() == []
            held = {name: GRANT in {(p.permission.name, p.view_menu.name) for p in sm.find_role(name).permissions}
                    for name in ("Admin", "Staff", "Read-only", "Reseller")}
            assert held == {"Admin": True, "Staff": True, "Read-only": False, "Reseller": False}
    finally:
        with application.app_context():
            db.session.remove()
            db.engine.dispose()



def test_the_changes_tab_shows_the_history_of_notes_only_to_who_may_see_private_notes(ctx, written):
    def note_history(username):
        entries, _ = profile.changes(ctx, f.user(username), written["customer"])
        return [e for e in entries if e.entity == "note"]
    assert note_history("admin") and note_history("staff")
    assert note_history("readonly") == []
