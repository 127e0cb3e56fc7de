"""FX rates: the global rates (Finance and Admin: list, add, edit, delete, CSV download of the
filtered rows, bulk Delete and Copy to a new effective date, each asked first, and an Upload CSV page:
a dry-run preview, then Apply), and a customer's own rates (from the customer's Finances tab; read
by who may open the customer, kept by who manages rates).

Every write goes through app/services/billing/fx.py, which checks the permission again.
"""
from datetime import date, timedelta

from flask import Response, abort, flash, g, redirect, request, stream_with_context, url_for
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.urltools import get_filter_args, get_order_args
from sqlalchemy import select
from wtforms import StringField

from app.extensions import db
from app.models import CustomerFxRate, FxRate
from app.services import csv_export, fields
from app.services.billing import fx
from app.services.errors import Invalid, NotFound
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views.base import ConfirmedActions, ServiceModelView
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter
from app.views.list_widget import MoneyListWidget
from app.views.return_to import return_target

MAX_TICKED = 100  # a list page at most
MAX_UPLOAD_BYTES = 512 * 1024

LABELS = {"customer": "Customer", "from_currency": "From", "to_currency": "To", "rate": "Rate",
          "effective_on": "Effective date"}
DESCRIPTIONS = {"from_currency": "ISO 4217 code, e.g. USD.", "to_currency": "ISO 4217 code, e.g. GBP.",
                "rate": "How many of the second currency one of the first buys, e.g. 0.7874 (up to 10 decimals).",
                "effective_on": "Used from this date (YYYY-MM-DD) until the pair's next rate."}
CSV_COLUMNS = [("From", FxRate.from_currency), ("To", FxRate.to_currency), ("Rate", FxRate.rate),
               ("Effective date", FxRate.effective_on)]


def _rate(value) -> str:
    return f"{value.normalize():f}" if value is not None else ""


def _day(value) -> str:
    return value.isoformat() if value is not None else ""


class FxRateView(ConfirmedActions, ServiceModelView):
    list_widget = MoneyListWidget  # rates right-aligned
    datamodel = ListInterface(FxRate)
    route_base = "/fx-rates"
    list_title = "FX rates"
    show_title = "FX rate"
    add_title = "Add FX rate"
    edit_title = "Edit FX rate"
    record_noun = "FX rate"
    list_template = "fx/list.html"
    base_order = ("effective_on", "desc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete", "can_export"]
    method_permission_name = {"upload": "add", "bulk": "add", "action_copy_to_date": "add",
                              "action_delete_rates": "delete"}
    list_columns = ["from_currency", "to_currency", "rate", "effective_on"]
    add_columns = edit_columns = show_columns = list_columns
    order_columns = list_columns
    search_columns = list_columns
    label_columns = LABELS
    description_columns = DESCRIPTIONS
    formatters_columns = {"rate": _rate, "effective_on": _day}

    def record_name(self, item) -> str:
        return f"{item.from_currency}/{item.to_currency} on {item.effective_on.isoformat()}"

    def create(self, data, parent_id):
        return fx.create_rate(db.session, g.user, data)

    def update(self, pk, data):
        return fx.update_rate(db.session, g.user, pk, data)

    def remove(self, pk):
        fx.delete_rate(db.session, g.user, pk)

    # ---- CSV -------------------------------------------------------------------------------------
    @expose("/export.csv")
    @has_access
    def export(self):
        """The rates of the list's filter and sort as CSV (streamed)."""
        get_filter_args(self._filters)
        orders = get_order_args().get(self.__class__.__name__)
        order_column, order_direction = orders if orders else self.base_order
        ids = self.datamodel.filtered_ids(self.active_filters(self._filters))
        stmt = (self.datamodel.ordered(ids, order_column, order_direction).statement
                .with_only_columns(*[expr.label(f"c{i}") for i, (_h, expr) in enumerate(CSV_COLUMNS)]))
        filename = f"fx-rates-{date.today().isoformat()}.csv"
        return Response(
            stream_with_context(csv_export.stream_csv(db.session, stmt, [h for h, _e in CSV_COLUMNS])),
            mimetype="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"})

    # ---- bulk actions: a confirmation, then the service ------------------------------------------
    @action("copy_to_date", "Copy to a new effective date", icon="fa-copy")
    def action_copy_to_date(self, items):
        abort(404)  # answered by action_post: a confirmation first

    @action("delete_rates", "Delete", icon="fa-trash")
    def action_delete_rates(self, items):
        abort(404)

    def _ticked(self, ids) -> list[FxRate]:
        numbers = {n for n in (fields.record_id(i) for i in ids[:MAX_TICKED]) if n is not None}
        if not numbers:
            return []
        return list(db.session.scalars(select(FxRate).where(FxRate.id.in_(numbers))
                                       .order_by(FxRate.from_currency, FxRate.to_currency, FxRate.effective_on)))

    def _confirm(self, name: str, ids, errors=None, new_date: str = "", status: int = 200):
        rates = self._ticked(ids)
        if not rates:
            flash("None of the ticked FX rates can be found.", "warning")
            return redirect(url_for(f"{self.endpoint}.list"))
        if not new_date:
            new_date = (max(r.effective_on for r in rates) + timedelta(days=1)).isoformat()
        return self.render_template(
            "fx/confirm.html", name=name, label=self.actions[name].text, rates=rates, errors=errors or {},
            new_date=new_date, form_key=new_form_key(), title=self.actions[name].text, rate_text=_rate), status

    @expose("/bulk/<string:name>", methods=["POST"])
    @has_access
    def bulk(self, name):
        """The confirmed action on the ticked rates."""
        if name not in self.actions:
            abort(404)
        ids = request.form.getlist("rowid")[:MAX_TICKED]
        if name == "delete_rates":
            count = fx.delete_rates(db.session, g.user, ids)
            flash(f"Deleted {count} FX rate{'' if count == 1 else 's'}.", "success")
            return redirect(return_target() or url_for(f"{self.endpoint}.list"))
        new_date = request.form.get("effective_on", "")
        try:
            result = fx.copy_to_date(db.session, g.user, ids, new_date)
        except Invalid as e:
            db.session.rollback()
            return self._confirm(name, ids, errors=e.errors, new_date=new_date, status=422)
        if result.copied:
            flash(f"Copied {len(result.copied)} FX rate{'' if len(result.copied) == 1 else 's'} to "
                  f"{result.copied[0].effective_on.isoformat()}.", "success")
        if result.existing:
            flash(f"Already had a rate on {new_date}, left as it was: {', '.join(result.existing)}.", "warning")
        return redirect(return_target() or url_for(f"{self.endpoint}.list"))

    # ---- Upload CSV: a dry run first, then Apply -------------------------------------------------
    @expose("/upload", methods=["GET", "POST"])
    @has_access
    def upload(self):
        """GET: the form. POST "preview": what the file would change, and its bad lines (nothing
        written). POST "apply": all of it, or nothing when any line is bad."""
        text, result, status = "", None, 200
        if request.method == "POST":
            file = request.files.get("file")
            raw = file.read(MAX_UPLOAD_BYTES + 1) if file and file.filename else request.form.get("csv", "").encode()
            if len(raw) > MAX_UPLOAD_BYTES:
                flash("The file is too large: at most 512 KB.", "danger")
                return redirect(url_for(f"{self.endpoint}.upload"))
            text = raw.decode("utf-8-sig", errors="replace")
            if request.form.get("apply"):
                try:
                    result = fx.upload(db.session, g.user, text, dry_run=False)
                except Invalid as e:
                    db.session.rollback()
                    flash(e.message, "danger")
                    result, status = fx.upload(db.session, g.user, text, dry_run=True), 422
                else:
                    flash(f"Uploaded: {result.count('new')} new, {result.count('changed')} changed, "
                          f"{result.count('unchanged')} unchanged FX rates.", "success")
                    return redirect(url_for(f"{self.endpoint}.list"))
            else:
                result = fx.upload(db.session, g.user, text, dry_run=True)
        return self.render_template("fx/upload.html", csv_text=text, result=result, rate_text=_rate,
                                    title="Upload FX rates"), status


