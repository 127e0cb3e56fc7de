"""A customer's Invoice settings (issue 15), one screen reached from its Finances tab: the invoice
address format (the tags beside the box, a live preview: js/invoice_settings.js asking /preview), the
additional invoice addresses (the chosen one, a search within the user's scope, add, edit, choose,
delete with what uses it) and the billing settings form.

Thin: every read and write goes through services/billing/address_format.py, invoice_addresses.py and
billing_settings.py, which check scope (another reseller's customer or address: 404) and permission
again. Who sees money sees the screen (can_show); Finance and Admin change it (can_edit: the forms and
buttons are shown only to them). Every form carries a one-time key: a double submit acts once.
"""
from flask import flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.models import InvoiceAddress
from app.models.customers import CREDITOR_DAYS, PAYMENT_REMINDERS, USE_CREDIT
from app.services import fields
from app.services.billing import address_format, billing_settings, invoice_addresses, price_books, tax
from app.services.errors import Invalid, NotFound
from app.services.forms import claim_form_key, new_form_key
from app.services.scope import get_customer
from app.views.return_to import return_target

SETTING_LABELS = {"creditor_days": "creditor days", "currency": "currency", "tax_exempt": "tax exemption",
                  "tax_rate_id": "special tax rate", "price_book_id": "price book",
                  "do_not_suspend": "do not suspend for late payment", "payment_reminders": "payment reminders",
                  "use_credit": "account credit used on a new invoice",
                  "group_statements_by_contact": "statements grouped by contact",
                  "attach_invoices_to_statements": "invoices attached to statements"}
ADDRESS_LABELS = {"name": "Name or organisation", "contact_name": "Contact name", "line1": "Address line 1",
                  "line2": "Address line 2", "line3": "Address line 3", "town": "Town", "county": "County",
                  "postcode": "Postcode", "country": "Country code", "email": "E-mail", "phone": "Phone"}
ALREADY_SAVED = "This form was already sent: it was saved once."


