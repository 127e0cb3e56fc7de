"""REST API for FX rates: the global rates (/api/v1/fx_rate/: list, read, add, change, delete, copy
ticked rates to a new effective date, upload CSV text with a dry run) and customers' own rates
(/api/v1/customer_fx_rate/, within the caller's scope).

Rates are strings with every decimal they were stored with ("1.1734"), never floats. Every write is
one call to app/services/billing/fx.py, which checks the FX screens' permissions (Admin, Finance),
the fields (422 with field errors: a rate of 0, the same currency twice, an unknown code) and, for a
customer's rate, the customer's scope (another reseller's: 404).
"""
from flask import g
from flask_appbuilder.api import expose
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.security.decorators import permission_name, protect
from marshmallow import fields

from app.extensions import db
from app.models import CustomerFxRate, FxRate
from app.services.billing import fx
from app.views.api import ServiceApi, safe
from app.views.datamodel import ListInterface
from app.views.filters import ChildScopeFilter

PERMISSIONS = ["can_get", "can_post", "can_put", "can_delete"]
MAX_COPIED = 500  # ids in one copy (a long IN list is refused by SQLite)
COLUMNS = ["id", "from_currency", "to_currency", "rate", "effective_on", "created_at"]


class Rate(fields.String):
    """A rate as a string with the decimals it has ("1.1734"), never a float."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else format(value.normalize(), "f")


class RateConverter(Model2SchemaConverter):
    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        if column.name == "rate":
            return Rate(dump_only=True)
        return super()._column2field(datamodel, column, nested, parent_schema_name)


class FxRateApi(ServiceApi):
    """The global FX rates (Admin, Finance)."""

    resource_name = "fx_rate"
    datamodel = ListInterface(FxRate)
    model2schemaconverter = RateConverter
    base_permissions = PERMISSIONS
    exclude_route_methods = {"info"}
    base_order = ("effective_on", "desc")
    list_columns = show_columns = COLUMNS
    order_columns = ["id", "from_currency", "to_currency", "rate", "effective_on"]
    search_columns = ["from_currency", "to_currency", "effective_on"]

    def create(self, data):
        return fx.create_rate(db.session, g.user, data)

    def update(self, pk, data):
        return fx.update_rate(db.session, g.user, pk, data)

    def remove(self, pk):
        fx.delete_rate(db.session, g.user, pk)

    @expose("/copy", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def copy(self):
        """Copy rates to a new effective date
        ---
        post:
          summary: "Copy ticked rates to a new effective date (a pair that has a rate that day is reported in `existing`, never duplicated)"
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    ids: {type: array, items: {type: integer}}
                    effective_on: {type: string, format: date}
          responses:
            200:
              description: The new rates, and the pairs that already had one that day
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        data = self._json_object()
        if data is None or not isinstance(data.get("ids"), list):
            return self.response_400(message="Send a JSON object with `ids` (a list) and `effective_on`.")
        if len(data["ids"]) > MAX_COPIED:
            return self.response_400(message=f"Copy at most {MAX_COPIED} rates at a time.")
        copied = fx.copy_to_date(db.session, g.user, data["ids"], data.get("effective_on"))
        return self.response(200, copied=[self.show_model_schema.dump(r) for r in copied.copied],
                             existing=copied.existing)

    @expose("/upload", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    def upload(self):
        """Upload rates as CSV text
        ---
        post:
          summary: "Upload rates as CSV text (from,to,rate,date); dry_run (the default) says what would change and each bad line, writing nothing; without it, all or nothing"
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  properties:
                    csv: {type: string}
                    dry_run: {type: boolean}
          responses:
            200:
              description: Each row with its change (new, changed, unchanged), and each bad line
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            422:
              $ref: '#/components/responses/422'
        """
        data = self._json_object()
        if data is None or not isinstance(data.get("csv"), str):
            return self.response_400(message="Send a JSON object with `csv` (the file's text) and `dry_run`.")
        result = fx.upload(db.session, g.user, data["csv"], dry_run=data.get("dry_run") is not False)
        return self.response(200, dry_run=data.get("dry_run") is not False, rows=[
            {"line": r.line, "from_currency": r.from_currency, "to_currency": r.to_currency,
             "rate": format(r.rate.normalize(), "f"), "effective_on": r.effective_on.isoformat(), "change": r.change,
             "old_rate": None if r.old_rate is None else format(r.old_rate.normalize(), "f")} for r in result.rows],
            errors=[{"line": n, "message": m} for n, m in result.errors])


class CustomerFxRateApi(ServiceApi):
    """A customer's own FX rates, within the caller's scope: read by who may open the customer,
    written by Admin and Finance."""

    resource_name = "customer_fx_rate"
    datamodel = ListInterface(CustomerFxRate)
    model2schemaconverter = RateConverter
    base_permissions = PERMISSIONS
    exclude_route_methods = {"info"}
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("effective_on", "desc")
    list_columns = show_columns = ["id", "customer_id", *COLUMNS[1:]]
    order_columns = ["id", "from_currency", "to_currency", "rate", "effective_on"]
    search_columns = ["customer_id", "from_currency", "to_currency", "effective_on"]

    def create(self, data):
        return fx.create_customer_rate(db.session, g.user, data.get("customer_id"),
                                       {k: v for k, v in data.items() if k != "customer_id"})

    def update(self, pk, data):
        return fx.update_customer_rate(db.session, g.user, pk, data)

    def remove(self, pk):
        fx.delete_customer_rate(db.session, g.user, pk)