class CustomerRateInterface(ListInterface):
    def get(self, id, filters=None):
        """One rate (within `filters`: the scope) with its customer's name, as the list loads it."""
        number = fields.record_id(id)
        if number is None:
            return None
        query = self.session.query(self.obj).options(*self.eager).filter(self.pk == number)
        return (filters.apply_all(query) if filters is not None else query).one_or_none()


class CustomerFxRateView(ServiceModelView):
    """A customer's own rates: `_flt_0_customer=<id>` (the link from the Finances tab)."""

    datamodel = CustomerRateInterface(CustomerFxRate, eager=(customer_name(CustomerFxRate.customer),))
    route_base = "/customer-fx-rates"
    list_title = "Customer's own FX rates"
    show_title = "Customer's FX rate"
    add_title = "Add the customer's own FX rate"
    edit_title = "Edit the customer's own FX rate"
    record_noun = "FX rate"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("effective_on", "desc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["customer", "from_currency", "to_currency", "rate", "effective_on"]
    show_columns = list_columns
    add_columns = edit_columns = ["from_currency", "to_currency", "rate", "effective_on"]
    order_columns = ["from_currency", "to_currency", "rate", "effective_on"]
    search_columns = ["customer", "from_currency", "to_currency", "effective_on"]
    # The customer is given by its id (the profile's link): FAB's own field for a relation would
    # load every customer into the filter bar.
    search_form_extra_fields = {"customer": StringField("Customer ID")}
    label_columns = LABELS
    description_columns = DESCRIPTIONS
    formatters_columns = {"rate": _rate, "effective_on": _day}

    def record_name(self, item) -> str:
        return f"{item.from_currency}/{item.to_currency} on {item.effective_on.isoformat()}"

    @expose("/list/")
    @has_access
    def list(self):
        """The list; a customer named in the filter must be one the user may open (else 404)."""
        customer_id = self.parent_id()
        if customer_id is not None:
            get_customer(db.session, g.user, customer_id)
        return super().list()

    def create(self, data, parent_id):
        if parent_id is None:
            raise NotFound("Open a customer's FX rates to add one.")
        return fx.create_customer_rate(db.session, g.user, parent_id, data)

    def update(self, pk, data):
        return fx.update_customer_rate(db.session, g.user, pk, data)

    def remove(self, pk):
        fx.delete_customer_rate(db.session, g.user, pk)
