"""Who may do what: the security manager and the default roles, declared once.

The default roles are created on set-up (`flask setup`) from ROLE_PERMISSIONS and
are then the admins' to edit in FAB's security screens; set-up never takes a
permission from a role that already exists, and gives it only permissions that are
new to the installation (an action added by a new version).
"""
import re

from flask import abort, g, has_app_context, has_request_context, request
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.manager import BaseSecurityManager
from flask_appbuilder.security.sqla.manager import SecurityManager as FabSecurityManager
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_appbuilder.security import views as fab_views
from flask_appbuilder.security.views import UserDBModelView
from flask_babel import LazyString
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import ValidationError

from app.extensions import db
from app.models import Reseller, User
from app.services.errors import Invalid, NotFound, ServiceError
from app.services.scope import is_scoped
from app.services.users import (check_managed_user, check_may_manage_users, get_managed_user, grantable_roles,
                                reseller_for_managed_user, user_scope)
from app.views.list_widget import CountLabel
from app.views.lists import RequestFilters
from app.views.roles import RoleModelView

ADMIN, FINANCE, STAFF, READ_ONLY, RESELLER = "Admin", "Finance", "Staff", "Read-only", "Reseller"

_CUSTOMER_DATA = r"(Customer|Contact|ContactPhone|Address|Service)(View|Api)"
_READ = r"can_(list|show|get|info|export)"
_WRITE = r"can_(add|edit|post|put)"
_SELF_SERVICE = [
    (r"UserView", r"can_userinfo"),
    (r"UserInfoEditView|ResetMyPasswordView", r"can_this_form_(get|post)"),
    (r"(UserView|ResetMyPasswordView|UserInfoEditView)", r"(resetmypassword|userinfoedit)"),
]
_CUSTOMER_MENUS = (r"(Customers|Contacts|Phone numbers|Addresses|Services)", r"menu_access")
# Bulk actions on the customer list (their permission is the action's name), and the jobs
# list (the user's own jobs: seeing everyone's, can_see_all_jobs, is the Admin's) and the
# page that follows a job. Delete (bulk_delete, can_delete) is the Admin's alone.
_BULK = [(r"CustomerView", r"enable|disable|archive|unarchive|make_dormant|block|bulk_edit|send_email|send_text"),
         (r"JobView", r"can_(show|list)"), (r"Jobs", r"menu_access")]
# "Send statement" on the customer list (services/billing/statement_batch.py: POST_MONEY too): Finance's
# (and the Admin's), with the page that follows its job.
_SEND_STATEMENTS = [(r"CustomerView", r"send_statement"), (r"JobView", r"can_(show|list)"), (r"Jobs", r"menu_access")]
# The REST API's documentation (FAB's Swagger UI, the OpenAPI document it reads, its menu link):
# every default role may call the API within its permissions.
_API_DOCS = [(r"SwaggerView", r"can_show"), (r"OpenApi", r"can_get"), (r"API documentation", r"menu_access")]
# Messages and notification logs, to read (resending a failed message is the Admin's).
_MESSAGES = [(r"(Message|CustomerMessages|NotificationLog)View", r"can_(list|show)"), (r"Messages", r"menu_access")]
# The Payments list (views/payments.py), read-only: who sees money sees it.
_PAYMENTS_READ = [(r"PaymentView", _READ), (r"Payments", r"menu_access")]
# A customer's Invoice settings (views/invoice_settings.py), Allocate cash screen (views/cash_allocation.py) and
# Statement (views/statements.py): who sees money reads (and prints) them, who posts it changes (e-mails) them.
_INVOICE_SETTINGS_READ = (r"(InvoiceSettings|CashAllocation|Statement)View", r"can_show")
# Payment reminders (views/reminders.py): who sees money reads the "Overdue, not reminded" list (in scope),
# who posts money sends a reminder and moves the next one; Finance reads the steps (the Admin keeps them).
_OVERDUE_READ = [(r"OverdueNotRemindedView", r"can_show"), (r"Overdue, not reminded", r"menu_access")]
# Recurring billing (views/recurring_billing.py): who sees money reads the preview (in scope) and the runs; who
# posts money runs "Bill due services now" (can_post_money, by _MONEY_WRITE's pattern).
_RECURRING_READ = [(r"RecurringBillingView", r"can_show"), (r"Recurring billing", r"menu_access")]
_REMINDER_STEPS_READ = [(r"ReminderStepsView", r"can_show"), (r"Payment reminders", r"menu_access")]
# Money. Everyone who sees customers sees their money (invoices, credits, PDFs) and the rates and
# methods it is charged and paid with; Finance posts it (can_post_money: services/billing
# POST_MONEY). Tax rates and payment methods are kept by the Admin (who holds every permission).
_MONEY_READ = [(r"(Invoice|Credit|Quote|TaxRate|PaymentMethod)(View|Api)", _READ), (r"(Invoice|Credit)View", r"can_pdf"),
               (r"(Money|Invoices|Quotes|Credits|Tax rates|Payment methods)", r"menu_access"), *_PAYMENTS_READ,
               (r"CreditNote(View|Api)", _READ), (r"CreditNoteView", r"can_pdf"),
               _INVOICE_SETTINGS_READ, *_OVERDUE_READ, *_RECURRING_READ]
