"""Custom fields: the admins' screen that defines them, and their part of the customer's page.

CustomFieldView (route_base "/custom-fields") saves through the service, which checks the
same permissions as the screen (can_add, can_edit, can_delete on CustomFieldView: the
Admin's by default, any role's that an admin gives them). CustomFieldsMixin is for
CustomerView (route_base "/customers"): `custom_fields_tab` gives the Details tab its fields
and values, and setting them needs `can_edit` on customers, like writing a note.
"""
from flask import flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import has_access, permission_name
from wtforms import BooleanField, TextAreaField

from app.extensions import db
from app.models.custom_fields import CUSTOM_FIELD_KINDS, CustomField
from app.services import custom_fields
from app.services.errors import Invalid
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.forms import choice, text


def _definition_fields() -> dict:
    return {
        "kind": choice("Kind", CUSTOM_FIELD_KINDS, blank=False,
                       description="Text, number, date or a choice from a list. "
                                   "It cannot change once customers have values."),
        "choices": TextAreaField("Choices", widget=BS3TextAreaFieldWidget(),
                                 description="For a choice field: one choice per line (at most 100)."),
        "position": text("Position", "Fields are shown by position, then by name."),
        "required": BooleanField("Required", description="A customer's value cannot be left empty."),
        "active": BooleanField("Active", default=True,
                               description="An inactive field is hidden; its values are kept."),
    }


class CustomFieldView(ServiceModelView):
    datamodel = SQLAInterface(CustomField)
    route_base = "/custom-fields"
    list_title = "Custom fields"
    show_title = "Custom field"
    add_title = "Add custom field"
    edit_title = "Edit custom field"
    base_order = ("position", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["name", "kind", "required", "position", "active"]
    add_columns = edit_columns = ["name", "kind", "choices", "required", "position", "active"]
    show_columns = ["name", "kind", "choices", "required", "position", "active", "created_at"]
    search_columns = ["name", "kind", "required", "active"]
    label_columns = {"name": "Name", "kind": "Kind", "choices": "Choices", "required": "Required",
                     "position": "Position", "active": "Active", "created_at": "Created"}
    description_columns = {"name": "The label shown on the customer's page (at most 80 characters)."}
    formatters_columns = {
        "kind": lambda k: custom_fields.KIND_LABELS.get(k, k or ""),
        "choices": formatters.multiline,
        "required": formatters.yes,
        "active": formatters.yes,
        "created_at": formatters.moment,
    }
    add_form_extra_fields = _definition_fields()
    edit_form_extra_fields = _definition_fields()

    def prefill_form(self, form, pk):
        if form.position.data is not None:
            form.position.data = str(form.position.data)

    def create(self, data, parent_id):
        return custom_fields.create_field(db.session, g.user, data)

    def update(self, pk, data):
        return custom_fields.update_field(db.session, g.user, pk, data)

    def remove(self, pk):
        custom_fields.delete_field(db.session, g.user, pk)


class CustomFieldsMixin:
    """For CustomerView: the custom fields on the Details tab, and the route that saves them."""

    def custom_fields_tab(self, pk) -> dict:
        return {"custom_fields": custom_fields.values_for(db.session, g.user, pk)}

    @expose("/show/<pk>/custom-fields", methods=["POST"])
    @has_access
    @permission_name("edit")
    def set_custom_fields(self, pk):
        try:
            custom_fields.set_values(db.session, g.user, pk, request.form)
            flash("Custom fields saved.", "success")
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        return redirect(url_for(f"{self.endpoint}.show", pk=pk, tab="details"))
