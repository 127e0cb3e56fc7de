"""Payments (Money menu): every payment and credit in the user's scope, whatever it paid: invoice
payments, external payments, manual credits, credit notes; with what is allocated and what
remains, the list's filters and sort, and its CSV (the payments download, with the methods' nominal
codes). Read-only: money is recorded from an invoice, the customer's Finances tab or the Credits
list; a row that is account credit links to its credit's page, where Finance refunds or edits it.
"""
from flask import g
from flask_appbuilder import expose
from flask_appbuilder.models.sqla.filters import FilterEqual, SQLAFilterConverter
from flask_appbuilder.security.decorators import has_access
from markupsafe import Markup, escape
from sqlalchemy import false, select
from wtforms import SelectField, StringField

from app.models import Customer, Payment
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.credits import CREDIT_FILTERS, CreditInterface, source_columns, sources_csv
from app.views.datamodel import customer_name
from app.views.filters import ChildScopeFilter
from app.views.list_widget import MoneyListWidget

# A source's kind as the Payments list says it.
PAYMENT_KINDS = {"payment": "Invoice payment", "external": "External payment", "credit": "Manual credit",
                 "credit_note": "Credit note", "write_off": "Write-off"}


def kind_words(value) -> str:
    return PAYMENT_KINDS.get(value, value or "")


class FilterPaymentKind(FilterEqual):
    """Kind is: one of the source kinds, never free text (another value matches nothing)."""

    def apply(self, query, value):
        if value not in PAYMENT_KINDS:
            return query.filter(false())
        return query.filter(Payment.kind == value)


class PaymentFilterConverter(SQLAFilterConverter):
    def convert(self, col_name):
        if col_name == "kind":
            return [FilterPaymentKind(col_name, self.datamodel)]
        if col_name in CREDIT_FILTERS:
            return [f(col_name, self.datamodel) for f in CREDIT_FILTERS[col_name]]
        return super().convert(col_name)


class PaymentInterface(CreditInterface):
    filter_converter_class = PaymentFilterConverter


CSV_COLUMNS = source_columns("Payment ID", PAYMENT_KINDS)


def _money(column):
    return lambda row: formatters.money(row[column], row["currency"])


def _date_link(row) -> Markup:
    """The date, linked to the credit's page when any of it is account credit."""
    day = formatters.day(row["received_on"])
    if not row["is_credit"]:
        return Markup(day)
    return Markup('<a href="/credits/show/{}">{}</a>').format(row["id"], escape(day))


class PaymentView(ServiceModelView):
    list_widget = MoneyListWidget  # amounts right-aligned
    datamodel = PaymentInterface(Payment, eager=(customer_name(Payment.customer),), sort_keys={
        "customer": select(Customer.sort_name).where(Customer.id == Payment.customer_id).scalar_subquery()})
    route_base = "/payments"
    list_title = "Payments"
    show_title = "Payment"
    list_template = "payments/list.html"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("id", "desc")
    base_permissions = ["can_list", "can_show", "can_export"]
    exclude_route_methods = {"download", "add", "edit", "delete", "action", "action_post"}
    list_columns = ["customer", "received_on", "kind", "amount", "allocated", "unallocated", "reference", "method"]
    order_columns = ["customer", "received_on", "kind", "amount", "unallocated", "reference"]
    show_columns = ["customer", "received_on", "kind", "amount", "allocated", "unallocated", "method", "reference",
                    "reason", "notes", "created_at"]
    search_columns = ["customer", "kind", "received_on", "unallocated", "reference"]
    search_form_extra_fields = {
        "customer": StringField("Customer"),
        "kind": SelectField("Kind", choices=list(PAYMENT_KINDS.items())),
    }
    label_columns = {"customer": "Customer", "received_on": "Date", "kind": "Kind", "amount": "Amount",
                     "allocated": "Allocated", "unallocated": "Remaining", "reference": "Reference",
                     "method": "Method", "reason": "Reason", "notes": "Notes", "created_at": "Recorded at"}
    row_columns = ["currency", "is_credit", "id", "received_on"]
    row_formatters = {"amount": _money("amount"), "allocated": _money("allocated"),
                      "unallocated": _money("unallocated"), "received_on": _date_link}
    formatters_columns = {"kind": kind_words, "received_on": formatters.day}

    @expose("/export.csv")
    @has_access
    def export(self):
        """The payments of the list's filter and sort, within the user's scope, as CSV (streamed;
        typed text escaped against formulas, in SQL), with the methods' nominal codes."""
        return sources_csv(self, CSV_COLUMNS, "payments")
