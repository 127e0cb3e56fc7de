"""Roles made as an admin makes them in the browser: a default role's permissions plus some more."""
from contextlib import contextmanager

from app.models import User
from tests.conftest import PASSWORD


def make_role_user(app, session, name: str, like: str, grants=(), reseller_id=None) -> User:
    """A user (username `name` lower-cased, the tests' password) whose only role `name` has the
    permissions of the role `like` and the (permission, view) `grants`."""
    sm = app.appbuilder.sm
    extra = [sm.find_permission_view_menu(permission, view) for permission, view in grants]
    assert all(extra), grants
    role = sm.add_role(name, permissions=list(dict.fromkeys([*sm.find_role(like).permissions, *extra])))
    assert role is not None, name
    user = sm.add_user(name.lower(), name, "User", f"{name.lower()}@example.com", role, password=PASSWORD)
    assert user, name
    user.reseller_id = reseller_id
    session.commit()
    return user


def remove_role_user(app, session, name: str) -> None:
    sm = app.appbuilder.sm
    session.rollback()
    session.delete(sm.find_user(username=name.lower()))
    session.commit()
    session.delete(sm.find_role(name))
    session.commit()


@contextmanager
def role_user(app, session, name: str, like: str, grants=(), reseller_id=None):
    """make_role_user(), removed afterwards."""
    user = make_role_user(app, session, name, like, grants, reseller_id)
    try:
        yield user
    finally:
        remove_role_user(app, session, name)
