"""The roles screen: FAB's RoleModelView with each role's permissions grouped by screen, in words.

FAB shows a role's permissions as "can add on CustomerView" strings in one long multi-select.
Here the add and edit forms tick boxes grouped by screen ("Customers": add, edit, bulk e-mail…),
and the list and show pages say the same ("Customers: add, edit, list"). Storage stays FAB's:
the field's data is the ticked PermissionView rows, which FAB writes to ab_permission_view_role
as its own form does.
"""
import re

from flask import flash, render_template, request
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security import views as fab_views
from flask_appbuilder.security.sqla.models import PermissionView
from flask_appbuilder.widgets import ShowWidget
from markupsafe import Markup, escape
from sqlalchemy import select
from wtforms import HiddenField, ValidationError

from app.extensions import db
from app.services.errors import Invalid
from app.services.forms import claim_form_key, new_form_key
from app.views.list_widget import CountLabel, FabListWidget
from app.views.lists import RequestFilters

MENU = "Menu"

# A screen's permission view name -> the screen as people call it (the menu's words).
SCREENS = {
    "CustomerView": "Customers", "ContactView": "Contacts", "ContactPhoneView": "Phone numbers",
    "AddressView": "Addresses", "ServiceView": "Services", "TagView": "Tags", "MessageView": "Messages",
    "CustomerMessagesView": "A customer's messages", "NotificationLogView": "Notification logs",
    "JobView": "Jobs", "JobMonitorView": "Job monitor", "ResellerView": "Resellers", "AuditView": "Audit log",
    "CustomFieldView": "Custom fields", "UserView": "Users", "RoleModelView": "Roles",
    "UserGroupModelView": "Groups", "PermissionModelView": "Base permissions",
    "ViewMenuModelView": "Views and menus", "PermissionViewModelView": "Permissions on views and menus",
    "UserInfoEditView": "Own user details", "ResetMyPasswordView": "Own password",
    "ResetPasswordView": "Other users' passwords", "SwaggerView": "API documentation",
    "OpenApi": "OpenAPI document", "MenuApi": "Menu (API)",
}

# A permission's name -> its words, in the order a group lists them; others follow, A to Z.
PERMISSIONS = {
    "can_list": "list", "can_show": "show", "can_get": "read", "can_add": "add", "can_post": "create",
    "can_edit": "edit", "can_put": "update", "can_delete": "delete", "can_info": "form details",
    "can_export": "export CSV", "send_email": "bulk e-mail", "send_text": "bulk text message",
    "bulk_edit": "edit in bulk", "bulk_delete": "delete in bulk", "enable": "enable", "disable": "disable",
    "make_dormant": "make dormant", "block": "block", "archive": "archive", "unarchive": "unarchive",
    "can_merge": "merge", "can_see_private_notes": "see private notes", "can_resend": "resend",
    "can_see_all_jobs": "see every user's jobs", "can_retry": "retry", "can_cancel": "cancel", "can_userinfo": "own user info",
    "userinfoedit": "edit own user info", "resetmypassword": "reset own password",
    "resetpasswords": "reset passwords", "copyrole": "copy role",
    "can_this_form_get": "open the form", "can_this_form_post": "send the form",
}
_ORDER = {name: i for i, name in enumerate(PERMISSIONS)}


def words(name: str) -> str:
    """snake_case or CamelCase as lower-case words: "can_see_all" -> "see all"."""
    name = re.sub(r"^can_", "", name)
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return " ".join(name.split()).lower()


def screen_name(view_menu: str) -> str:
    """The screen a view menu name stands for: "CustomerView" -> "Customers"; an API "(API)"."""
    if view_menu in SCREENS:
        return SCREENS[view_menu]
    api = view_menu.endswith("Api")
    base = re.sub(r"(ModelView|View|Api)$", "", view_menu) or view_menu
    for name, label in SCREENS.items():  # CustomerApi: the Customers screen's API
        if name.removesuffix("View") == base:
            base = label
            break
    else:
        base = words(base).capitalize()
    return f"{base} (API)" if api else base


def permission_name(permission: str) -> str:
    return PERMISSIONS.get(permission) or words(permission)


def group_and_label(pv) -> tuple[str, str]:
    """(group, label) of a PermissionView: ("Customers", "bulk e-mail"), ("Menu", "Audit log")."""
    if pv.permission.name == "menu_access":
        return MENU, pv.view_menu.name
    return screen_name(pv.view_menu.name), permission_name(pv.permission.name)


