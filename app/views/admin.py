"""Tags, resellers and the audit log."""
import json

from flask import url_for
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup

from app.extensions import db
from app.models import AuditEntry, Reseller, Tag
from app.services import resellers, tags
from app.views import formatters, history
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface


class TagView(ServiceModelView):
    datamodel = SQLAInterface(Tag)
    route_base = "/tags"
    list_title = "Tags"
    base_order = ("name", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["name", "colour"]
    add_columns = edit_columns = show_columns = ["name", "colour"]
    search_columns = ["name"]
    description_columns = {"colour": "As #rrggbb, e.g. #3c8dbc."}
    formatters_columns = {"colour": lambda c: Markup(
        '<span class="label" style="background-color:{0}">{0}</span>').format(c) if c else ""}

    def create(self, data, parent_id):
        return tags.create_tag(db.session, data)

    def update(self, pk, data):
        return tags.update_tag(db.session, pk, data)

    def remove(self, pk):
        tags.delete_tag(db.session, pk)


class ResellerView(ServiceModelView):
    datamodel = SQLAInterface(Reseller)
    route_base = "/resellers"
    list_title = "Resellers"
    base_order = ("name", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["name", "email", "phone", "created_at"]
    add_columns = edit_columns = ["name", "email", "phone"]
    show_columns = list_columns
    search_columns = ["name", "email"]
    label_columns = {"email": "E-mail", "created_at": "Created"}
    formatters_columns = {"phone": formatters.telephone, "email": formatters.email}

    def create(self, data, parent_id):
        return resellers.create_reseller(db.session, data)

    def update(self, pk, data):
        return resellers.update_reseller(db.session, pk, data)

    def remove(self, pk):
        resellers.delete_reseller(db.session, pk)


def _changes(changes) -> Markup:
    rows = Markup("").join(
        Markup("<tr><td>{}</td><td>{}</td><td>{}</td></tr>").format(
            field, json.dumps(old, ensure_ascii=False) if old is not None else "—",
            json.dumps(new, ensure_ascii=False) if new is not None else "—")
        for field, (old, new) in (changes or {}).items())
    return Markup('<table class="table table-condensed audit-changes"><tr><th>Field</th>'
                  "<th>Old</th><th>New</th></tr>{}</table>").format(rows)


class AuditView(ServiceModelView):
    """Read-only: the audit log is written by the session hook and nothing else.

    The list reads as the Changes tab does (app/views/history.py: labels, names, one line for an
    added record); the show page keeps the raw entry, every field's stored old and new value."""

    datamodel = ListInterface(AuditEntry)
    route_base = "/audit"
    list_title = "Audit log"
    base_order = ("at", "desc")
    base_permissions = ["can_list", "can_show"]
    list_columns = ["at", "username", "customer_id", "entity", "changes"]
    order_columns = ["at", "username", "action", "entity", "entity_id", "customer_id"]
    row_columns = ["id", "user_id", "action", "entity_id"]
    show_columns = ["at", "username", "action", "entity", "entity_id", "customer_id", "changes"]
    search_columns = ["at", "username", "action", "entity", "entity_id", "customer_id"]
    label_columns = {"at": "When (UTC)", "username": "Who", "entity": "What", "entity_id": "Record ID",
                     "customer_id": "Customer", "changes": "Details"}
    formatters_columns = {"changes": _changes}

    def _get_list_widget(self, *args, **kwargs):
        """The page's entries presented together: each kind of name is one query for the page."""
        widgets = super()._get_list_widget(*args, **kwargs)
        widget = widgets["list"]
        rows = widget.template_args["value_columns"] = list(widget.template_args["value_columns"])  # may be a generator
        events = {e.id: e for e in history.present(db.session, rows)}
        widget.template_args["row_formatters"] = {
            "at": lambda row: events[row["id"]].at,
            "username": lambda row: events[row["id"]].who,
            "customer_id": lambda row: _customer_link(events[row["id"]]),
            "entity": lambda row: events[row["id"]].what,
            "changes": lambda row: events[row["id"]].detail,
        }
        return widgets


def _customer_link(event) -> Markup:
    if event.customer_id is None:
        return Markup("")
    return Markup('<a href="{}">{}</a>').format(url_for("CustomerView.show", pk=event.customer_id, tab="changes"),
                                                event.customer)
