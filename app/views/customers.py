"""The customer list: FAB's ModelView on our fast datamodel, with CSV export."""

from flask import g, request
from markupsafe import Markup, escape
from flask_appbuilder.baseviews import expose
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_filter_args, get_order_args
from wtforms import BooleanField

from app.extensions import db
from app.models import Customer
from app.services import csv_export, permissions
from app.services.billing import POST_MONEY, price_books, tax
from app.services.customers.create import create_customer
from app.services.customers.delete import delete_customer
from app.services.customers.update import update_customer
from app.services.customers.validate import PREFERENCE_FIELDS
from app.services.scope import reseller_choice_scope
from app.services.settings import settings
from app.views import downloads, formatters
from app.views.base import ServiceModelView
from app.views.bulk import BulkActionsMixin, action_applies
from app.views.messages import CustomerMessagesView, MessagesMixin, NotificationLogView
from app.views.contacts import PREFERENCE_LABELS, AddressView, ContactView, ServiceView
from app.views.datamodel import CustomerInterface
from app.views.filters import CustomerScopeFilter, FilterStatusNotEqual
from app.views.forms import customer_fields
from app.views.custom_fields import CustomFieldsMixin
from app.views.files import FilesMixin
from app.views.profile import ProfileMixin
from app.views.list_widget import ModelListWidget
from app.views.widgets import (FilterChipsWidget, clear_filters_url, filter_chips, reseller_field, status_field,
                               with_filter_url)


def breakable_email(value) -> Markup:
    """An e-mail address that may wrap before its @ (never inside a word): a long one makes the
    column no wider than its longer half."""
    if not value:
        return Markup("")
    local, at, domain = str(value).rpartition("@")
    text = f"{escape(local)}<wbr>@{escape(domain)}" if at else escape(domain)
    return Markup(f'<a href="mailto:{escape(value)}">{text}</a>')


def tax_fields() -> dict:
    """Launch27's special sales tax on the customer's form: exempt, or a rate of its own instead of
    each line's (billing/tax.py decides the precedence; customers/validate.py checks the values)."""
    return {
        "tax_exempt": BooleanField("Exempt from sales tax",
                                   description="No sales tax on this customer's invoices."),
        "tax_rate": QuerySelectField(
            "Special tax rate", query_func=lambda: tax.rates(db.session), get_pk_func=lambda rate: rate.id,
            allow_blank=True, widget=Select2Widget(),
            description="Charged on every line instead of the line's own rate. Blank: each line's rate."),
        # Commusoft's price book: begin typing its name (Select2 searches as one types).
        "price_book": QuerySelectField(
            "Price book", query_func=lambda: price_books.active_books(db.session), get_pk_func=lambda b: b.id,
            allow_blank=True, widget=Select2Widget(),
            description="The book this customer's lines are picked from. Blank: the default book."),
    }


class ResellerChoiceFilter(BaseFilter):
    """Resellers a user may pick in forms and filters: all, or only their own."""

    name = "Selectable"

    def apply(self, query, value):
        return query.filter(reseller_choice_scope(g.user))


class CustomerListWidget(ModelListWidget):
    """The customer list: our header ("about" on estimated counts, "select all N matching"),
    each balance in its customer's currency, and a row menu of the status actions that apply
    to the row's status; each name links to the customer's page."""

    template = "widgets/customer_list.html"
    row_menu = True
    column_classes = True  # app.css folds the less needed columns on a narrow screen

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._by_status = {}  # status -> the row menu's entries that apply to it

    def table_rows(self, show_url: str, *args, **kwargs) -> Markup:
        """The rows, each name a link to the customer's page (`show_url`, built once for pk 0 by
        the template, empty without can_show), which takes the place of the row's Show button."""
        if show_url:
            prefix = escape(show_url[:-1])
            self.template_args["row_formatters"] = {
                **(self.template_args.get("row_formatters") or {}),
                "name": lambda row: Markup(f'<a href="{prefix}{escape(row["id"])}">{escape(row["name"] or "")}</a>')}
        return super().table_rows("", *args, **kwargs)

    def menu_entries(self, item, menu):
        status = item.get("status")
        if status not in self._by_status:
            self._by_status[status] = [(text, icon, url) for name, text, icon, url in menu
                                       if action_applies(name, status)]
        return self._by_status[status]