_MONEY_WRITE = [(r"(Invoice|Credit|Quote)(View|Api)", _WRITE), (r"(Invoice|Credit|Quote)(View|Api)", r"can_post_money|can_delete"),
                (r"(Invoice|Credit|Quote)View", r"can_[a-z_]+"),
                (r"CreditNote(View|Api)", _WRITE), (r"CreditNoteView", r"can_[a-z_]+"),
                (r"Card(View|Api)", r"can_[a-z_]+"),  # stored cards: seen and charged only by who posts money
                (r"(InvoiceSettings|CashAllocation|Statement|OverdueNotReminded|RecurringBilling)View", r"can_[a-z_]+")]
# FX rates: Finance and Admin keep the global rates and customers' own; nobody else sees the global
# ones. A customer's own rates are read (on its page) by who may open the customer.
_FX_WRITE = [(r"(Fx|CustomerFx)Rate(View|Api)", r"can_[a-z_]+"), (r"FX rates", r"menu_access")]
_FX_CUSTOMER_READ = (r"CustomerFxRate(View|Api)", r"can_(list|show|get)")
# Aged receivables and the ledger download (views/receivables.py): Finance, Admin and Reseller.
_RECEIVABLES = [(r"ReceivablesView", r"can_(show|export)"), (r"(Aged receivables|Receivables)", r"menu_access")]
# Price books: Finance and Admin keep books and items; everyone else reads them (to pick a line's item).
_PRICE_BOOKS_WRITE = [(r"PriceBook(Item)?(View|Api)", r"can_[a-z_]+"), (r"(Price books|Price book items)", r"menu_access")]
_PRICE_BOOKS_READ = [(r"PriceBook(Item)?View", r"can_(list|show|export)"), (r"PriceBook(Item)?Api", r"can_get"),
                     (r"(Price books|Price book items)", r"menu_access")]
# Private notes are for admins and staff (Admin holds every permission): not Read-only, not Reseller.
_PRIVATE_NOTES = (r"CustomerView", r"can_see_private_notes")

