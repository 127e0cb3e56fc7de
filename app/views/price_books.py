"""Price books (Money menu): the books and their items (Finance and Admin keep them; Staff, Read-only
and Reseller users read the items, so they may pick them), a CSV of the filtered items, and the line
picker's search: GET /price-books/search?customer_id=&q=&on=YYYY-MM-DD, the items of the customer's
book priced in its currency on that date, as JSON (js/price_picker.js on the invoice and quote form).

Every write goes through app/services/billing/price_books.py, which checks the permission again.
"""
from datetime import date

from flask import Response, g, jsonify, request, stream_with_context
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_filter_args, get_order_args
from sqlalchemy import case
from wtforms import SelectField

from app.extensions import db
from app.models import PriceBook, PriceBookItem
from app.models.money import CATEGORIES
from app.services import csv_export, fields
from app.services.billing import price_books
from app.services.settings import settings
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface
from app.views.list_widget import MoneyListWidget

CATEGORY_LABELS = {"labour": "Labour", "parts": "Parts", "other": "Other"}
# Text people typed is made safe for spreadsheets (a code "=HYPERLINK(...)" stays text).
CSV_COLUMNS = [("Book", csv_export.safe(PriceBook.name)), ("Code", csv_export.safe(PriceBookItem.code)),
               ("Name", csv_export.safe(PriceBookItem.name)), ("Description", csv_export.safe(PriceBookItem.description)),
               ("Unit price", csv_export.amount_text(PriceBookItem.unit_price, PriceBookItem.currency)),
               ("Currency", PriceBookItem.currency), ("Category", PriceBookItem.category),
               ("In use", case((PriceBookItem.active, "yes"), else_="no"))]


class PriceBookItemView(ServiceModelView):
    """The items: `_flt_0_price_book=<id>` (the book's page lists its own)."""

    list_widget = MoneyListWidget  # prices right-aligned
    datamodel = ListInterface(PriceBookItem)
    route_base = "/price-book-items"
    list_title = "Price book items"
    show_title = "Price book item"
    add_title = "Add price book item"
    edit_title = "Edit price book item"
    record_noun = "Item"
    list_template = "price_books/list.html"
    base_order = ("code", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete", "can_export"]
    list_columns = ["price_book", "code", "name", "unit_price", "tax_rate", "category", "active"]  # price: with currency
    add_columns = edit_columns = ["price_book", "code", "name", "description", "unit_price", "currency",
                                  "tax_rate", "category", "active"]
    show_columns = add_columns
    order_columns = ["code", "name", "unit_price", "currency", "category", "active"]
    search_columns = ["price_book", "code", "name", "currency", "category", "active"]
    label_columns = {"price_book": "Price book", "code": "Code", "name": "Name", "description": "Description",
                     "unit_price": "Unit price", "currency": "Currency", "tax_rate": "Tax rate",
                     "category": "Category", "active": "In use"}
    description_columns = {
        "code": "Unique within its book, e.g. LAB-HR. Lines are found by typing its first letters.",
        "unit_price": "In the item's currency, at most its decimals (JPY none, BHD 3); converted to a "
                      "customer's currency at the document's date when they differ.",
        "currency": "ISO 4217 code, e.g. GBP.",
        "tax_rate": "The rate a line picked from this item is charged (blank: the default rate).",
        "active": "Only items in use are offered on invoice and quote lines."}
    add_form_extra_fields = edit_form_extra_fields = {
        "category": SelectField("Category", choices=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES], default="other",
                                widget=Select2Widget())}
    field_map = {"price_book": "price_book_id", "tax_rate": "tax_rate_id"}
    row_columns = ["currency"]
    row_formatters = {"unit_price": lambda row: formatters.money(row["unit_price"], row["currency"])}
    formatters_columns = {"active": formatters.yes_no, "category": lambda v: CATEGORY_LABELS.get(v, v or ""),
                          "tax_rate": lambda v: str(v) if v is not None else "Default rate"}

    def record_name(self, item) -> str:
        return f"{item.code} {item.name}"

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        if request.method == "GET":  # a new item is priced in the base currency unless said otherwise
            form.currency.data = form.currency.data or settings.base_currency
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def create(self, data, parent_id):
        return price_books.create_item(db.session, g.user, data)

    def update(self, pk, data):
        return price_books.update_item(db.session, g.user, pk, data)

    def remove(self, pk):
        price_books.delete_item(db.session, g.user, pk)

    @expose("/export.csv")
    @has_access
    def export(self):
        """The items of the list's filter and sort as CSV (streamed, formula-safe)."""
        get_filter_args(self._filters)
        orders = get_order_args().get(self.__class__.__name__)
        order_column, order_direction = orders if orders else self.base_order
        ids = self.datamodel.filtered_ids(self.active_filters(self._filters))
        stmt = (self.datamodel.ordered(ids, order_column, order_direction).statement
                .join(PriceBook, PriceBook.id == PriceBookItem.price_book_id)
                .with_only_columns(*[expr.label(f"c{i}") for i, (_h, expr) in enumerate(CSV_COLUMNS)]))
        filename = f"price-book-items-{date.today().isoformat()}.csv"
        return Response(
            stream_with_context(csv_export.stream_csv(db.session, stmt, [h for h, _e in CSV_COLUMNS])),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"})


class PriceBookView(ServiceModelView):
    datamodel = ListInterface(PriceBook)
    route_base = "/price-books"
    list_title = "Price books"
    show_title = "Price book"
    add_title = "Add price book"
    edit_title = "Edit price book"
    record_noun = "Price book"
    base_order = ("name", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    method_permission_name = {"search": "list"}
    list_columns = ["name", "is_default", "active"]
    add_columns = edit_columns = show_columns = list_columns
    order_columns = ["name", "is_default", "active"]
    search_columns = ["name", "is_default", "active"]
    label_columns = {"name": "Name", "is_default": "Default", "active": "In use"}
    description_columns = {
        "is_default": "The book of every customer without one of its own (one default: this one takes over).",
        "active": "Only books in use can be given to customers."}
    formatters_columns = {"is_default": formatters.yes_no, "active": formatters.yes_no}
    related_views = [PriceBookItemView]

    def create(self, data, parent_id):
        return price_books.create_book(db.session, g.user, data)

    def update(self, pk, data):
        return price_books.update_book(db.session, g.user, pk, data)

    def remove(self, pk):
        price_books.delete_book(db.session, g.user, pk)

    @expose("/search")
    @has_access
    def search(self):
        """The line picker: the customer's items matching `q`, priced in its currency on `on`."""
        raw_on = request.args.get("on", "")
        on = fields.iso_date(raw_on) if raw_on else date.today()
        if on is None:
            return jsonify(errors={"on": ["Enter a date as YYYY-MM-DD."]}), 422
        matches = price_books.search(db.session, g.user, request.args.get("customer_id"), request.args.get("q", ""),
                                     on)
        return jsonify([{"id": m.id, "code": m.code, "name": m.name, "description": m.description,
                         "unit_price": None if m.unit_price is None else str(m.unit_price), "currency": m.currency,
                         "item_price": formatters.money(m.item_price, m.item_currency),
                         "price_text": "" if m.unit_price is None else formatters.money(m.unit_price, m.currency),
                         "tax_rate_id": m.tax_rate_id, "category": m.category, "warning": m.warning,
                         "error": m.error} for m in matches])
