"""Who manages which users, and the reseller a managed user belongs to.

No default role but Admin reaches FAB's user screen; an admin may grant it to a role of
users confined to a reseller (a reseller's own administrator). Such a user manages that
reseller's users only: they see those users (and themselves), every user they add or edit
belongs to their reseller, whatever a form sent, and they give only roles within their own
permissions. An unscoped user picks any reseller, or none, and any role.
"""
from flask_appbuilder.security.sqla.models import Role, assoc_permissionview_role as granted
from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session

from app.models import User
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.fields import record_id
from app.services.scope import is_scoped, reseller_id_of

NO_RESELLER = "Your user is confined to a reseller but linked to none: you cannot add or change users."


def user_scope(actor) -> ColumnElement[bool]:
    """A WHERE clause on User: the users `actor` may see and manage on the user screen."""
    if not is_scoped(actor):
        return true()
    own = reseller_id_of(actor)
    if own is None:
        return User.id == actor.id
    return (User.reseller_id == own) | (User.id == actor.id)


def get_managed_user(session: Session, actor, user_id) -> User:
    """A user `actor` manages (user_scope); NotFound for anyone else, or no such user."""
    user_id = record_id(user_id)
    user = session.scalar(select(User).where(User.id == user_id, user_scope(actor))) if user_id is not None else None
    if user is None:
        raise NotFound("No such user.")
    return user


def grantable_roles(actor) -> ColumnElement[bool]:
    """A WHERE clause on Role: the roles `actor` may give a user. An unscoped actor gives any; a
    scoped one only roles that hold no permission the actor lacks (else a reseller's admin
    could make an Admin, or a user who manages roles)."""
    if not is_scoped(actor):
        return true()
    own = select(granted.c.permission_view_id).where(
        granted.c.role_id.in_([role.id for role in getattr(actor, "roles", [])]))
    beyond = select(granted.c.role_id).where(granted.c.permission_view_id.not_in(own))
    return Role.id.not_in(beyond)


def check_may_manage_users(actor) -> None:
    """Raise Forbidden when `actor` may not add or change users at all: confined to a reseller
    but linked to none (a user they made would belong to no reseller, so see every customer)."""
    if is_scoped(actor) and reseller_id_of(actor) is None:
        raise Forbidden(NO_RESELLER)


def reseller_for_managed_user(actor, chosen_id: int | None, own_name: str = "your reseller") -> int | None:
    """The reseller id a user that `actor` adds or edits gets.

    An unscoped actor's choice stands (a reseller's id, or None for none). A scoped actor's
    users get the actor's own reseller: nothing chosen, or their own, gives it; another
    reseller raises Invalid on the field `reseller`. Raises Forbidden as
    check_may_manage_users().
    """
    if not is_scoped(actor):
        return chosen_id
    check_may_manage_users(actor)
    own = reseller_id_of(actor)
    if chosen_id is not None and chosen_id != own:
        raise Invalid({"reseller": f"You can add and change users of {own_name} only."})
    return own


def check_managed_user(session: Session, actor, reseller_id: int | None, role_ids) -> None:
    """What is saved for a user `actor` adds or edits, checked once more after the form: the
    reseller the rule gives (reseller_for_managed_user), at least one role, and only roles
    `actor` may give (grantable_roles). Raises Invalid naming the field."""
    if reseller_for_managed_user(actor, reseller_id) != reseller_id:
        raise Invalid({"reseller": "A user you manage must belong to your reseller."})
    role_ids = set(role_ids)
    if not role_ids:
        raise Invalid({"roles": "Choose at least one role."})
    if not is_scoped(actor):
        return
    with session.no_autoflush:  # called before the user is added (FAB's pre_add): nothing to write yet
        allowed = set(session.scalars(select(Role.id).where(Role.id.in_(role_ids), grantable_roles(actor))))
    if allowed != role_ids:
        raise Invalid({"roles": "You may give only roles within your own permissions."})
