"""Deleting a user or a role leaves nothing behind that a new one could inherit. FAB relies on
ON DELETE CASCADE for its link tables, which SQLite enforces only with foreign keys switched on;
without them a new user given a deleted user's id got that user's roles."""
from sqlalchemy import select

from app.models import User
from tests.conftest import PASSWORD


def test_a_user_made_after_an_admin_was_deleted_has_only_the_roles_it_was_given(app, ctx):
    sm = app.appbuilder.sm
    gone = sm.add_user("short_lived", "Short", "Lived", "short_lived@example.com", sm.find_role("Admin"),
                       password=PASSWORD)
    ctx.delete(gone)
    ctx.commit()
    newcomer = sm.add_user("newcomer", "New", "Comer", "newcomer@example.com", sm.find_role("Read-only"),
                           password=PASSWORD)
    try:
        ctx.expire_all()
        assert [role.name for role in ctx.get(User, newcomer.id).roles] == ["Read-only"]
    finally:
        ctx.delete(ctx.get(User, newcomer.id))
        ctx.commit()


def test_a_role_made_after_one_was_deleted_has_only_the_permissions_it_was_given(app, ctx):
    sm = app.appbuilder.sm
    gone = sm.add_role("Short lived", permissions=list(sm.find_role("Staff").permissions))
    ctx.delete(gone)
    ctx.commit()
    newcomer = sm.add_role("Newcomer", permissions=[sm.find_permission_view_menu("can_list", "CustomerView")])
    try:
        assert newcomer is not None
        ctx.expire_all()
        assert [(pv.permission.name, pv.view_menu.name) for pv in sm.find_role("Newcomer").permissions] == \
            [("can_list", "CustomerView")]
    finally:
        ctx.delete(sm.find_role("Newcomer"))
        ctx.commit()
    assert ctx.scalar(select(User.id).where(User.username == "short_lived")) is None