class InvoiceSettingsView(BaseView):
    route_base = "/invoice-settings"
    default_view = "show"
    base_permissions = ["can_show", "can_edit"]

    def _here(self, customer_id: int, **args) -> str:
        return url_for(f"{self.endpoint}.show", pk=customer_id, **args)

    def _back(self, customer_id: int) -> str:
        return return_target() or self._here(customer_id)

    @staticmethod
    def _claimed() -> bool:
        """Claim the form's key in this request's transaction; False (and said) when it was sent before."""
        if claim_form_key(db.session, request.form.get("form_key")):
            return True
        flash(ALREADY_SAVED, "info")
        return False

    # ---- the screen -----------------------------------------------------------------------
    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        """The three parts: the format, the addresses (`q`: the search) and the billing settings."""
        return self._screen(pk)

    def _screen(self, pk, errors=None, values=None, status=200):
        """The screen; after a refused save, its errors next to its fields and what was typed."""
        customer = get_customer(db.session, g.user, pk)
        may_change = self.appbuilder.sm.has_access("can_edit", self.class_permission_name)
        settings = billing_settings.read(db.session, g.user, customer.id)
        values = {"format": customer.invoice_address_format or "",
                  **{k: "" if v is None else v for k, v in settings.values.items()}, **(values or {})}
        query = request.args.get("q", "")
        found = invoice_addresses.search(db.session, g.user, query, customer_id=customer.id)
        chosen = db.session.get(InvoiceAddress, customer.invoice_address_id) if customer.invoice_address_id else None
        try:
            preview = address_format.preview(db.session, g.user, customer.id, values["format"])
        except Invalid:
            preview = ""
        return self.render_template(
            "invoice_settings/show.html", customer=customer, may_change=may_change, settings=settings,
            values=values, errors=errors or {}, tags=address_format.TAGS, preview=preview,
            company_format=address_format.company_format(db.session), query=query, found=found, chosen=chosen,
            form_key=new_form_key(), on=fields.boolean, creditor_days=CREDITOR_DAYS, reminders=PAYMENT_REMINDERS,
            use_credit_choices=USE_CREDIT,
            tax_rates=tax.rates(db.session),
            books=price_books.active_books(db.session), currencies=sorted(fields.CURRENCIES),
            finances=url_for("CustomerView.show", pk=customer.id, tab="finances"),
            title=f"Invoice settings: {customer.name}"), status

    @expose("/<int:pk>/preview")
    @has_access
    @permission_name("show")
    def preview(self, pk):
        """JSON {"text": the address rendered} for `template` on this customer's data; 422 with the errors."""
        try:
            text = address_format.preview(db.session, g.user, pk, request.args.get("template", ""))
        except NotFound as e:
            return jsonify(message=e.message), 404
        except Invalid as e:
            return jsonify(errors=e.errors), 422
        return jsonify(text=text)

    # ---- 1. the address format ---------------------------------------------------------------
    @expose("/<int:pk>/format", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save_format(self, pk):
        customer = get_customer(db.session, g.user, pk)
        template = request.form.get("format", "")
        if self._claimed():
            try:
                before = customer.invoice_address_format
                customer = address_format.save_for_customer(db.session, g.user, customer.id, template)
            except Invalid as e:
                db.session.rollback()
                return self._screen(pk, errors={"format": e.errors[address_format.FIELD]}, values={"format": template},
                                 status=422)
            changed = before != customer.invoice_address_format
            flash("Invoice address format saved" + (" (the company's format from now on)"
                                                    if changed and not customer.invoice_address_format else "")
                  if changed else "Invoice address format saved: nothing changed.", "success")
        return redirect(self._back(customer.id))

    # ---- 2. additional invoice addresses -----------------------------------------------------
    @expose("/<int:pk>/choose", methods=["POST"])
    @has_access
    @permission_name("edit")
    def choose(self, pk):
        """Make the address this customer's invoice address (empty: its own address again)."""
        customer = get_customer(db.session, g.user, pk)
        if self._claimed():
            try:
                customer = invoice_addresses.choose_for_customer(db.session, g.user, customer.id,
                                                                 request.form.get("address_id", ""))
            except Invalid as e:
                db.session.rollback()
                flash(e.messages, "danger")
                return redirect(self._back(customer.id))
            if customer.invoice_address_id:
                chosen = db.session.get(InvoiceAddress, customer.invoice_address_id)
                flash(f"Invoices of {customer.name} are made out to {chosen.name} now.", "success")
            else:
                flash(f"Invoices of {customer.name} are made out to its own address now.", "success")
        return redirect(self._back(customer.id))

    @expose("/<int:pk>/addresses/add", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def add_address(self, pk):
        return self._address_form(pk, None)

    @expose("/<int:pk>/addresses/<int:address_id>/edit", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def edit_address(self, pk, address_id):
        return self._address_form(pk, address_id)

    def _address_form(self, pk, address_id):
        """Add (address_id None) or edit an address: errors next to their fields; saved, back to the screen."""
        customer = get_customer(db.session, g.user, pk)
        address = invoice_addresses.get(db.session, g.user, address_id) if address_id is not None else None
        values = {k: (getattr(address, k) or "") if address else "" for k in invoice_addresses.FIELDS}
        errors, key, status = {}, new_form_key(), 200
        if request.method == "POST":
            values = {k: request.form.get(k, "") for k in invoice_addresses.FIELDS}
            key = request.form.get("form_key", "")
            if not self._claimed():
                return redirect(self._back(customer.id))
            try:
                if address is None:
                    address = invoice_addresses.add(db.session, g.user, values)
                    flash(f"Invoice address {address.name} added: choose it to make out this customer's invoices "
                          "to it.", "success")
                else:
                    before = {k: getattr(address, k) for k in invoice_addresses.FIELDS}
                    address = invoice_addresses.edit(db.session, g.user, address.id, values)
                    changed = [ADDRESS_LABELS[k].lower() for k in invoice_addresses.FIELDS
                               if getattr(address, k) != before[k]]
                    flash(f"Invoice address {address.name} saved: " + (", ".join(changed) + " changed."
                                                                        if changed else "nothing changed."), "success")
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                return redirect(self._back(customer.id))
        return self.render_template(
            "invoice_settings/address.html", customer=customer, address=address, values=values, errors=errors,
            labels=ADDRESS_LABELS, form_key=key, back=self._back(customer.id),
            title=("Edit invoice address" if address else "Add invoice address")), status

    @expose("/<int:pk>/addresses/<int:address_id>/delete", methods=["GET", "POST"])
    @has_access
    @permission_name("edit")
    def delete_address(self, pk, address_id):
        """GET: what deleting it touches ("Used by N customers"), asked; POST: delete it."""
        customer = get_customer(db.session, g.user, pk)
        address = invoice_addresses.get(db.session, g.user, address_id)
        if request.method == "POST":
            if self._claimed():
                name = address.name
                try:
                    used = invoice_addresses.delete(db.session, g.user, address.id)
                except Invalid as e:
                    db.session.rollback()
                    flash(e.messages, "danger")
                else:
                    flash(f"Invoice address {name} deleted ({used.message[:-1].lower()}: they use their own address "
                          "now).", "success")
            return redirect(self._back(customer.id))
        return self.render_template(
            "invoice_settings/delete.html", customer=customer, address=address,
            usage=invoice_addresses.usage(db.session, g.user, address.id), form_key=new_form_key(),
            back=self._back(customer.id), title="Delete invoice address")

    @expose("/invoice/<int:invoice_id>/address", methods=["POST"])
    @has_access
    @permission_name("edit")
    def choose_for_invoice(self, invoice_id):
        """The draft invoice's page: make it out to an address (empty: the customer's choice), back to it."""
        back = return_target() or url_for("InvoiceView.show", pk=invoice_id)
        if self._claimed():
            try:
                invoice = invoice_addresses.choose_for_invoice(db.session, g.user, invoice_id,
                                                               request.form.get("address_id", ""))
            except Invalid as e:
                db.session.rollback()
                flash(e.messages, "danger")
                return redirect(back)
            chosen = db.session.get(InvoiceAddress, invoice.invoice_address_id) if invoice.invoice_address_id else None
            flash(f"This draft is made out to {chosen.name} now." if chosen
                  else "This draft is made out to the customer's invoice address now.", "success")
        return redirect(back)

    # ---- 3. billing settings ----------------------------------------------------------------
    @expose("/<int:pk>/billing", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save_billing(self, pk):
        customer = get_customer(db.session, g.user, pk)
        # Every field of the form (an unticked box is not sent: off); the currency only while it may change.
        data = {k: request.form.get(k, "") for k in billing_settings.FIELDS if k != "currency"}
        if "currency" in request.form:
            data["currency"] = request.form["currency"]
        if self._claimed():
            try:
                changed = billing_settings.save(db.session, g.user, customer.id, data)
            except Invalid as e:
                db.session.rollback()
                return self._screen(pk, errors=e.errors, values=data, status=422)
            flash("Billing settings saved: " + (", ".join(SETTING_LABELS[k] for k in SETTING_LABELS if k in changed)
                                                + " changed."
                                                if changed else "nothing changed."), "success")
        return redirect(self._back(customer.id))