def grouped(pvs) -> list[tuple[str, list[tuple[str, object]]]]:
    """[(group, [(label, pv)...])...]: groups A to Z with the menu last; in a group, the
    permissions in PERMISSIONS' order, then the others A to Z."""
    groups: dict[str, list] = {}
    for pv in pvs:
        group, label = group_and_label(pv)
        groups.setdefault(group, []).append((label, pv))
    for entries in groups.values():
        entries.sort(key=lambda e: (_ORDER.get(e[1].permission.name, len(_ORDER)), e[0]))
    return sorted(groups.items(), key=lambda g: (g[0] == MENU, g[0].lower()))


def role_name(name) -> Markup:
    return Markup('<span style="white-space: nowrap">{}</span>').format(name)


def permissions_summary(pvs) -> Markup:
    """A role's permissions as one line per screen: "Customers: list, show, add"."""
    if not pvs:
        return Markup('<span class="text-muted">none</span>')
    lines = (Markup('<li><strong>{}</strong>: {}</li>').format(group, ", ".join(label for label, _ in entries))
             for group, entries in grouped(pvs))
    return Markup('<ul class="list-unstyled role-permissions">') + Markup("").join(lines) + Markup("</ul>")


class GroupedPermissionsWidget:
    """Checkboxes, one fieldset per screen, each with a box that ticks the whole screen."""

    template = "security/permission_groups.html"

    def __call__(self, field, **kwargs):
        ticked = {pv.id for pv in field.data or []}
        groups = []
        for group, entries in grouped(obj for _, obj in field._get_object_list()):
            choices = [(label, pv.id, pv.id in ticked) for label, pv in entries]
            groups.append((group, choices, all(t for _, _, t in choices)))
        return Markup(render_template(self.template, field=field, groups=groups))


class GroupedPermissionsField(QuerySelectMultipleField):
    """FAB's multi-select of PermissionView rows, shown as grouped checkboxes. An id that is no
    permission (a forged form) fails the form: nothing is saved."""

    widget = GroupedPermissionsWidget()

    def pre_validate(self, form):
        self.data  # noqa: B018 -- reading it matches the sent ids to permissions
        if self._invalid_formdata:
            raise ValidationError("A permission that does not exist was sent: nothing was saved. "
                                  "Open the form again.")


def _all_permissions():
    return db.session.scalars(select(PermissionView)).all()


def _permissions_in_order():
    return [pv for _, entries in grouped(_all_permissions()) for _, pv in entries]


def _search_field():
    """The list's filter by permission, its choices in words: "Customers: bulk e-mail"."""
    return QuerySelectField("Permissions", query_func=_permissions_in_order, get_pk_func=lambda pv: pv.id,
                            get_label=lambda pv: "{}: {}".format(*group_and_label(pv)), widget=Select2Widget())


def _permissions_field():
    return GroupedPermissionsField("Permissions", query_func=_all_permissions, get_pk_func=lambda pv: pv.id,
                                   description="Tick what the role's users may do, screen by screen.")


ALREADY_SAVED = "This form was already saved; it was not saved twice."


class RoleModelView(CountLabel, RequestFilters, fab_views.RoleModelView):
    """FAB's roles screen (the class name is the permissions' view name) with grouped permissions,
    a one-time key on the add form against a double submit, and no file-download route."""

    exclude_route_methods = {"download"}
    list_title = "Roles"
    list_widget = FabListWidget
    show_widget = ShowWidget
    formatters_columns = {"name": role_name, "permissions": permissions_summary}
    search_form_extra_fields = {"permissions": _search_field()}
    add_form_extra_fields = {"permissions": _permissions_field()}
    edit_form_extra_fields = {"permissions": _permissions_field()}

    def _init_forms(self):
        super()._init_forms()
        self.add_form = type(self.add_form.__name__, (self.add_form,), {"form_key": HiddenField()})

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        if request.method == "GET":
            form.form_key.data = new_form_key()
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def _add(self):
        # The key is claimed first (the second submit of a saved form must not meet "already
        # exists" on the name); when the role is not saved after all, the claim goes with it.
        key = request.form.get("form_key") if request.method == "POST" else None
        if key:
            try:
                claimed = claim_form_key(db.session, key)
            except Invalid as e:
                flash(e.messages, "danger")
                return None
            if not claimed:
                db.session.rollback()
                flash(ALREADY_SAVED, "info")
                return None
        widgets = super()._add()
        if key and widgets is not None:
            db.session.rollback()
        return widgets