# Role -> list of (view name regex, permission regex), matched in full.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    FINANCE: [
        (_CUSTOMER_DATA, _READ), (r"TagApi", _READ), _CUSTOMER_MENUS, *_MESSAGES, *_SELF_SERVICE, *_API_DOCS,
        *_MONEY_READ, *_MONEY_WRITE, *_FX_WRITE, *_RECEIVABLES, *_PRICE_BOOKS_WRITE, *_SEND_STATEMENTS,
        *_REMINDER_STEPS_READ,
    ],
    STAFF: [
        (_CUSTOMER_DATA, _READ), (_CUSTOMER_DATA, _WRITE),
        (r"Tag(View|Api)", _READ), (r"Tag(View|Api)", _WRITE),
        _CUSTOMER_MENUS, (r"Tags", r"menu_access"),
        *_BULK, *_MESSAGES, *_SELF_SERVICE, _PRIVATE_NOTES, *_API_DOCS, *_MONEY_READ, _FX_CUSTOMER_READ,
        *_PRICE_BOOKS_READ,
    ],
    READ_ONLY: [
        (_CUSTOMER_DATA, _READ), (r"TagApi", _READ), _CUSTOMER_MENUS, *_MESSAGES, *_SELF_SERVICE, *_API_DOCS,
        *_MONEY_READ, _FX_CUSTOMER_READ, *_PRICE_BOOKS_READ,
    ],
    RESELLER: [
        (_CUSTOMER_DATA, _READ), (_CUSTOMER_DATA, _WRITE), (r"TagApi", _READ),
        _CUSTOMER_MENUS, *_BULK, *_MESSAGES, *_SELF_SERVICE, *_API_DOCS,
        (r"(Invoice|Credit|Quote)(View|Api)", _READ), (r"(Invoice|Credit)View", r"can_pdf"),
        (r"CreditNote(View|Api)", _READ), (r"CreditNoteView", r"can_pdf"), _INVOICE_SETTINGS_READ,
        (r"(Money|Invoices|Quotes|Credits)", r"menu_access"), *_PAYMENTS_READ, _FX_CUSTOMER_READ, *_RECEIVABLES, *_PRICE_BOOKS_READ,
        *_OVERDUE_READ, *_RECURRING_READ,
    ],
}


# FAB's security screens, each with filters of its own for each request (FAB keeps them on the
# view, shared by every thread) and without FAB's /download/<filename> route (a file from
# UPLOAD_FOLDER, which this app does not use: it answered 500). Each keeps FAB's class name:
# the name is the permissions' view name and the screens' endpoint.
_NO_DOWNLOAD = {"download"}


class UserScopeFilter(BaseFilter):
    """The users the logged-in user manages (services/users.py): every one, or their reseller's."""

    name = "In scope"

    def apply(self, query, value):
        return query.filter(user_scope(g.user))


class GrantableRoleFilter(BaseFilter):
    """The roles the logged-in user may give (services/users.py): any, or within their own."""

    name = "Grantable"

    def apply(self, query, value):
        return query.filter(grantable_roles(g.user))


class ResellerWidget(Select2Widget):
    """The user form's reseller: a drop-down of every reseller (and none); for a user confined
    to a reseller, their own as fixed text, since the server gives it to every user they save."""

    def __call__(self, field, **kwargs):
        if not is_scoped(g.user):
            return super().__call__(field, **kwargs)
        own = g.user.reseller
        name = own.name if own is not None else "(none)"
        return Markup(f'<p class="form-control-static" id="{escape(field.id)}" data-fixed="reseller">'
                      f'<i class="fa fa-lock" aria-hidden="true"></i> <strong>{escape(name)}</strong></p>')


def _reseller_description():
    if is_scoped(g.user):
        return "Every user you add or change belongs to your reseller."
    return "Set to confine this user to one reseller's customers."


def _reseller_allowed(form, field):
    own = g.user.reseller if is_scoped(g.user) else None
    try:
        reseller_for_managed_user(g.user, field.data.id if field.data else None,
                                  own.name if own is not None else "your reseller")
    except ServiceError as e:
        raise ValidationError(e.messages if isinstance(e, Invalid) else e.message) from None


def _roles_given(form, field):
    # FAB's roles_or_groups_required reads a groups field these forms do not have (a KeyError: 500),
    # and FAB's field drops a role it does not offer without a word (it looks before reading them).
    chosen = field.data
    if field._invalid_formdata:
        raise ValidationError("A role that is not offered here was sent: choose among those listed.")
    if not chosen:
        raise ValidationError("Choose at least one role.")


def _reseller_field():
    return QuerySelectField(
        "Reseller", query_func=lambda: db.session.scalars(select(Reseller).order_by(Reseller.name)).all(),
        get_pk_func=lambda reseller: reseller.id, allow_blank=True, blank_text="(none)",
        widget=ResellerWidget(), validators=[_reseller_allowed], description=LazyString(_reseller_description))


