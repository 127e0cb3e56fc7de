"""Contacts, their phone numbers, and addresses: FAB screens that save through the services.

The contact form carries the contact's phone numbers as rows (type and number; blank rows are
ignored, a cleared row removes its phone), saved with the contact by one service command."""
from flask import abort, flash, g, request
from flask_appbuilder import expose, has_access
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.widgets import FormWidget
from sqlalchemy.orm import joinedload, selectinload
from wtforms import FieldList, Form, FormField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import Optional

from app.extensions import db
from app.models import Address, Contact, ContactPhone, CustomerService
from app.models.customers import CHANNELS, PHONE_KINDS, PURPOSES
from app.services.errors import Invalid
from app.services.billing import tax
from app.services.customers import addresses, contacts, services
from app.views import formatters
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter, PhoneScopeFilter
from app.views.forms import address_fields, contact_fields, phone_fields, service_fields


def tax_rate_field():
    return QuerySelectField("Tax rate", query_func=lambda: tax.rates(db.session), get_pk_func=lambda rate: rate.id,
                            allow_blank=True, widget=Select2Widget(),
                            description="What the service's invoice lines are taxed at. Blank: the default rate.")


def customer_id_field():
    return IntegerField("Customer ID", validators=[Optional()],
                        description="The customer this belongs to.")


class ChildView(ServiceModelView):
    """A record that belongs to a parent: added from the parent's page, or by the parent's ID."""

    parent_field = "customer_id"

    def add_exclude_cols(self):
        return [self.parent_field] if self.parent_id() else []

    def _get_add_widget(self, form, exclude_cols=None, widgets=None):
        if self.parent_id() and self.parent_field in form:
            form[self.parent_field].data = self.parent_id()
        return super()._get_add_widget(form, exclude_cols=exclude_cols, widgets=widgets)

    def split(self, data, parent_id):
        return data.pop(self.parent_field, None) or parent_id, data


CHANNEL_WORDS = {"email": "e-mail", "sms": "text", "letter": "letter", "phone": "phone"}
PREFERENCE_LABELS = {f"{purpose}_{channel}": f"{purpose.capitalize()} by {CHANNEL_WORDS[channel]}"
                     for purpose in PURPOSES for channel in CHANNELS}


class ContactPhoneView(ChildView):
    datamodel = ListInterface(ContactPhone, eager=(joinedload(ContactPhone.contact),))
    route_base = "/contact-phones"
    list_title = "Phone numbers"
    base_filters = [["id", PhoneScopeFilter, None]]
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["contact", "kind", "number"]
    show_columns = list_columns
    add_columns = ["contact_id", "kind", "number"]
    edit_columns = ["kind", "number"]
    search_columns = ["kind", "number"]
    label_columns = {"contact": "Contact", "kind": "Type", "number": "Number", "contact_id": "Contact ID"}
    formatters_columns = {"number": formatters.telephone, "kind": formatters.phone_kind}
    add_form_extra_fields = {**phone_fields(), "contact_id": IntegerField("Contact ID", validators=[Optional()])}
    edit_form_extra_fields = phone_fields()

    parent_key, parent_field = "contact", "contact_id"
    record_noun = "Phone number"

    def create(self, data, parent_id):
        contact_id, data = self.split(data, parent_id)
        return contacts.add_phone(db.session, g.user, contact_id, data)

    def update(self, pk, data):
        return contacts.update_phone(db.session, g.user, pk, data)

    def remove(self, pk):
        contacts.delete_phone(db.session, g.user, pk)


class PhoneRow(Form):
    """One phone row of the contact form: the service reads and checks every value."""

    id = HiddenField()
    kind = SelectField("Type", choices=[(k, k.capitalize()) for k in PHONE_KINDS], validate_choice=False)
    number = StringField("Number")


PHONE_ROWS = 3  # rows the add form shows; the edit form shows the phones and at least one blank row


def phone_rows_field():
    return FieldList(FormField(PhoneRow), "Phone numbers", min_entries=PHONE_ROWS,
                     max_entries=contacts.MAX_PHONE_ROWS)


class ContactFormWidget(FormWidget):
    """FAB's form with the phone rows as a table of their own (customers/contact_form.html)."""

    template = "customers/contact_form.html"


