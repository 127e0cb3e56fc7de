"""Stock Flask-AppBuilder views on the app's models, for comparison only.

Registered inside the benchmark process only (never by the app): plain ModelViews and
ModelRestApis on `SQLAInterface(<model>)` with the same list columns and default order as
the app's views, under their own route base and resource name. No custom datamodel, filters,
widgets or templates. The lists of a customer's records (contacts, addresses...) carry the scope
base filter the app's views had before issue 10, as a FAB app writes one: "customer_id IN (the
customers the user may see)", all of them for an admin. The customer list has no base filter
(for an admin the app's scope is no condition at all).
"""
from flask import g
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from sqlalchemy import select

from app.models import Address, AuditEntry, Contact, ContactPhone, Customer, CustomerService
from app.views.admin import AuditView
from app.views.api import AddressApi, ContactApi
from app.views.contacts import AddressView, ContactPhoneView, ContactView, ServiceView
from app.views.customers import CustomerView
from app.services.scope import customer_ids_in_scope


class StockScopeFilter(BaseFilter):
    """Rows whose customer the user may see (the app's ChildScopeFilter before issue 10)."""

    name = "In scope"

    def apply(self, query, value):
        return query.filter(self.model.customer_id.in_(customer_ids_in_scope(g.user)))


class StockPhoneScopeFilter(BaseFilter):
    name = "In scope"

    def apply(self, query, value):
        contacts = select(Contact.id).where(Contact.customer_id.in_(customer_ids_in_scope(g.user)))
        return query.filter(self.model.contact_id.in_(contacts))


class StockCustomerView(ModelView):
    datamodel = SQLAInterface(Customer)
    route_base = "/stock/customers"
    list_columns = list(CustomerView.list_columns)
    order_columns = list(CustomerView.list_columns)
    search_columns = ["id", "name", "surname", "first_name", "company_name", "email", "phone",
                      "status", "tags", "reseller", "joined_on", "balance"]
    base_order = ("name", "asc")
    page_size = 25


class StockCustomerApi(ModelRestApi):
    resource_name = "stock-customers"
    datamodel = SQLAInterface(Customer)
    allow_browser_login = True
    list_columns = list(CustomerView.list_columns)
    order_columns = list(CustomerView.list_columns)
    search_columns = StockCustomerView.search_columns
    base_order = ("name", "asc")


def stock_view(ours, model, route_base: str, scope=None):
    """A plain ModelView with `ours`' list: columns, sortable columns, search columns, order."""
    return type(f"Stock{ours.__name__}", (ModelView,), dict(
        datamodel=SQLAInterface(model), route_base=route_base, list_columns=list(ours.list_columns),
        base_filters=[["id", scope, None]] if scope else [],
        order_columns=list(getattr(ours, "order_columns", None) or ours.list_columns),
        search_columns=list(ours.search_columns), base_order=getattr(ours, "base_order", None), page_size=25))


def stock_api(ours, model, resource_name: str, scope=None):
    return type(f"Stock{ours.__name__}", (ModelRestApi,), dict(
        datamodel=SQLAInterface(model), resource_name=resource_name, allow_browser_login=True,
        base_filters=[["id", scope, None]] if scope else [],
        list_columns=list(ours.list_columns), search_columns=list(ours.search_columns),
        base_order=getattr(ours, "base_order", None)))


StockContactView = stock_view(ContactView, Contact, "/stock/contacts", StockScopeFilter)
StockAddressView = stock_view(AddressView, Address, "/stock/addresses", StockScopeFilter)
StockServiceView = stock_view(ServiceView, CustomerService, "/stock/services", StockScopeFilter)
StockContactPhoneView = stock_view(ContactPhoneView, ContactPhone, "/stock/contact-phones", StockPhoneScopeFilter)
StockAuditView = stock_view(AuditView, AuditEntry, "/stock/audit")
StockContactApi = stock_api(ContactApi, Contact, "stock-contacts", StockScopeFilter)
StockAddressApi = stock_api(AddressApi, Address, "stock-addresses", StockScopeFilter)

VIEWS = (StockCustomerView, StockContactView, StockAddressView, StockServiceView, StockContactPhoneView,
         StockAuditView)
APIS = (StockCustomerApi, StockContactApi, StockAddressApi)


def register(appbuilder) -> None:
    """Add the stock views and APIs (call inside an app context, before the first request)."""
    for view in VIEWS:
        appbuilder.add_view_no_menu(view)
    for api in APIS:
        appbuilder.add_api(api)