class UserView(CountLabel, RequestFilters, UserDBModelView):
    """FAB's user screens with the user's reseller.

    A user confined to a reseller whom an admin lets onto this screen sees and manages that
    reseller's users only (and themselves); the form shows their reseller as fixed text, and
    every user they add or edit gets it (another reseller posted is refused next to the field);
    the roles offered are those within their own permissions.
    """

    list_title = "Users"

    exclude_route_methods = _NO_DOWNLOAD
    base_filters = [["id", UserScopeFilter, None]]

    list_columns = ["first_name", "last_name", "username", "email", "active", "roles", "reseller"]
    show_fieldsets = [
        ("User info", {"fields": ["username", "active", "roles", "reseller", "login_count"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "email"], "expanded": True}),
        ("Audit info", {"fields": ["last_login", "fail_login_count", "created_on", "changed_on"],
                        "expanded": False}),
    ]
    add_columns = ["first_name", "last_name", "username", "active", "email", "roles", "reseller",
                   "password", "conf_password"]
    edit_columns = ["first_name", "last_name", "username", "active", "email", "roles", "reseller"]
    label_columns = {**UserDBModelView.label_columns, "reseller": "Reseller"} \
        if hasattr(UserDBModelView, "label_columns") else {"reseller": "Reseller"}
    add_form_extra_fields = {**UserDBModelView.add_form_extra_fields, "reseller": _reseller_field()}
    edit_form_extra_fields = {"reseller": _reseller_field()}
    validators_columns = {"roles": [_roles_given]}
    add_form_query_rel_fields = {"roles": [["id", GrantableRoleFilter, None]]}
    edit_form_query_rel_fields = add_form_query_rel_fields

    def _add(self):
        check_may_manage_users(g.user)  # Forbidden: 403
        return super()._add()

    def _edit(self, pk):
        check_may_manage_users(g.user)
        return super()._edit(pk)

    def process_form(self, form, is_created):
        # A scoped user's users get their reseller, also when the form sent none (fixed text).
        if is_scoped(g.user):
            form.reseller.data = g.user.reseller

    def _check_managed(self, item):
        # The backstop after the form: what is saved is what the rules of services/users.py give.
        check_managed_user(db.session, g.user, item.reseller.id if item.reseller is not None else None,
                           [role.id for role in item.roles])

    def pre_add(self, item):
        self._check_managed(item)

    def pre_update(self, item):
        self._check_managed(item)


class ResetPasswordView(fab_views.ResetPasswordView):
    """FAB's form that sets another user's password (/resetpassword/form?pk=), for a user the
    logged-in user manages only: anyone else, or no such user, answers 404 (FAB's form set any
    user's password, and answered 500 for a missing one)."""

    def _check_managed(self):
        try:
            get_managed_user(db.session, g.user, request.args.get("pk"))
        except NotFound:
            abort(404)

    def form_get(self, form):
        self._check_managed()

    def form_post(self, form):
        self._check_managed()
        super().form_post(form)


def _screen(fab_view):
    return type(fab_view.__name__, (CountLabel, RequestFilters, fab_view), {"exclude_route_methods": _NO_DOWNLOAD})


UserGroupModelView = _screen(fab_views.UserGroupModelView)
PermissionModelView = _screen(fab_views.PermissionModelView)
ViewMenuModelView = _screen(fab_views.ViewMenuModelView)
PermissionViewModelView = _screen(fab_views.PermissionViewModelView)