class ContactView(ChildView):
    datamodel = ListInterface(Contact, eager=(customer_name(Contact.customer), selectinload(Contact.phones)))
    route_base = "/contacts"
    list_title = "Contacts"
    show_title = "Contact"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("is_primary", "desc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["customer", "is_primary", "title", "first_name", "surname", "position", "email", "phones"]
    order_columns = ["is_primary", "title", "first_name", "surname", "position", "email"]
    _preferences = [f"{purpose}_{channel}" for purpose in PURPOSES for channel in CHANNELS]
    _fields = ["title", "first_name", "surname", "position", "email", "is_primary",
               "website_url", "twitter_url", "facebook_url", "linkedin_url"]
    show_columns = ["customer"] + _fields + ["phones"] + _preferences + ["unsubscribed_at"]
    add_columns = ["customer_id"] + _fields + ["phone_rows"] + _preferences
    edit_columns = _fields + ["phone_rows"] + _preferences
    search_columns = ["first_name", "surname", "email", "position"]
    _with_phones = _fields[:5] + ["phone_rows"] + _fields[5:]  # the phone numbers after the e-mail
    add_fieldsets = [("Contact", {"fields": ["customer_id"] + _with_phones}),
                     ("Communication preferences", {"fields": _preferences, "expanded": True})]
    edit_fieldsets = [("Contact", {"fields": _with_phones}),
                      ("Communication preferences", {"fields": _preferences, "expanded": True})]
    field_map = {"phone_rows": "phones"}
    add_widget = edit_widget = ContactFormWidget
    edit_template = "customers/contact_edit.html"  # the phones are on the form: no related list beside it
    show_fieldsets = [("Contact", {"fields": ["customer"] + _fields + ["phones"]}),
                      ("Communication preferences", {"fields": _preferences + ["unsubscribed_at"]})]
    label_columns = {
        **PREFERENCE_LABELS,
        "unsubscribed_at": "Unsubscribed (link) at",
        "customer": "Customer", "customer_id": "Customer ID", "is_primary": "Primary contact",
        "first_name": "First name", "website_url": "Website", "twitter_url": "Twitter / X",
        "facebook_url": "Facebook", "linkedin_url": "LinkedIn", "email": "E-mail", "phones": "Phones",
    }
    formatters_columns = {"email": formatters.email, "is_primary": formatters.yes_no,
                          **{name: formatters.yes_no for name in _preferences},
                          "phones": formatters.phones}
    description_columns = {"is_primary": "Documents are addressed to the primary contact.",
                           "marketing_email": "Off until the contact opts in; the unsubscribe link turns it off.",
                           "service_email": "Reminders, notices and account messages."}
    add_form_extra_fields = {**contact_fields(), "customer_id": customer_id_field(), "phone_rows": phone_rows_field()}
    edit_form_extra_fields = {**contact_fields(), "phone_rows": phone_rows_field()}
    related_views = [ContactPhoneView]
    show_template = "appbuilder/general/model/show_cascade.html"
    record_noun = "Contact"

    def prefill_form(self, form, pk):
        """The contact's phones in the rows, as people write them, and room for one more."""
        phones = contacts.get_contact(db.session, g.user, pk).phones
        rows = form.phone_rows
        while rows.entries:
            rows.pop_entry()
        for phone in phones:
            rows.append_entry({"id": str(phone.id), "kind": phone.kind, "number": formatters.phone(phone.number)})
        for _ in range(max(1, PHONE_ROWS - len(phones))):
            rows.append_entry({"kind": "mobile"})

    def show_errors(self, form, error: Invalid) -> None:
        """A phone row's errors (`phones.<i>.<field>`) go next to that row's field; the rest as FAB's."""
        rest = {}
        entries = form.phone_rows.entries
        for key, messages in error.errors.items():
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "phones" and parts[1].isdigit() and int(parts[1]) < len(entries):
                row = entries[int(parts[1])].form
                if parts[2] in row:
                    row[parts[2]].errors = list(row[parts[2]].errors or []) + messages
                    continue
            if key == "phones":
                form.phone_rows.messages = messages
                continue
            rest[key] = messages
        if rest:
            super().show_errors(form, Invalid(rest, error.message))
        else:
            flash(error.message, "danger")

    def create(self, data, parent_id):
        customer_id, data = self.split(data, parent_id)
        return contacts.create_contact(db.session, g.user, customer_id, data)

    def update(self, pk, data):
        if not any(key.startswith("phone_rows-") for key in request.form):
            data.pop("phones", None)  # a post without the phone rows (not this form's) leaves the phones alone
        return contacts.update_contact(db.session, g.user, pk, data)

    def remove(self, pk):
        contacts.delete_contact(db.session, g.user, pk)


class AddressView(ChildView):
    datamodel = ListInterface(Address, eager=(customer_name(Address.customer),))
    route_base = "/addresses"
    list_title = "Addresses"
    show_title = "Address"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("kind", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["customer", "kind", "line1", "town", "postcode", "country", "access"]
    order_columns = ["kind", "line1", "town", "postcode", "country"]
    _fields = ["kind", "line1", "line2", "line3", "town", "county", "postcode", "country",
               "latitude", "longitude", "access_name", "access_phone", "access_relationship"]
    show_columns = ["customer"] + _fields
    add_columns = ["customer_id"] + _fields
    edit_columns = _fields
    search_columns = ["line1", "town", "postcode", "kind"]
    label_columns = {
        "customer": "Customer", "customer_id": "Customer ID", "kind": "Type",
        "line1": "Address line 1", "line2": "Address line 2", "line3": "Address line 3",
        "access_name": "Access contact", "access_phone": "Access contact phone",
        "access_relationship": "Access contact relationship", "access": "Access",
    }
    formatters_columns = {"access_phone": formatters.telephone, "access": formatters.access_contact,
                          "kind": formatters.address_kind, "access_relationship": formatters.access_relationship}
    add_form_extra_fields = {**address_fields(), "customer_id": customer_id_field()}
    edit_form_extra_fields = address_fields()
    record_noun = "Address"

    def record_name(self, item) -> str:
        return item.line1 or item.one_line

    def create(self, data, parent_id):
        customer_id, data = self.split(data, parent_id)
        return addresses.create_address(db.session, g.user, customer_id, data)

    def update(self, pk, data):
        return addresses.update_address(db.session, g.user, pk, data)

    def remove(self, pk):
        addresses.delete_address(db.session, g.user, pk)


class ServiceView(ChildView):
    """A customer's services (iBill): what it is billed for; suspended when it is disabled."""

    datamodel = ListInterface(CustomerService, eager=(customer_name(CustomerService.customer),))
    route_base = "/services"
    list_title = "Services"
    show_title = "Service"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("id", "asc")
    base_permissions = ["can_list", "can_show", "can_add", "can_edit", "can_delete"]
    list_columns = ["customer", "name", "price", "billing_cycle", "status", "started_on", "next_billing_on"]
    _fields = ["name", "price", "billing_cycle", "status", "started_on", "next_billing_on", "tax_rate", "ends_on"]
    show_columns = ["customer"] + _fields + ["billing_day", "suspended_by_disable"]
    add_columns = ["customer_id"] + _fields
    edit_columns = _fields
    search_columns = ["name", "status", "billing_cycle", "next_billing_on"]
    label_columns = {"customer": "Customer", "customer_id": "Customer ID", "billing_cycle": "Billing cycle",
                     "started_on": "Started on", "suspended_by_disable": "Suspended by the customer's disable",
                     "next_billing_on": "Next billing date", "tax_rate": "Tax rate", "ends_on": "Ends on",
                     "billing_day": "Periods start on day"}
    formatters_columns = {"started_on": formatters.day, "next_billing_on": formatters.day, "ends_on": formatters.day,
                          "billing_cycle": formatters.billing_cycle, "status": formatters.service_status,
                          "tax_rate": lambda rate: str(rate) if rate else "Default rate"}
    row_formatters = {"price": lambda row: formatters.money(row["price"], row["customer.currency"])}
    row_columns = ["customer.currency"]
    add_form_extra_fields = {**service_fields(adding=True), "tax_rate": tax_rate_field(),
                             "customer_id": customer_id_field()}
    edit_form_extra_fields = {**service_fields(), "tax_rate": tax_rate_field()}
    field_map = {"tax_rate": "tax_rate_id"}
    record_noun = "Service"

    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        """FAB's page, with the price in the customer's currency."""
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        widgets = self._show(pk)
        show = widgets["show"].template_args
        show["formatters_columns"] = {**show["formatters_columns"],
                                      "price": lambda value: formatters.money(value, item.customer.currency)}
        return self.render_template(self.show_template, pk=pk, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views)

    def create(self, data, parent_id):
        customer_id, data = self.split(data, parent_id)
        return services.create_service(db.session, g.user, customer_id, data)

    def update(self, pk, data):
        return services.update_service(db.session, g.user, pk, data)

    def remove(self, pk):
        services.delete_service(db.session, g.user, pk)
