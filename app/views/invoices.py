"""Invoices: the list of every invoice in the user's scope, the invoice's page, its form with lines,
issue, void, delete a draft, Record payment and Charge customer.

Posting anything needs can_post_money on this view (services/billing POST_MONEY: Finance, Admin);
everyone who sees customers sees their invoices. Every route that writes (and the forms that lead
to it) carries that permission, and the billing services check it again. FAB's own add, edit and
delete routes are not registered: an invoice is written only through the billing services.

Each form carries a one-time key (services/forms.py): sent twice, its work is done once and the
second answer says so. After a save the user goes back where the work was (`?next=`, else the
invoice's page) with a message naming what changed.
"""
import re
from datetime import date
from decimal import Decimal

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.filters import FilterEqual, FilterNotEqual, SQLAFilterConverter
from flask_appbuilder.security.decorators import has_access, permission_name
from markupsafe import Markup, escape
from sqlalchemy import case
from wtforms import SelectField, StringField

from app.extensions import db
from app.models import Customer, Invoice, Payment, TaxRate
from app.models.money import CATEGORIES, INVOICE_STATUSES, OPEN_STATUSES
from app.services import csv_export, fields, money, permissions
from app.services.billing import (POST_MONEY, allocation, credit_notes, documents, finances, invoice_addresses,
                                  invoices, payments, reminder_steps, tax)
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import claim_form_key, new_form_key
from app.services.scope import get_customer
from app.views import downloads, formatters
from app.views.base import ServiceModelView
from app.views.list_widget import MoneyListWidget
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter, FilterCustomerNamed, FilterTextContains, FilterValueEqual, \
    FilterValueGreater, FilterValueSmaller
from app.views.return_to import return_target

STATUS_NAMES = {"draft": "Draft", "issued": "Issued", "part_paid": "Part-paid", "paid": "Paid", "void": "Void"}
STATUS_LABELS = {"draft": "default", "issued": "primary", "part_paid": "warning", "paid": "success", "void": "danger"}
# Every permission on the name "InvoiceView": InvoiceDocumentView (views/documents.py) shares it, and
# FAB's permission update deletes from a view name what the view registered under it does not list.
# can_write_off_money: small write-offs on the cash-allocation screen (services/billing WRITE_OFF).
PERMISSIONS = ["can_list", "can_show", "can_post_money", "can_pdf", "can_export", "can_write_off_money"]
CATEGORY_NAMES = {"labour": "Labour", "parts": "Parts", "other": "Other"}
BLANK_ROWS = 1  # rows the form adds after the lines it shows (the JS adds more)
_ROW_FIELD = re.compile(r"lines-(\d+)-(description|category|quantity|unit_price|tax_rate_id|invoice_line_id)$")


def status_label(value) -> Markup:
    """An invoice's status in words, as a label: "Part-paid"."""
    if not value:
        return Markup("")
    return Markup(f'<span class="label label-{STATUS_LABELS.get(value, "default")} invoice-status">'
                  f'{escape(STATUS_NAMES.get(value, value))}</span>')


def _number_link(row) -> Markup:
    return Markup(f'<a class="invoice-link" href="{escape(url_for("InvoiceView.show", pk=row["id"]))}">'
                  f'{escape(row["number"] or "Draft")}</a>')


def _customer_link(row) -> Markup:
    customer = row["customer"]
    if customer is None:
        return Markup("")
    return Markup(f'<a href="{escape(url_for("CustomerView.show", pk=customer.id))}">{escape(customer.name)}</a>')


class FilterCustomerName(FilterCustomerNamed):
    """Invoices of the customers whose name contains the text (filters.customers_named)."""

    name, arg_name, by_id = FilterTextContains.name, FilterTextContains.arg_name, False


INVOICE_FILTERS = {
    "number": [FilterTextContains, FilterEqual],
    "status": [FilterEqual, FilterNotEqual],
    "customer": [FilterCustomerName],
    "customer_id": [FilterValueEqual],
    "issue_date": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "due_date": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "total": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "outstanding": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
}