class SecurityManager(FabSecurityManager):
    user_model = User
    userdbmodelview = UserView
    resetpasswordview = ResetPasswordView
    rolemodelview = RoleModelView
    groupmodelview = UserGroupModelView
    permissionmodelview = PermissionModelView
    viewmenumodelview = ViewMenuModelView
    permissionviewmodelview = PermissionViewModelView
    # FAB's user statistics chart loads Google Charts from the internet; we serve no
    # third-party scripts, so the page is not registered.
    userstatschartview = None

    # One query per request for all of a user's permissions, instead of one per
    # menu item and button (stock FAB makes some twenty on a list page).
    def _permission_set(self, user) -> frozenset[tuple[str, str]]:
        cache = g.setdefault("_permission_sets", {}) if has_app_context() else {}
        key = getattr(user, "id", None)
        if key in cache:
            return cache[key]
        roles = self.get_user_roles(user)
        names = set()
        for role in roles:
            if role.name in self.builtin_roles:
                names.update((p, v) for v, p in self.builtin_roles[role.name])
        role_ids = [r.id for r in roles if r.name not in self.builtin_roles]
        if role_ids:
            rows = self.session.execute(
                select(Permission.name, ViewMenu.name)
                .select_from(PermissionView)
                .join(Permission, PermissionView.permission_id == Permission.id)
                .join(ViewMenu, PermissionView.view_menu_id == ViewMenu.id)
                .join(assoc_permissionview_role,
                      assoc_permissionview_role.c.permission_view_id == PermissionView.id)
                .where(assoc_permissionview_role.c.role_id.in_(role_ids))
            )
            names.update((p, v) for p, v in rows)
        cache[key] = frozenset(names)
        return cache[key]

    def load_user(self, pk):
        """The logged-in user with roles and groups in one query (FAB lazy-loads each)."""
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            return None
        user = self.session.scalars(
            select(User).where(User.id == pk)
            .options(joinedload(User.roles), joinedload(User.groups))
        ).unique().first()
        return user if user and user.is_active else None

    def has_access(self, permission_name: str, view_name: str) -> bool:
        """FAB's answer, without its proxies: the menu and the buttons ask some forty times a page,
        and FAB resolves flask-login's current_user (and re-checks it is attached) each time. The
        logged-in user flask-login loaded for this request (g._login_user) answers directly."""
        user = g.get("_login_user") if has_request_context() and not g.get("_api_key_user") else None
        if user is not None and user.is_authenticated and user.is_active:
            return self._has_view_access(user, permission_name, view_name)
        return super().has_access(permission_name, view_name)

    def _has_view_access(self, user, permission_name: str, view_name: str) -> bool:
        if any(r.name in self.builtin_roles and self._has_access_builtin_roles(r, permission_name, view_name)
               for r in self.get_user_roles(user)):
            return True
        return (permission_name, view_name) in self._permission_set(user)

    def _get_user_permission_view_menus(self, user, permission_name, view_menus_name):
        if user is None:
            return super()._get_user_permission_view_menus(user, permission_name, view_menus_name)
        perms = self._permission_set(user)
        return {v for p, v in perms if p == permission_name and (view_menus_name is None or v in view_menus_name)}

    def register_views(self):
        # FAB's own: the login API and the security screens. Not FAB's security model API
        # (users, roles, permissions, resources under /api/v1/security/, whatever
        # FAB_ADD_SECURITY_API says): admins manage users and roles in the browser screens,
        # which set a user's reseller (the API cannot) and check their input; the API
        # answered 500 to a duplicate name, a body that is not JSON, a PUT on _info...
        BaseSecurityManager.register_views(self)
        # FAB limits only the HTML login; without this, passwords could be guessed
        # through the REST login at full speed.
        if self.is_auth_limited:
            for view in self.appbuilder.baseviews:
                if isinstance(view, self.security_api):
                    self.limiter.limit(self.auth_rate_limit, methods=["POST"])(view.blueprint)

    # ---- set-up -------------------------------------------------------------
    def create_roles_and_permissions(self) -> list[str]:
        """Create FAB's permissions, the Admin and Public roles, and our default roles.

        Returns the names of the roles created now. Existing roles are left as admins made
        them, but for permissions new to this installation (an action a new version adds):
        those go to the default roles whose patterns match them, as on a new installation.
        (A permission an admin deleted outright is made again here and counts as new: to take
        one from a role, untick it on the role.)
        """
        BaseSecurityManager.create_db(self)
        known = set(self.session.scalars(select(PermissionView.id)))
        self.appbuilder.add_permissions(update_perms=True)
        created = []
        all_pvms = self.session.scalars(select(PermissionView)).all()
        new_pvms = [pv for pv in all_pvms if pv.id not in known]
        for role_name, patterns in ROLE_PERMISSIONS.items():
            compiled = [(re.compile(v), re.compile(p)) for v, p in patterns]

            def granted(pvms):
                return [pv for pv in pvms if any(v.fullmatch(pv.view_menu.name) and p.fullmatch(pv.permission.name)
                                                 for v, p in compiled)]
            role = self.find_role(role_name)
            if role is None:
                self.add_role(role_name, permissions=granted(all_pvms))
                created.append(role_name)
            elif known:
                role.permissions.extend(pv for pv in granted(new_pvms) if pv not in role.permissions)
        self.session.commit()
        return created
