"""Tags, resellers, the audit log and the company settings."""
import base64
import json
from datetime import datetime, timezone

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_appbuilder.models.sqla.interface import SQLAInterface
from markupsafe import Markup

from app.extensions import db
from app.models import AuditEntry, Reseller, Tag
from app.models.customers import CREDITOR_DAYS, PAYMENT_REMINDERS, USE_CREDIT
from app.services import company, money, resellers, tags
from app.services.billing import address_format, allocation, tax
from app.services.errors import Invalid
from app.services.settings import settings
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
    label_columns = {"at": "When", "username": "Who", "entity": "What", "entity_id": "Record ID",
                     "customer_id": "Customer", "changes": "Details"}
    formatters_columns = {"changes": _changes, "at": formatters.moment_seconds,
                          "action": history.verb}

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


class CompanySettingsView(BaseView):
    """The company's settings (services/company.py): the time zone times are shown in, where the
    business is, and what invoices say (name, address, tax number, logo, bank details, numbers,
    creditor days, the default tax rate). One form; saving comes back to it with what changed."""

    route_base = "/company"
    default_view = "edit"
    base_permissions = ["can_edit"]
    LABELS = {"time_zone": "time zone", "business_address": "business address",
              "business_latitude": "latitude", "business_longitude": "longitude",
              "company_name": "company name", "company_address": "company address", "tax_number": "tax number",
              "bank_details": "bank details", "default_creditor_days": "default creditor days",
              "invoice_prefix": "invoice prefix", "invoice_next_number": "next invoice number",
              "default_tax_rate_id": "default tax rate", "logo": "logo",
              "credit_note_prefix": "credit note prefix", "credit_note_breakdown": "credit note breakdown",
              "invoice_address_format": "invoice address format", "default_payment_reminders": "payment reminders",
              "write_off_limit": "write-off limit", "use_credit_default": "account credit on new invoices",
              "reminder_minimum": "reminder minimum",
              "suspend_grace_days": "grace period before suspension",
              "billing_pro_rata": "pro rata billing", "billing_drafts": "billed invoices left as drafts",
              "billing_email": "e-mailing billed invoices", "bill_suspended": "billing suspended customers"}
    # Recurring billing's settings: (field, label, help, text when on, text when off); empty: the default.
    BILLING_CHOICES = (
        ("billing_pro_rata", "Pro rata", "A service started or cancelled within a period is billed for the days it "
         "was active in that period.", "Bill the days a service was active (pro rata by days)",
         "Bill whole periods only"),
        ("billing_drafts", "Invoices the run makes", "Drafts wait on the Invoices list for someone to check and "
         "issue them.", "Leave them as drafts for review", "Issue them at once"),
        ("billing_email", "E-mail invoices", "Issued invoices are e-mailed to the customer with their PDF, "
         "through the outbox (its opt-outs apply).", "E-mail them with their PDF", "Do not e-mail them"),
        ("bill_suspended", "Customers suspended for late payment", "Cancelled services are never billed; dormant, "
         "archived and blocked customers never are either.", "Bill their services",
         "Do not bill them while suspended"),
    )

    @expose("/", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def edit(self):
        config = current_app.config
        values = self._saved()
        errors: dict = {}
        if request.method == "POST":
            posted = {key: request.form.get(key, "") for key in company.ALL_FIELDS if key in request.form}
            upload = request.files.get("logo")
            # One byte past the limit is enough to refuse it, whatever the file's size.
            logo = upload.stream.read(company.LOGO_BYTES + 1) if upload is not None and upload.filename else None
            try:
                changed = company.update(db.session, g.user, posted, geocoder=settings.geocoder, logo=logo or None)
            except Invalid as e:
                db.session.rollback()
                errors = e.errors
                values = {**values, **posted}
            else:
                flash(f"Company settings saved: {', '.join(self.LABELS[k] for k in changed)} changed." if changed
                      else "Company settings saved: nothing changed.", "success")
                return redirect(url_for(f"{self.endpoint}.edit"))
        in_force = company.read(db.session, config)
        row = company.stored(db.session)
        logo = (Markup("data:{};base64,{}").format(row.logo_type, base64.b64encode(row.logo).decode())
                if row.logo else None)
        return self.render_template(
            "admin/company.html", values=values, errors=errors, zones=company.time_zones(), in_force=in_force,
            now=company.local(datetime.now(timezone.utc), in_force.time_zone), title="Company settings",
            logo=logo, logo_kb=len(row.logo) / 1024 if row.logo else 0, logo_limit_kb=company.LOGO_BYTES // 1024,
            tax_rates=tax.rates(db.session), creditor_days=CREDITOR_DAYS, base_currency=settings.base_currency,
            next_invoice=company.numbering(db.session).next, payment_reminders=PAYMENT_REMINDERS,
            address_tags=" ".join(tag.text for tag in address_format.TAGS), use_credit_choices=USE_CREDIT,
            write_off_default=money.format(allocation.WRITE_OFF_LIMIT_DEFAULT, settings.base_currency),
            billing_choices=self.BILLING_CHOICES, billing_defaults=company.BILLING_DEFAULTS)

    @staticmethod
    def _saved() -> dict:
        row = company.stored(db.session)
        values = {key: "" if getattr(row, key) is None else str(getattr(row, key))
                  for key in company.FIELDS + company.DOCUMENT_FIELDS}
        numbers = company.numbering(db.session)
        rate = company.default_tax_rate_id(db.session)
        values.update(invoice_prefix=numbers.prefix, invoice_next_number=str(numbers.next_number),
                      default_tax_rate_id="" if rate is None else str(rate))
        values["credit_note_prefix"] = company.credit_note_prefix(db.session)
        values["write_off_limit"] = ("" if row.write_off_limit is None
                                     else str(money.quantize(row.write_off_limit, settings.base_currency)))
        values["use_credit_default"] = row.use_credit_default or ""
        values["reminder_minimum"] = ("" if row.reminder_minimum is None
                                      else str(money.quantize(row.reminder_minimum, settings.base_currency)))
        values["suspend_grace_days"] = "" if row.suspend_grace_days is None else str(row.suspend_grace_days)
        for key in company.BILLING_FIELDS:
            values[key] = "" if getattr(row, key) is None else ("1" if getattr(row, key) else "0")
        return values
