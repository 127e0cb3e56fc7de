"""Stock Flask-AppBuilder views on the app's models, for comparison only.

Registered inside the benchmark process only (never by the app): plain ModelViews and
ModelRestApis on `SQLAInterface(<model>)` with the same list columns and default order as
the app's views, under their own route base and resource name. No custom datamodel, filters,
widgets or templates, and no scope filter (the benchmark's user is an admin, who sees all).
"""
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.models import Address, AuditEntry, Contact, ContactPhone, Customer, CustomerService
from app.views.admin import AuditView
from app.views.api import AddressApi, ContactApi
from app.views.contacts import AddressView, ContactPhoneView, ContactView, ServiceView
from app.views.customers import CustomerView


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


def stock_view(ours, model, route_base: str):
    """A plain ModelView with `ours`' list: columns, sortable columns, search columns, order."""
    return type(f"Stock{ours.__name__}", (ModelView,), dict(
        datamodel=SQLAInterface(model), route_base=route_base, list_columns=list(ours.list_columns),
        order_columns=list(getattr(ours, "order_columns", None) or ours.list_columns),
        search_columns=list(ours.search_columns), base_order=getattr(ours, "base_order", None), page_size=25))


def stock_api(ours, model, resource_name: str):
    return type(f"Stock{ours.__name__}", (ModelRestApi,), dict(
        datamodel=SQLAInterface(model), resource_name=resource_name, allow_browser_login=True,
        list_columns=list(ours.list_columns), search_columns=list(ours.search_columns),
        base_order=getattr(ours, "base_order", None)))


StockContactView = stock_view(ContactView, Contact, "/stock/contacts")
StockAddressView = stock_view(AddressView, Address, "/stock/addresses")
StockServiceView = stock_view(ServiceView, CustomerService, "/stock/services")
StockContactPhoneView = stock_view(ContactPhoneView, ContactPhone, "/stock/contact-phones")
StockAuditView = stock_view(AuditView, AuditEntry, "/stock/audit")
StockContactApi = stock_api(ContactApi, Contact, "stock-contacts")
StockAddressApi = stock_api(AddressApi, Address, "stock-addresses")

VIEWS = (StockCustomerView, StockContactView, StockAddressView, StockServiceView, StockContactPhoneView,
         StockAuditView)
APIS = (StockCustomerApi, StockContactApi, StockAddressApi)


def register(appbuilder) -> None:
    """Add the stock views and APIs (call inside an app context, before the first request)."""
    for view in VIEWS:
        appbuilder.add_view_no_menu(view)
    for api in APIS:
        appbuilder.add_api(api)