class InvoiceFilterConverter(SQLAFilterConverter):
    def convert(self, col_name):
        if col_name in INVOICE_FILTERS:
            return [f(col_name, self.datamodel) for f in INVOICE_FILTERS[col_name]]
        return super().convert(col_name)


# The CSV's columns (header, SQL expression); text goes through csv_export.safe.
CSV_COLUMNS = [
    ("Number", csv_export.safe(Invoice.number)),
    ("Customer ID", Invoice.customer_id),
    ("Customer", csv_export.safe(Customer.name)),
    ("Issue date", Invoice.issue_date),
    ("Due date", Invoice.due_date),
    ("Status", case(*((Invoice.status == k, v) for k, v in STATUS_NAMES.items()), else_=Invoice.status)),
    ("Currency", Invoice.currency),
    ("Net", csv_export.amount_text(Invoice.net_total, Invoice.currency)),
    ("Tax", csv_export.amount_text(Invoice.tax_total, Invoice.currency)),
    ("Total", csv_export.amount_text(Invoice.total, Invoice.currency)),
    ("Outstanding", csv_export.amount_text(Invoice.outstanding, Invoice.currency)),
]


class InvoiceInterface(ListInterface):
    filter_converter_class = InvoiceFilterConverter


class InvoiceView(ServiceModelView):
    list_widget = MoneyListWidget  # amounts right-aligned
    datamodel = InvoiceInterface(Invoice, eager=(customer_name(Invoice.customer),))
    route_base = "/invoices"
    list_title = "Invoices"
    show_title = "Invoice"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("id", "desc")
    # can_post_money: every route that writes, and its form (the services check POST_MONEY too).
    base_permissions = PERMISSIONS
    # Invoices are written only through the billing services: FAB's add, edit and delete are gone.
    exclude_route_methods = {"download", "add", "edit", "delete"}
    list_columns = ["number", "customer", "issue_date", "due_date", "total", "outstanding", "status"]
    order_columns = ["number", "issue_date", "due_date", "total", "outstanding", "status"]
    show_columns = list_columns
    search_columns = ["number", "status", "customer", "customer_id", "issue_date", "due_date", "total",
                      "outstanding"]
    label_columns = {"number": "Number", "customer": "Customer", "customer_id": "Customer ID",
                     "issue_date": "Issue date", "due_date": "Due date", "total": "Total",
                     "outstanding": "Outstanding", "status": "Status"}
    row_columns = ["id", "currency"]
    row_formatters = {"number": _number_link, "customer": _customer_link,
                      "total": lambda row: formatters.money(row["total"], row["currency"]),
                      "outstanding": lambda row: formatters.money(row["outstanding"], row["currency"])}
    formatters_columns = {"status": status_label, "issue_date": formatters.day, "due_date": formatters.day}
    # The customer is typed (a name): FAB's own field for a relation loads every customer.
    search_form_extra_fields = {"customer": StringField("Customer"), "status": SelectField(
        "Status", choices=[(s, STATUS_NAMES[s]) for s in INVOICE_STATUSES], widget=Select2Widget())}
    list_template = "invoices/list.html"  # FAB's list with Download CSV

    # ---- CSV: the list's own filter and sort, within the user's scope ----------------------------
    @expose("/export.csv")
    @has_access
    def export(self):
        """The invoices of the list's filter and sort as CSV (streamed; text escaped against formulas
        and amounts in their currency's decimals, in SQL). A filter it cannot use was refused (400)."""
        stmt = csv_export.list_statement(
            downloads.list_rows(self), CSV_COLUMNS,
            Invoice.__table__.join(Customer.__table__, Customer.id == Invoice.customer_id))
        return downloads.csv_download(stmt, csv_export.header(CSV_COLUMNS), "invoices")

    # ---- the invoice's page ---------------------------------------------------------------------
    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        invoice = invoices.get_invoice(db.session, g.user, pk)
        customer = db.session.get(Customer, invoice.customer_id)
        may_post = permissions.may(db.session, g.user, POST_MONEY)
        views = current_app.view_functions
        draft = invoice.status == "draft"
        return self.render_template(
            "invoices/show.html", invoice=invoice, customer=customer, may_post=may_post,
            # A draft is made out to what its customer's settings say now (re-rendered until it is issued).
            draft_address=invoices.billing_address(db.session, customer, invoice) if draft else None,
            addresses=invoice_addresses.search(db.session, g.user, customer_id=customer.id)
            if draft and may_post else [],
            status=STATUS_NAMES.get(invoice.status, invoice.status), status_label=status_label,
            categories=CATEGORY_NAMES, by_rate=invoices.tax_by_rate(invoice), allocations=finances.allocations_of(db.session, invoice),
            is_open=invoice.status in OPEN_STATUSES, money=lambda amount: money.format(amount, invoice.currency),
            to_base=documents.rate_to_base(invoice),
            percent=_percent, plain=_plain, form_key=new_form_key(), next_url=return_target(),
            pdf_url=url_for("InvoiceDocumentView.pdf", pk=invoice.id) if "InvoiceDocumentView.pdf" in views else None,
            email_url=url_for("InvoiceDocumentView.email", pk=invoice.id)
            if "InvoiceDocumentView.email" in views else None,
            credit_notes=credit_notes.of_invoice(db.session, invoice),
            credit_offer=_credit_offer(customer) if draft and may_post else None,
            title=f"Invoice {invoice.number}" if invoice.number else f"Draft invoice for {customer.name}")

    # ---- new invoice, edit a draft --------------------------------------------------------------
    @expose("/new/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def new(self, customer_id):
        customer = get_customer(db.session, g.user, customer_id)
        today = date.today()
        values = {"issue_date": today.isoformat(),
                  "due_date": invoices.due_date_default(db.session, customer, today).isoformat(), "notes": ""}
        return self._draft_form(customer, None, values, [])

    @expose("/<int:pk>/edit-draft", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def edit_draft(self, pk):
        invoice = invoices.get_invoice(db.session, g.user, pk)
        customer = db.session.get(Customer, invoice.customer_id)
        if invoice.status != "draft":
            flash(f"Invoice {invoice.number} is issued: only a draft can be edited.", "warning")
            return redirect(self._back(invoice.id))
        values = {"issue_date": invoice.issue_date.isoformat(),
                  "due_date": invoice.due_date.isoformat() if invoice.due_date else "", "notes": invoice.notes or ""}
        return self._draft_form(customer, invoice, values, line_rows(invoice))

    def _draft_form(self, customer, invoice, values, rows):
        errors, key = {}, new_form_key()
        if request.method == "POST":
            key = request.form.get("form_key", "")
            values = {name: request.form.get(name, "") for name in ("issue_date", "due_date", "notes", "use_credit")}
            rows = _posted_rows(request.form)
            then_issue = request.form.get("save") == "issue"
            try:
                data = {**values, "lines": rows}
                if invoice is None:
                    saved = invoices.create_draft(db.session, g.user, customer.id, data, key, issue_now=then_issue,
                                                  use_credit=values["use_credit"])
                else:
                    saved = invoices.update_draft(db.session, g.user, invoice.id, data, key, issue_now=then_issue,
                                                  use_credit=values["use_credit"])
            except AlreadyDone as done:
                flash(done.message, "info")
                return redirect(self._back(invoice.id) if invoice else _customer_page(customer.id))
            except Invalid as e:
                db.session.rollback()
                errors = e.errors
            else:
                if then_issue:
                    flash(_issued(saved), "success")
                else:
                    flash(f"Draft invoice saved: {money.format(saved.total, saved.currency)}", "success")
                return redirect(self._back(saved.id))
        default = tax.default_rate(db.session)
        blank = {"description": "", "category": "other", "quantity": "1", "unit_price": "",
                 "tax_rate_id": str(default.id) if default else ""}
        rows = [*rows, *[blank] * BLANK_ROWS]
        return self.render_template(
            "invoices/form.html", customer=customer, invoice=invoice, values=values, rows=rows, blank=blank,
            errors=errors, row_errors=_row_errors(errors, len(rows)), form_key=key, rates=tax.rates(db.session),
            categories=[(c, CATEGORY_NAMES[c]) for c in CATEGORIES], charged=_charged_note(customer),
            fixed_percent=_fixed_percent(customer), percent=_percent, minor_units=money.minor_units(customer.currency),
            credit_offer=_credit_offer(customer), next_url=return_target(),
            cancel=return_target() or (url_for(".show", pk=invoice.id) if invoice else _customer_page(customer.id)),
            title=f"Edit draft invoice for {customer.name}" if invoice else f"New invoice for {customer.name}",
        ), 422 if errors else 200

    # ---- issue, void, delete a draft ------------------------------------------------------------
    @expose("/<int:pk>/issue", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def issue(self, pk):
        return self._issue(pk, request.form.get("form_key", ""), request.form.get("use_credit"))

    def _issue(self, pk, key, use_credit=None):
        """Issue the draft `pk`; when it cannot be issued, its errors are said on its page."""
        try:
            issued = invoices.issue(db.session, g.user, pk, key, use_credit)
        except AlreadyDone as done:
            flash(done.message, "info")
        except Invalid as e:
            db.session.rollback()
            flash(f"Not issued: {e.messages}", "danger")
        else:
            flash(_issued(issued), "success")
        return redirect(self._back(pk))

    @expose("/<int:pk>/void", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def void(self, pk):
        invoice = invoices.get_invoice(db.session, g.user, pk)
        return void_form(
            self, pk, invoice, invoices.void, "invoices/void.html", "Invoice", "reversed",
            invoice=invoice, paid=invoice.total - invoice.outstanding if invoice.status in ("part_paid", "paid")
            else Decimal(0))

    @expose("/<int:pk>/delete-draft", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def delete_draft(self, pk):
        invoice = invoices.get_invoice(db.session, g.user, pk)
        customer_id = invoice.customer_id
        try:
            invoices.delete_draft(db.session, g.user, pk)
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
            return redirect(self._back(pk))
        flash("Draft invoice deleted.", "success")
        # The draft's page is gone: back to where it was opened from, if not the draft itself.
        target = return_target()
        return redirect(target if target and f"/invoices/show/{pk}" not in target else _customer_page(customer_id))

    # ---- Disputed: its payment reminders paused -------------------------------------------------
    @expose("/<int:pk>/dispute", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def dispute(self, pk):
        """Mark the invoice disputed (disputed=1: reminders paused) or not (services/billing/reminder_steps.py)."""
        disputed = fields.boolean(request.form.get("disputed"))
        if claim_form_key(db.session, request.form.get("form_key")):
            try:
                invoice = reminder_steps.set_disputed(db.session, g.user, pk, disputed)
            except Invalid as e:
                db.session.rollback()
                flash(e.messages, "danger")
            else:
                flash(f"Invoice {invoice.number} is disputed: it is left out of payment reminders until resolved."
                      if invoice.disputed else f"Invoice {invoice.number} is no longer disputed: payment reminders "
                      "count it again.", "success")
        else:
            flash("This form was already sent.", "info")
        return redirect(self._back(pk))

    # ---- Record payment -------------------------------------------------------------------------
    @expose("/<int:pk>/pay", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def pay(self, pk):
        invoice = invoices.get_invoice(db.session, g.user, pk)
        errors, changed, key = {}, None, new_form_key()
        values = {"received_on": date.today().isoformat(), "method_id": "", "reference": "", "notes": "",
                  "amount": str(money.quantize(invoice.outstanding, invoice.currency)),
                  "seen_outstanding": str(invoice.outstanding)}
        if request.method == "POST":
            key = request.form.get("form_key", "")
            values = {name: request.form.get(name, "") for name in values}
            try:
                payment = payments.record_payment(db.session, g.user, pk, values, key)
            except AlreadyDone as done:
                flash(done.message, "info")
                return redirect(self._back(pk))
            except Invalid as e:
                db.session.rollback()
                errors = e.errors
                if payments.CHANGED in errors:  # not the amount's fault: said above the form, figures fresh
                    changed = " ".join(errors.pop(payments.CHANGED))
                    db.session.refresh(invoice)
                    values["seen_outstanding"] = str(invoice.outstanding)
            else:
                flash(_paid_message(payment, invoice), "success")
                return redirect(self._back(pk))
        if invoice.status not in OPEN_STATUSES and not changed:
            flash(f"Invoice {invoice.number or 'draft'} is {STATUS_NAMES[invoice.status].lower()}: "
                  "nothing can be paid on it.", "warning")
            return redirect(self._back(pk))
        amount = fields.decimal_number(values.get("amount"))
        credit = payments.credit_part(invoice, amount) if amount is not None else Decimal(0)
        customer = db.session.get(Customer, invoice.customer_id)
        return self.render_template(
            "invoices/pay.html", invoice=invoice, customer=customer, values=values, errors=errors, changed=changed,
            form_key=key, methods=payments.methods(db.session, fields.record_id(values["method_id"])),
            credit=credit, money=lambda value: money.format(value, invoice.currency),
            minor_units=money.minor_units(invoice.currency), next_url=return_target(),
            title=f"Record payment on invoice {invoice.number}"), 422 if errors or changed else 200

    # ---- Charge customer ------------------------------------------------------------------------
    @expose("/charge/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def charge(self, customer_id):
        customer = get_customer(db.session, g.user, customer_id)
        default = tax.default_rate(db.session)
        errors, key = {}, new_form_key()
        values = {"description": "", "amount": "", "category": "other", "issue_date": date.today().isoformat(),
                  "tax_rate_id": str(default.id) if default else "", "use_credit": ""}
        if request.method == "POST":
            key = request.form.get("form_key", "")
            values = {name: request.form.get(name, "") for name in values}
            try:
                invoice = invoices.charge(db.session, g.user, customer.id, values, key)
            except AlreadyDone as done:
                flash(done.message, "info")
                return redirect(return_target() or _customer_page(customer.id))
            except Invalid as e:
                db.session.rollback()
                errors = e.errors
            else:
                flash(_issued(invoice), "success")
                return redirect(self._back(invoice.id))
        return self.render_template(
            "invoices/charge.html", customer=customer, values=values, errors=errors, form_key=key,
            rates=tax.rates(db.session), categories=[(c, CATEGORY_NAMES[c]) for c in CATEGORIES],
            charged=_charged_note(customer), percent=_percent, next_url=return_target(),
            credit_offer=_credit_offer(customer), cancel=return_target() or _customer_page(customer.id),
            title=f"Charge {customer.name}"), 422 if errors else 200

    # ---- where a saved form goes ----------------------------------------------------------------
    def _back(self, pk) -> str:
        """The `?next=` page (a page of this app), else the invoice's page."""
        return return_target() or url_for(".show", pk=pk)


def void_form(view, pk, document, service, template: str, noun: str, done: str, **shown):
    """Void an issued document (an invoice, a credit note): GET the form with its reason; POST the
    service, then back where it was opened naming what was voided; an error next to the reason."""
    errors, reason, key = {}, "", new_form_key()
    if request.method == "POST":
        reason, key = request.form.get("reason", ""), request.form.get("form_key", "")
        try:
            voided = service(db.session, g.user, pk, reason, key)
        except AlreadyDone as already:
            flash(already.message, "info")
            return redirect(view._back(pk))
        except Invalid as e:
            db.session.rollback()
            errors = e.errors
        else:
            flash(f"{noun} {voided.number} voided: {money.format(voided.total, voided.currency)} {done}", "success")
            return redirect(view._back(pk))
    return view.render_template(
        template, customer=db.session.get(Customer, document.customer_id), errors=errors, reason=reason,
        form_key=key, money=lambda amount: money.format(amount, document.currency), next_url=return_target(),
        title=f"Void {noun.lower()} {document.number}", **shown), 422 if errors else 200


def _customer_page(customer_id) -> str:
    return url_for("CustomerView.show", pk=customer_id, tab="finances")


def line_rows(document) -> list[dict]:
    """A priced document's lines (an invoice's, a quote's) as the form's rows."""
    return [{"description": line.description, "category": line.category, "quantity": _plain(line.quantity),
             "unit_price": money.quantize(line.unit_price, document.currency),
             "tax_rate_id": str(line.tax_rate_id or "")} for line in document.lines]


def _posted_rows(form, also: tuple[str, ...] = ()) -> list[dict]:
    """The form's line rows in their order, the blank ones left out (what the service reads), each
    with the fields of an invoice line and those named in `also`."""
    found: dict[int, dict] = {}
    for name, value in form.items():
        match = _ROW_FIELD.match(name)
        if match and len(found) <= invoices.MAX_LINES + 1:
            found.setdefault(int(match.group(1)), {})[match.group(2)] = value
    rows = []
    for _, row in sorted(found.items()):
        if any((row.get(k) or "").strip() for k in ("description", "unit_price")):
            rows.append({k: row.get(k, "") for k in ("description", "category", "quantity", "unit_price",
                                                     "tax_rate_id", *also)})
    return rows


def _row_errors(errors: dict, count: int) -> list[dict]:
    """Per row, its fields' messages from the service's `lines.<i>.<field>` (`lines.<i>` for the row)."""
    rows = [{} for _ in range(count)]
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < count:
            rows[int(parts[1])].setdefault(parts[2] if len(parts) > 2 else "row", []).extend(messages)
    return rows


def _issued(invoice: Invoice) -> str:
    """The message after issuing: the number and total, and what account credit paid of it."""
    said = f"Invoice {invoice.number} issued: {money.format(invoice.total, invoice.currency)}"
    from_credit = invoice.total - invoice.outstanding
    if from_credit > 0:
        said += f"; {money.format(from_credit, invoice.currency)} paid from account credit"
    return said


def _credit_offer(customer: Customer) -> str | None:
    """The customer's account credit, formatted, when issuing should offer it (setting "ask")."""
    offer = allocation.credit_offer(db.session, customer)
    return money.format(offer, customer.currency) if offer is not None else None


def _charged_note(customer: Customer) -> str | None:
    """What the form says when the customer's own tax rule overrides each line's rate."""
    if customer.tax_exempt:
        return "This customer is tax exempt: no tax is charged, whatever rate a line names."
    if customer.tax_rate_id is not None:
        rate = db.session.get(TaxRate, customer.tax_rate_id)
        if rate is not None:
            return f"This customer pays its special rate, {rate.name} ({_percent(rate.percent)}), on every line."
    return None


def _fixed_percent(customer: Customer) -> str | None:
    """The percent every line is charged at whatever its rate (exempt: 0), for the form's preview."""
    if customer.tax_exempt:
        return "0"
    if customer.tax_rate_id is not None:
        rate = db.session.get(TaxRate, customer.tax_rate_id)
        if rate is not None:
            return _plain(rate.percent)
    return None


def _percent(value) -> str:
    return f"{_plain(value)}%" if value is not None else ""


def _plain(value: Decimal) -> str:
    """A quantity or percent without trailing zeros: 1.5, 20, never 1.5000 or 2E+1."""
    return f"{value.normalize():f}"


def _paid_message(payment: Payment, invoice: Invoice) -> str:
    said = f"Payment of {money.format(payment.amount, payment.currency)} recorded on {invoice.number}"
    if payment.unallocated > 0:  # what it did not pay on the invoice: account credit
        said += f"; {money.format(payment.unallocated, payment.currency)} became account credit"
    return said
