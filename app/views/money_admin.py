"""What money is charged and paid with: tax rates (Finance and Admin read them; Admin keeps them)
and payment methods (an admin-kept list, each with its nominal account code)."""
from flask import g
from flask_appbuilder.models.sqla.interface import SQLAInterface

from app.extensions import db
from app.models import PaymentMethod, TaxRate
from app.services.billing import methods, tax
from app.views import formatters
from app.views.base import ServiceModelView


def _percent(value) -> str:
    return f"{value.normalize():f}%" if value is not None else ""


class TaxRateView(ServiceModelView):
    datamodel = SQLAInterface(TaxRate)
    route_base = "/tax-rates"
    list_title = "Tax rates"
    show_title = "Tax rate"
    record_noun = "Tax rate"
    base_order = ("name", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["name", "percent", "is_default"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["name"]
    label_columns = {"name": "Name", "percent": "Percent", "is_default": "Default"}
    description_columns = {"percent": "Between 0 and 100, e.g. 20 or 17.5.",
                           "is_default": "Lines without a rate of their own are charged this one (one default)."}
    formatters_columns = {"percent": _percent, "is_default": formatters.yes_no}

    def create(self, data, parent_id):
        return tax.create_rate(db.session, g.user, data)

    def update(self, pk, data):
        return tax.update_rate(db.session, g.user, pk, data)

    def remove(self, pk):
        tax.delete_rate(db.session, g.user, pk)


class PaymentMethodView(ServiceModelView):
    datamodel = SQLAInterface(PaymentMethod)
    route_base = "/payment-methods"
    list_title = "Payment methods"
    show_title = "Payment method"
    record_noun = "Payment method"
    base_order = ("name", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["name", "nominal_code", "active"]
    add_columns = edit_columns = show_columns = list_columns
    search_columns = ["name", "nominal_code"]
    label_columns = {"name": "Name", "nominal_code": "Nominal account code", "active": "In use"}
    description_columns = {"nominal_code": "The account the accounting package posts this money to, e.g. 1200.",
                           "active": "Only methods in use are offered when money is recorded."}
    formatters_columns = {"active": formatters.yes_no}

    def create(self, data, parent_id):
        return methods.create_method(db.session, g.user, data)

    def update(self, pk, data):
        return methods.update_method(db.session, g.user, pk, data)

    def remove(self, pk):
        methods.delete_method(db.session, g.user, pk)
