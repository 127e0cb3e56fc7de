"""What every model screen shares: forms that save through a service, typed errors shown
next to their fields, 404 for anything outside the user's scope, filters of its own for each
request, and no FAB file-download route.

NotFound and Forbidden from a service go on to app/views/errors.py (404, 403); only Invalid is
caught here, where a form shows its field errors next to the fields.
"""
from flask import abort, flash, redirect, request
from flask_appbuilder import ModelView, expose
from flask_login import current_user
from flask_appbuilder.models.sqla import Model
from wtforms import HiddenField
from wtforms.fields.core import UnboundField
from wtforms.validators import DataRequired, InputRequired, Length

from app.extensions import db
from app.services.errors import Invalid
from app.services.forms import claim_form_key, new_form_key
from app.views.list_widget import ModelListWidget
from app.views.lists import MAX_PAGE_SIZE, RequestFilters
from app.views.return_to import return_target
from app.views.widgets import CachedSearchWidget

ALREADY_SAVED = "This form was already saved; it was not saved twice."


def plain(value):
    """A form value as the services take it: objects become ids, dates stay dates."""
    if isinstance(value, Model):
        return value.id
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class ServiceModelView(RequestFilters, ModelView):
    """A ModelView whose add, edit and delete call service functions.

    Subclasses set `create`, `update` and `delete` (plain functions, see below)
    and `field_map` (form field -> service key, where they differ). FAB still
    builds the forms, lists, show pages and permissions.
    """

    field_map: dict[str, str] = {}
    # What a saved record is called in the message after saving: "Contact Ada Okafor added".
    # None keeps FAB's words ("Added Row"); "" names the record alone ("Acme Hotel Ltd updated").
    record_noun: str | None = None
    page_size = 25
    search_widget = CachedSearchWidget
    list_widget = ModelListWidget
    # column -> a function of the row, for a cell that needs more than its own value (an amount
    # with its customer's currency); `row_columns`: the other values those functions read.
    row_formatters: dict = {}
    row_columns: list[str] = []
    # FAB's /download/<filename> serves files from UPLOAD_FOLDER, which this app does not use
    # (customer files have their own scoped route): not registered.
    exclude_route_methods = {"download"}

    # Subclasses define:
    #   create(self, data: dict, parent_id) -> the new item
    #   update(self, pk, data: dict)
    #   remove(self, pk)
    # each calling one service and letting NotFound / Invalid propagate.

    def active_filters(self, filters):
        """The request's filters joined with the view's base filters (scope): what the list shows."""
        return filters.get_joined_filters(self._base_filters)

    def _get_list_widget(self, filters, actions=None, order_column="", order_direction="",
                         page=None, page_size=None, widgets=None, **kwargs):
        """FAB's list widget, on active_filters, with the rows' extra values (row_columns) and
        their formatters."""
        widgets = widgets or {}
        page_size = min(page_size or self.page_size, MAX_PAGE_SIZE)
        if not order_column and self.base_order:
            order_column, order_direction = self.base_order
        count, items = self.datamodel.query(self.active_filters(filters), order_column, order_direction,
                                            page=page, page_size=page_size)
        widgets["list"] = self.list_widget(
            label_columns=self.label_columns, include_columns=self.list_columns,
            value_columns=self.datamodel.get_values(items, [*self.list_columns, *self.row_columns]),
            order_columns=self.order_columns, formatters_columns=self.formatters_columns,
            row_formatters=self.row_formatters, page=page, page_size=page_size, count=count,
            pks=self.datamodel.get_keys(items), actions=actions or self.actions, filters=filters,
            modelview_name=self.__class__.__name__, list_title=self.list_title, **kwargs)
        return widgets

    # ---- plumbing -------------------------------------------------------------
    def form_data(self, form, columns) -> dict:
        data = {}
        for name in columns:
            if name in form and name not in ("csrf_token",):
                data[self.field_map.get(name, name)] = plain(form[name].data)
        return data

    def show_errors(self, form, error: Invalid) -> None:
        reverse = {v: k for k, v in self.field_map.items()}
        unplaced = []
        for key, messages in error.errors.items():
            name = reverse.get(key, key)
            if name in form:
                form[name].errors = list(form[name].errors or []) + messages
            else:
                unplaced.extend(messages)
        flash(" ".join(unplaced) if unplaced else error.message, "danger")

    def record_name(self, item) -> str:
        return getattr(item, "name", None) or str(item)

    def saved_message(self, item, verb: str) -> str:
        """The message after `item` was saved: "Contact Ada Okafor added" (verb: added, updated)."""
        if self.record_noun is None:
            return str(self.add_row_message if verb == "added" else self.edit_row_message)
        return " ".join(p for p in (self.record_noun, self.record_name(item), verb) if p)

    def post_add_redirect(self):
        return self._saved_redirect()

    def post_edit_redirect(self):
        return self._saved_redirect()

    def _saved_redirect(self):
        """Back where the form was opened (`?next=`, a page of this app), else FAB's page history."""
        previous = self.get_redirect()  # popped either way, so FAB's history stays in step
        return redirect(return_target() or previous)

    parent_key = "customer"

    def parent_id(self):
        """The parent's id when adding from a related list (`_flt_0_customer=ID`)."""
        for key, value in request.args.items():
            if key.startswith("_flt_") and key.endswith("_" + self.parent_key):
                return value
        return None

    def _init_properties(self):
        super()._init_properties()
        # Show a missing value as blank rather than FAB's "None".
        from app.views.formatters import text
        shown = set(self.list_columns or []) | set(self.show_columns or [])
        for fieldset in self.show_fieldsets or []:
            shown |= set(fieldset[1].get("fields", []))
        self.formatters_columns = {**{c: text for c in shown}, **(self.formatters_columns or {})}

    def _init_forms(self):
        super()._init_forms()
        # The services own every field rule; FAB's generated Length and DataRequired
        # checks would stop the form before the service could report all errors.
        for form_class in (self.add_form, self.edit_form):
            for name in dir(form_class):
                field = getattr(form_class, name, None)
                if isinstance(field, UnboundField) and "validators" in field.kwargs:
                    field.kwargs["validators"] = [
                        v for v in field.kwargs["validators"] if not isinstance(v, (Length, DataRequired, InputRequired))]
                if isinstance(field, UnboundField) and field.kwargs.get("allow_blank"):
                    field.kwargs["blank_text"] = "(none)"  # FAB's empty text shows as "__None"
        # A one-time key rendered by form.hidden_tag(): see SubmittedForm.
        self.add_form = type(self.add_form.__name__, (self.add_form,), {"form_key": HiddenField()})

    def _add(self):
        form = self.add_form.refresh()
        if request.method == "GET":
            form.form_key.data = new_form_key()
        if request.method == "POST":
            if form.validate():
                try:
                    # A form posted without its key (a script) saves as before, unguarded.
                    if form.form_key.data and not claim_form_key(db.session, form.form_key.data):
                        db.session.rollback()
                        flash(ALREADY_SAVED, "info")
                        return None
                    item = self.create(self.form_data(form, self.add_columns), self.parent_id())
                except Invalid as e:
                    db.session.rollback()
                    if "form_key" in e.errors:
                        flash(" ".join(e.errors["form_key"]), "info")
                        return None
                    self.show_errors(form, e)
                else:
                    self.post_add(item)
                    flash(self.saved_message(item, "added"), "success")
                    return None
        self.update_redirect()
        return self._get_add_widget(form=form, exclude_cols=self.add_exclude_cols())

    def add_exclude_cols(self) -> list[str]:
        return []

    def _edit(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if not item:
            abort(404)
        if request.method == "POST":
            form = self.edit_form.refresh(request.form)
            form._id = pk
            if form.validate():
                try:
                    saved = self.update(pk, self.form_data(form, self.edit_columns)) or item
                except Invalid as e:
                    db.session.rollback()
                    self.show_errors(form, e)
                else:
                    flash(self.saved_message(saved, "updated"), "success")
                    return None
        else:
            form = self.edit_form.refresh(obj=item)
            self.prefill_form(form, pk)
        widgets = self._get_edit_widget(form=form, exclude_cols=[])
        widgets = self._get_related_views_widgets(item, filters={}, orders={}, pages={},
                                                  page_sizes={}, widgets=widgets)
        self.update_redirect()
        return widgets

    def _delete(self, pk):
        try:
            self.remove(pk)
        except Invalid as e:  # the list's delete button has no form: its message is flashed
            db.session.rollback()
            flash(e.messages, "danger")
        else:
            flash(self.delete_row_message, "success")
        self.update_redirect()


class ConfirmedActions:
    """FAB's action menu answered with a confirmation page first: the view's `_confirm(name, ids)`
    shows what the ticked rows will undergo (credits' apply and void, FX rates' copy and delete).
    Put before ServiceModelView: it takes the place of FAB's action_post."""

    @expose("/action_post", methods=["POST"])
    def action_post(self):
        name = request.form.get("action", "")
        if name not in self.actions:
            abort(404)
        if not current_user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login_with(request.full_path))
        if not self.appbuilder.sm.has_access(self.get_action_permission_name(name), self.class_permission_name):
            abort(403)
        return self._confirm(name, request.form.getlist("rowid"))
