"""REST API for price books (/api/v1/price_book/) and their items (/api/v1/price_book_item/), and
the line picker's search for a customer (/api/v1/price_book_item/search?customer_id=&q=&on=): an
item's price converted to the customer's currency on the document's date and rounded once.

Everyone who may pick lines reads them; Admin and Finance keep them (app/security.py: PriceBook
(Item)?(View|Api)). Every write is one call to app/services/billing/price_books.py, which checks the
screens' permissions and the fields (422). Prices are strings with their currency's decimals.
"""
from datetime import date

from flask import g, request
from flask_appbuilder.api import expose
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.security.decorators import permission_name, protect

from app.extensions import db
from app.models import PriceBook, PriceBookItem
from app.services import fields, money
from app.services.billing import price_books
from app.views.api import Amount, ServiceApi, safe
from app.views.datamodel import ListInterface

PERMISSIONS = ["can_get", "can_post", "can_put", "can_delete"]


class ItemConverter(Model2SchemaConverter):
    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        if column.name == "unit_price":
            return Amount(dump_only=True)  # in the item's own currency's decimals
        return super()._column2field(datamodel, column, nested, parent_schema_name)


class PriceBookApi(ServiceApi):
    resource_name = "price_book"
    datamodel = ListInterface(PriceBook)
    base_permissions = PERMISSIONS
    exclude_route_methods = {"info"}
    base_order = ("name", "asc")
    list_columns = show_columns = ["id", "name", "is_default", "active"]
    order_columns = ["id", "name"]
    search_columns = ["name", "is_default", "active"]

    def create(self, data):
        return price_books.create_book(db.session, g.user, data)

    def update(self, pk, data):
        return price_books.update_book(db.session, g.user, pk, data)

    def remove(self, pk):
        price_books.delete_book(db.session, g.user, pk)


class PriceBookItemApi(ServiceApi):
    resource_name = "price_book_item"
    datamodel = ListInterface(PriceBookItem)
    model2schemaconverter = ItemConverter
    base_permissions = PERMISSIONS
    exclude_route_methods = {"info"}
    base_order = ("code", "asc")
    list_columns = show_columns = ["id", "price_book_id", "code", "name", "description", "unit_price", "currency",
                                   "tax_rate_id", "category", "active"]
    order_columns = ["id", "code", "name", "unit_price"]
    search_columns = ["price_book_id", "code", "name", "currency", "category", "active"]

    def create(self, data):
        return price_books.create_item(db.session, g.user, data)

    def update(self, pk, data):
        return price_books.update_item(db.session, g.user, pk, data)

    def remove(self, pk):
        price_books.delete_item(db.session, g.user, pk)

    @expose("/search", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def search(self):
        """The items of a customer's price book that match, priced in the customer's currency
        ---
        get:
          summary: "The items of the customer's price book whose code starts with q or whose name contains it, each priced in the customer's currency on `on` (default today) and rounded once; an item no rate converts has `error` and no price"
          parameters:
          - {in: query, name: customer_id, required: true, schema: {type: integer}}
          - {in: query, name: q, required: true, schema: {type: string}}
          - {in: query, name: "on", schema: {type: string, format: date}}
          responses:
            200:
              description: The matching items
            401:
              $ref: '#/components/responses/401'
            403:
              $ref: '#/components/responses/403'
            404:
              $ref: '#/components/responses/404'
            422:
              $ref: '#/components/responses/422'
        """
        raw_on = request.args.get("on", "")
        on = fields.iso_date(raw_on) if raw_on else date.today()
        if on is None:
            return self.response(422, message={"on": ["Enter a date as YYYY-MM-DD."]})
        matches = price_books.search(db.session, g.user, request.args.get("customer_id"), request.args.get("q", ""), on)
        return self.response(200, result=[
            {"id": m.id, "code": m.code, "name": m.name, "description": m.description,
             "unit_price": None if m.unit_price is None else str(m.unit_price), "currency": m.currency,
             "item_price": str(money.quantize(m.item_price, m.item_currency)), "item_currency": m.item_currency, "tax_rate_id": m.tax_rate_id,
             "category": m.category, "warning": m.warning, "error": m.error} for m in matches])
