"""Credits (the brief's "credits"): every source of account credit in the user's scope (overpayments,
external payments, manual credits) with what is allocated and what remains; Add credit, refund,
apply to oldest invoices, void.
"""
from flask_appbuilder.models.sqla.filters import FilterEqual

from app.models import Payment
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter


class CreditView(ServiceModelView):
    datamodel = ListInterface(Payment, eager=(customer_name(Payment.customer),))
    route_base = "/credits"
    list_title = "Credits"
    show_title = "Credit"
    base_filters = [["id", ChildScopeFilter, None], ["is_credit", FilterEqual, True]]
    base_order = ("id", "desc")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["customer", "received_on", "kind", "amount", "unallocated", "reference", "method", "reason"]
    show_columns = list_columns
    search_columns = ["reference", "received_on", "kind"]
    label_columns = {"customer": "Customer", "received_on": "Date", "kind": "Kind", "amount": "Amount",
                     "unallocated": "Remaining", "reference": "Reference", "method": "Method", "reason": "Reason"}
    row_columns = ["currency"]
    row_formatters = {"amount": lambda row: formatters.money(row["amount"], row["currency"]),
                      "unallocated": lambda row: formatters.money(row["unallocated"], row["currency"])}
