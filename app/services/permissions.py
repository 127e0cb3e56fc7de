"""What a user's roles grant, for services that must check a permission themselves.

FAB decides at each route (`has_access`); a command that several routes share checks the
permission again here, by FAB's names (("can_delete", "CustomerView"), an action's name such
as ("bulk_delete", "CustomerView")), so that the roles admins edit in the browser decide,
never a role's name. Which customers a user sees is scope's business (services/scope.py).
An answer is kept for the rest of the session's transaction (a page asks the same question
several times); a new transaction asks the database again.
"""
from flask_appbuilder.security.sqla.models import Permission, PermissionView, ViewMenu, assoc_permissionview_role
from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from collections.abc import Callable

from app.services.errors import Forbidden
from app.services.transaction_cache import remembered

Check = Callable[[str, str], bool]
# Where the app already holds a user's permissions (a request's logged-in user: FAB's security
# manager reads them once a request), they answer without a query; None: ask the database.
_known: Callable[[object], Check | None] = lambda user: None


def set_permission_source(source: Callable[[object], Check | None]) -> None:
    global _known
    _known = source


def may(session: Session, user, *grants: tuple[str, str]) -> bool:
    """Whether `user`'s roles grant any of `grants` ((permission, view) pairs); one query, or none
    where the app already holds the user's permissions."""
    check = _known(user)
    if check is not None:
        return any(check(p, v) for p, v in grants)
    role_ids = tuple(sorted(r.id for r in getattr(user, "roles", None) or ()))
    if not role_ids or not grants:
        return False
    return remembered(session, ("may", role_ids, grants), lambda: _may(session, role_ids, grants))


def _may(session: Session, role_ids, grants) -> bool:
    return bool(session.scalar(select(exists().where(
        assoc_permissionview_role.c.role_id.in_(role_ids),
        assoc_permissionview_role.c.permission_view_id == PermissionView.id,
        PermissionView.permission_id == Permission.id,
        PermissionView.view_menu_id == ViewMenu.id,
        or_(*[and_(Permission.name == p, ViewMenu.name == v) for p, v in grants])))))


def require(session: Session, user, *grants: tuple[str, str], message: str = "You may not do that.") -> None:
    """Raise Forbidden unless `user` holds one of `grants`."""
    if not may(session, user, *grants):
        raise Forbidden(message)
