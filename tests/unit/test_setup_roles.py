"""`flask setup` on an installation that has it already (issue 2's roles; issue 4's new actions)."""
import pytest
from sqlalchemy import delete, select

from app.extensions import db
from tests.conftest import make_app


@pytest.fixture(scope="module")
def fresh_app(tmp_path_factory):
    from flask_migrate import upgrade
    application = make_app(f"sqlite:///{tmp_path_factory.mktemp('setup') / 'setup.db'}")
    with application.app_context():
        upgrade()
        application.appbuilder.sm.create_roles_and_permissions()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def names(sm, role_name):
    return {(pv.permission.name, pv.view_menu.name) for pv in sm.find_role(role_name).permissions}


def test_a_permission_new_to_the_installation_goes_to_the_default_roles_but_an_admins_choice_stays(fresh_app):
    from flask_appbuilder.security.sqla.models import Permission, PermissionView, ViewMenu, assoc_permissionview_role
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        assert {("make_dormant", "CustomerView"), ("can_add", "TagView")} <= names(sm, "Staff")
        # an older installation: no make_dormant yet; and an admin took "add tags" from Staff
        pv = db.session.scalars(select(PermissionView).join(Permission).join(ViewMenu).where(
            Permission.name == "make_dormant", ViewMenu.name == "CustomerView")).one()
        db.session.execute(delete(assoc_permissionview_role).where(
            assoc_permissionview_role.c.permission_view_id == pv.id))
        db.session.delete(pv)
        staff = sm.find_role("Staff")
        staff.permissions = [p for p in staff.permissions
                             if (p.permission.name, p.view_menu.name) != ("can_add", "TagView")]
        db.session.commit()
        assert ("make_dormant", "CustomerView") not in names(sm, "Staff")

        assert sm.create_roles_and_permissions() == []  # no role is created again
        staff = names(sm, "Staff")
        assert ("make_dormant", "CustomerView") in staff and ("make_dormant", "CustomerView") in names(sm, "Reseller")
        assert ("make_dormant", "CustomerView") not in names(sm, "Read-only")
        assert ("can_add", "TagView") not in staff  # the admin's choice stands


def test_money_roles_finance_posts_staff_and_readers_see_and_resellers_see_their_documents(fresh_app):
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        post = ("can_post_money", "InvoiceView")
        assert post in names(sm, "Finance") and post in names(sm, "Admin")
        for role in ("Staff", "Read-only", "Reseller"):
            assert post not in names(sm, role), role
            assert {("can_list", "InvoiceView"), ("can_show", "CreditView")} <= names(sm, role), role
        assert ("can_add", "TaxRateView") not in names(sm, "Finance")  # tax rates are the Admin's to keep
        assert ("can_list", "TaxRateView") not in names(sm, "Reseller")


def test_setup_on_an_installation_from_before_money_creates_the_finance_role(fresh_app):
    with fresh_app.app_context():
        sm = fresh_app.appbuilder.sm
        role = sm.find_role("Finance")
        role.permissions = []
        db.session.delete(role)
        db.session.commit()
        assert "Finance" in sm.create_roles_and_permissions()
        assert ("can_post_money", "InvoiceView") in names(sm, "Finance")
