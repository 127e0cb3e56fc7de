"""Stock Flask-AppBuilder views on the Customer model, for comparison only.

Registered inside the benchmark process only (never by the app): a plain
ModelView and a plain ModelRestApi on `SQLAInterface(Customer)` with the same
list columns and default order as the app's CustomerView, under their own
route base and resource name. No custom datamodel, filters or templates.
"""
from flask_appbuilder import ModelView
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.models import Customer
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


def register(appbuilder) -> None:
    """Add the stock view and API (call inside an app context, before the first request)."""
    appbuilder.add_view_no_menu(StockCustomerView)
    appbuilder.add_api(StockCustomerApi)
