"""Form fields for choices that are plain strings in the model, and for dates.

The forms only carry what was typed: the services read it (app/services/fields.py), so a
date or a number typed into a form is read as the API and the filters read it.
"""
from flask_appbuilder.fieldwidgets import BS3TextFieldWidget, DatePickerWidget, Select2Widget
from wtforms import SelectField, StringField
from wtforms.validators import Optional

from app.models.customers import (
    ACCESS_RELATIONSHIPS,
    ADDRESS_KINDS,
    BILLING_CYCLES,
    BUILDING_TYPES,
    CREDITOR_DAYS,
    CUSTOMER_TYPES,
    PHONE_KINDS,
    SERVICE_STATUSES,
    STATUSES,
    TITLES,
)
from app.services.fields import CURRENCIES


def choice(label, values, blank=True, description=""):
    options = ([("", "")] if blank else []) + [(str(v), str(v).capitalize() if isinstance(v, str) and v.islower() else str(v)) for v in values]
    return SelectField(label, choices=options, widget=Select2Widget(), validators=[Optional()],
                       description=description)


def text(label, description=""):
    return StringField(label, widget=BS3TextFieldWidget(), validators=[Optional()], description=description)


def day(label, description=""):
    """A date with FAB's date picker, read by the service (fields.iso_date), not by WTForms'
    strptime (which took "2026-2-3")."""
    return StringField(label, widget=DatePickerWidget(), validators=[Optional()], description=description)


def customer_fields():
    return {
        "customer_type": choice("Customer type", CUSTOMER_TYPES, blank=False),
        "title": choice("Title", TITLES),
        "status": choice("Status", STATUSES, blank=False),
        "currency": SelectField("Currency", choices=[(c, c) for c in sorted(CURRENCIES)],
                                widget=Select2Widget(), validators=[Optional()]),
        "creditor_days": choice("Creditor days", CREDITOR_DAYS),
        "building_type": choice("Building type", BUILDING_TYPES),
        "joined_on": day("Date joined"),
        "email": text("E-mail"),
        "phone": text("Phone", "Stored in international form; shown in national form."),
        "mobile": text("Mobile"),
    }


def contact_fields():
    return {"title": choice("Title", TITLES), "email": text("E-mail")}


def phone_fields():
    return {"kind": choice("Type", PHONE_KINDS, blank=False), "number": text("Number")}


def address_fields():
    return {
        "kind": choice("Address type", ADDRESS_KINDS, blank=False,
                       description="A customer has exactly one billing address; the rest are sites."),
        "access_relationship": choice("Access contact relationship", ACCESS_RELATIONSHIPS),
        "access_phone": text("Access contact phone"),
    }


def service_fields(adding: bool = False):
    """The service form's fields; the tax rate's choices are read when the form is (tax_rate_field)."""
    return {
        "price": text("Price", "Per billing cycle, in the customer's currency (as many decimals as it has)."),
        "billing_cycle": choice("Billing cycle", BILLING_CYCLES, blank=False),
        "status": choice("Status", SERVICE_STATUSES, blank=False,
                         description="Cancelled: give the day it ends below."),
        "started_on": day("Started on", "Empty: today." if adding else ""),
        "next_billing_on": day("Next billing date", "The first day of the next period to bill; its periods start on "
                               "that day of the month. " + ("Empty: the start date (with pro rata on, the period of the "
                                                           "customer's other services that includes it)." if adding else
                                                           "Empty: nothing more to bill.")),
        "ends_on": day("Ends on", "A cancelled service's last day is the day before. Empty: today (or its start, "
                       "if later). Cleared when the service is active again."),
    }
