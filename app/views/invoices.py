"""Invoices: the list of every invoice in the user's scope, the invoice's page, its form with lines,
issue, void, Record payment, Charge customer, the PDF and e-mailing it.

Posting anything needs can_post_money on this view (services/billing POST_MONEY: Finance, Admin);
everyone who sees customers sees their invoices.
"""
from app.models import Invoice
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter


class InvoiceView(ServiceModelView):
    datamodel = ListInterface(Invoice, eager=(customer_name(Invoice.customer),))
    route_base = "/invoices"
    list_title = "Invoices"
    show_title = "Invoice"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("id", "desc")
    # can_post_money: no route carries it alone; the billing services check it (POST_MONEY).
    base_permissions = ["can_list", "can_show", "can_post_money"]
    list_columns = ["number", "customer", "issue_date", "due_date", "total", "outstanding", "status"]
    show_columns = list_columns
    search_columns = ["number", "status", "issue_date", "due_date"]
    label_columns = {"number": "Number", "customer": "Customer", "issue_date": "Issue date", "due_date": "Due date",
                     "total": "Total", "outstanding": "Outstanding", "status": "Status"}
    row_columns = ["currency"]
    row_formatters = {"total": lambda row: formatters.money(row["total"], row["currency"]),
                      "outstanding": lambda row: formatters.money(row["outstanding"], row["currency"])}