class CustomerView(ProfileMixin, FilesMixin, CustomFieldsMixin, MessagesMixin, BulkActionsMixin, ServiceModelView):
    datamodel = CustomerInterface(Customer)
    route_base = "/customers"
    list_title = "Customers"
    show_title = "Customer"
    add_title = "Add customer"
    edit_title = "Edit customer"
    list_template = "customers/list.html"
    list_widget = CustomerListWidget
    base_filters = [["id", CustomerScopeFilter, None]]
    base_order = ("name", "asc")
    # can_see_private_notes: no route carries it (the notes service checks it, notes.PRIVATE_NOTES);
    # declared here, or FAB would drop it from the database.
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete", "can_export", "can_merge",
                        "can_see_private_notes"]

    list_columns = ["id", "name", "phone", "email", "joined_on", "balance", "services_summary", "tags", "status",
                    "reseller"]
    order_columns = list_columns
    search_columns = ["name", "surname", "first_name", "company_name", "email", "phone", "id",
                      "status", "tags", "reseller", "joined_on", "balance", "customer_type",
                      "currency", "advertising_source", "third_party_reference"]
    label_columns = {
        "id": "Customer ID", "name": "Name", "phone": "Phone", "email": "E-mail",
        "joined_on": "Date joined", "balance": "Balance", "tags": "Tags", "status": "Status",
        "reseller": "Reseller", "services_summary": "Services", "customer_type": "Customer type",
        "first_name": "First name",
        "company_name": "Company name", "advertising_source": "Advertising source",
        "creditor_days": "Creditor days", "building_type": "Building type",
        "third_party_reference": "Third-party reference", "mobile": "Mobile",
        "unsubscribed_at": "Unsubscribed (link) at", "tax_exempt": "Exempt from sales tax",
        "tax_rate": "Special tax rate", "price_book": "Price book", **PREFERENCE_LABELS,
    }
    row_formatters = {"balance": lambda row: formatters.money(row["balance"], row["currency"]),
                      "email": lambda row: breakable_email(row["email"])}
    row_columns = ["currency"]
    formatters_columns = {
        "phone": formatters.telephone, "mobile": formatters.telephone, "email": formatters.email,
        "balance": formatters.money, "status": formatters.status, "tags": formatters.tags,
        "joined_on": formatters.day, "customer_type": formatters.customer_type,
    }
    _details = ["customer_type", "title", "first_name", "surname", "company_name", "email", "phone",
                "mobile", "currency", "reseller", "tags", "status", "joined_on"]
    _other = ["advertising_source", "creditor_days", "building_type", "third_party_reference"]
    _tax = ["tax_exempt", "tax_rate"]
    _preferences = list(PREFERENCE_FIELDS)
    add_columns = [c for c in _details if c != "status"] + _other + _preferences
    edit_columns = _details + _other + _tax + ["price_book"] + _preferences
    show_fieldsets = [
        ("Customer", {"fields": ["id", "name", "customer_type", "title", "first_name", "surname",
                                 "company_name", "status", "joined_on", "reseller", "tags"]}),
        ("Contact details", {"fields": ["email", "phone", "mobile"]}),
        ("Money", {"fields": ["currency", "balance", "tax_exempt", "tax_rate"]}),
        ("Other details", {"fields": _other}),
        ("Communication preferences", {"fields": _preferences + ["unsubscribed_at"], "expanded": False}),
    ]
    add_fieldsets = [
        ("Customer", {"fields": [c for c in _details if c != "status"]}),
        ("Other details", {"fields": _other, "expanded": True}),
        ("Communication preferences", {"fields": _preferences, "expanded": False}),
    ]
    edit_fieldsets = [
        ("Customer", {"fields": _details}),
        ("Other details", {"fields": _other, "expanded": True}),
        ("Sales tax", {"fields": _tax, "expanded": True}),
        ("Price book", {"fields": ["price_book"], "expanded": True}),
        ("Communication preferences", {"fields": _preferences, "expanded": False}),
    ]
    description_columns = {
        "surname": "Required for a private customer.",
        "company_name": "Required for a company.",
        "email": "Must be unique among customers that are not archived.",
    }
    add_form_extra_fields = customer_fields()
    edit_form_extra_fields = {**customer_fields(), **tax_fields()}
    add_form_query_rel_fields = {"reseller": [["id", ResellerChoiceFilter, None]]}
    edit_form_query_rel_fields = add_form_query_rel_fields
    # The filter bar's status and reseller: drop-downs of real values, resellers within scope.
    search_form_extra_fields = {"status": status_field(), "reseller": reseller_field()}
    field_map = {"reseller": "reseller_id", "tags": "tag_ids", "tax_rate": "tax_rate_id",
                 "price_book": "price_book_id"}
    related_views = [ContactView, AddressView, ServiceView, CustomerMessagesView, NotificationLogView]
    edit_template = "appbuilder/general/model/edit_cascade.html"
    record_noun = ""  # "Acme Hotel Ltd updated"

    def create(self, data, parent_id):
        return create_customer(db.session, g.user, data)

    def update(self, pk, data):
        if not permissions.may(db.session, g.user, POST_MONEY):
            for name in ("tax_exempt", "tax_rate_id", "tax_rate", "price_book_id"):  # shown, not theirs to change
                data.pop(name, None)
        return update_customer(db.session, g.user, pk, data)

    def remove(self, pk):
        delete_customer(db.session, g.user, pk)

    def prefill_form(self, form, pk):
        if form.creditor_days.data is not None:
            form.creditor_days.data = str(form.creditor_days.data)
        if not permissions.may(db.session, g.user, POST_MONEY):  # sales tax is money: shown, fixed
            for name in ("tax_exempt", "tax_rate", "price_book"):
                if name in form:
                    form[name].render_kw = {**(form[name].render_kw or {}), "disabled": True}
                    form[name].description = ("Only Finance and Admin change a customer's "
                                              + ("price book." if name == "price_book" else "sales tax."))

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        if request.method == "GET":
            form.currency.data = form.currency.data or settings.base_currency
            form.customer_type.data = form.customer_type.data or "private"
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    # ---- the list's filters, shared with the CSV export -------------------------
    def _list(self, **kwargs):
        """FAB's list and filter bar, and the chips of what the list is filtered by."""
        widgets = super()._list(**kwargs)
        name = self.__class__.__name__
        note = None
        if not self._filtered_by_status(self._filters):  # active_filters hides the archived
            note = {"id": "archived-hidden", "text": "Archived customers hidden", "link": "Show archived",
                    "url": with_filter_url(name, "_flt_0_status", "archived")}
        widgets["chips"] = FilterChipsWidget(
            filter_chips(self._filters, widgets["search"].template_args["form"], self.label_columns, name),
            clear_url=clear_filters_url(name), note=note)
        return widgets

    @staticmethod
    def _filtered_by_status(filters) -> bool:
        """Whether the user filters by status (else the list hides archived customers)."""
        return "status" in [f.column_name for f in filters.filters]

    def active_filters(self, filters):
        """The user's filters joined with scope; archived customers hidden unless asked for."""
        joined = super().active_filters(filters)
        if not self._filtered_by_status(filters):
            joined.add_filter("status", FilterStatusNotEqual, "archived")
        return joined

    @expose("/export.csv")
    @has_access
    def export(self):
        """The rows of the current filter and sort, within the user's scope, as CSV.

        A sort or filter it cannot use was refused (400) before this runs (views/lists.py)."""
        get_filter_args(self._filters)
        orders = get_order_args().get(self.__class__.__name__)
        order_column, order_direction = orders if orders else self.base_order
        ids = self.datamodel.filtered_ids(self.active_filters(self._filters))
        custom_fields = csv_export.export_fields(db.session)
        stmt = csv_export.customers_statement(
            self.datamodel.ordered(ids, order_column, order_direction).statement,
            rows_expected=self.datamodel.count(ids), custom_fields=custom_fields)
        return downloads.csv_download(stmt, csv_export.headers(custom_fields), "customers")
