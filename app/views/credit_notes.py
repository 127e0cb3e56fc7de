"""Credit notes: the credit note's page (PDF in each breakdown style, E-mail, Void), its form (the
invoice form, invoices/form.html with `credit_form`: "Raise credit note" from an invoice, pre-filled
with its lines, or "Add credit note" from the customer's Finances tab), its void and e-mail forms.
A customer's credit notes are the Credit notes sub-tab of its Finances tab (views/profile.py); an
invoice's are listed on the invoice's page.

Readable by every role that reads invoices (can_show, can_pdf); every route that writes carries
can_post_money (Finance, Admin), and services/billing/credit_notes.py checks POST_MONEY again. Each
form carries a one-time key: sent twice, its work is done once.
"""
from datetime import date

from flask import current_app, flash, g, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, permission_name
from markupsafe import Markup, escape

from app.extensions import db
from app.models import Customer, Invoice, Payment
from app.models.credit_notes import BREAKDOWN_STYLES
from app.models.money import CATEGORIES
from app.services import money, permissions
from app.services.billing import POST_MONEY, credit_note_documents, credit_notes, finances, invoices, tax
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views.invoices import (BLANK_ROWS, CATEGORY_NAMES, _charged_note, _fixed_percent, _percent, _plain,
                                _posted_rows, _row_errors, line_rows, void_form)
from app.views.return_to import return_target

STATUS_NAMES = {"issued": "Issued", "void": "Void"}
STATUS_LABELS = {"issued": "success", "void": "danger"}
STYLES = [(s, credit_note_documents.STYLE_NAMES[s]) for s in BREAKDOWN_STYLES]
FIELDS = ("issue_date", "description", "breakdown_style", "notes")


def status_label(value) -> Markup:
    return Markup(f'<span class="label label-{STATUS_LABELS.get(value, "default")} credit-note-status">'
                  f'{escape(STATUS_NAMES.get(value, value))}</span>')


def _customer_page(customer_id) -> str:
    return url_for("CustomerView.show", pk=customer_id, tab="finances", sub="credit_notes")


def _said(note) -> str:
    """What the save says: the number, the total, what it paid and what became credit."""
    said = f"Credit note {note.number} issued: {money.format(note.total, note.currency)}"
    source = db.session.get(Payment, note.payment_id)
    paid = note.total - source.unallocated
    if note.invoice_id and paid > 0:
        invoice = db.session.get(Invoice, note.invoice_id)
        said += f"; {money.format(paid, note.currency)} paid on invoice {invoice.number}"
    if source.unallocated > 0:
        said += f"; {money.format(source.unallocated, note.currency)} became account credit"
    return said


class CreditNoteView(BaseView):
    route_base = "/credit-notes"
    default_view = "show"
    base_permissions = ["can_show", "can_pdf", "can_post_money"]

    def _back(self, pk) -> str:
        return return_target() or url_for(".show", pk=pk)

    # ---- the credit note's page -----------------------------------------------------------------
    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        note = credit_notes.get_credit_note(db.session, g.user, pk)
        customer = db.session.get(Customer, note.customer_id)
        source = db.session.get(Payment, note.payment_id)
        invoice = db.session.get(Invoice, note.invoice_id) if note.invoice_id else None
        return self.render_template(
            "credit_notes/show.html", note=note, customer=customer, source=source, invoice=invoice,
            allocations=credit_notes.allocations(db.session, note),
            releases=finances.refunds(db.session, [source.id]).get(source.id, []),
            may_post=permissions.may(db.session, g.user, POST_MONEY), status_label=status_label,
            categories=CATEGORY_NAMES, by_rate=invoices.tax_by_rate(note), styles=STYLES,
            money=lambda amount: money.format(amount, note.currency), percent=_percent, plain=_plain,
            back=return_target() or _customer_page(customer.id), title=f"Credit note {note.number}")

    @expose("/of-credit/<int:payment_id>")
    @has_access
    @permission_name("show")
    def of_credit(self, payment_id):
        """The credit note a credit (a Payment of kind "credit_note") comes from: the Credits list's link."""
        return redirect(url_for(".show", pk=credit_notes.of_source(db.session, g.user, payment_id).id))

    # ---- raise one: against an invoice, or the customer -----------------------------------------
    @expose("/new/invoice/<int:invoice_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def from_invoice(self, invoice_id):
        invoice = invoices.get_invoice(db.session, g.user, invoice_id)
        customer = db.session.get(Customer, invoice.customer_id)
        if invoice.status not in credit_notes.CREDITABLE:
            flash(f"Invoice {invoice.number or 'draft'} is {invoice.status}: it cannot be credited.", "warning")
            return redirect(return_target() or url_for("InvoiceView.show", pk=invoice.id))
        rows = [{**row, "invoice_line_id": str(line.id)} for row, line in zip(line_rows(invoice), invoice.lines)]
        return self._form(customer, invoice, rows)

    @expose("/new/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def new(self, customer_id):
        customer = get_customer(db.session, g.user, customer_id)
        return self._form(customer, None, [])

    def _form(self, customer, invoice, rows):
        errors, key = {}, new_form_key()
        values = {"issue_date": date.today().isoformat(), "description": "", "notes": "",
                  "breakdown_style": credit_notes.default_style(db.session)}
        if request.method == "POST":
            key = request.form.get("form_key", "")
            values = {name: request.form.get(name, "") for name in FIELDS}
            rows = _posted_rows(request.form, also=("invoice_line_id",))
            data = {"credit_date": values["issue_date"], "description": values["description"],
                    "notes": values["notes"], "breakdown_style": values["breakdown_style"], "lines": rows}
            try:
                note = credit_notes.create(db.session, g.user, data, key, customer_id=customer.id,
                                           invoice_id=invoice.id if invoice else None)
            except AlreadyDone as done:
                flash(done.message, "info")
                return redirect(return_target() or _customer_page(customer.id))
            except Invalid as e:
                db.session.rollback()
                errors = e.errors
                if invoice is not None:
                    db.session.refresh(invoice)
            else:
                flash(_said(note), "success")
                return redirect(url_for(".show", pk=note.id, next=return_target()))
        default = tax.default_rate(db.session)
        blank = {"description": "", "category": "other", "quantity": "1", "unit_price": "",
                 "tax_rate_id": str(default.id) if default else ""}
        rows = [*rows, *[blank] * BLANK_ROWS]
        next_url = return_target()
        action = url_for(".from_invoice", invoice_id=invoice.id, next=next_url) if invoice else \
            url_for(".new", customer_id=customer.id, next=next_url)
        credit_form = {"action": action, "invoice": invoice, "styles": STYLES,
                       "placed": ["description", "breakdown_style", "total"],
                       "left": credit_notes.left_to_credit(db.session, invoice) if invoice else None,
                       "money": lambda amount: money.format(amount, customer.currency)}
        title = f"Raise credit note on invoice {invoice.number}" if invoice else f"Add credit note for {customer.name}"
        return self.render_template(
            "invoices/form.html", credit_form=credit_form, customer=customer, invoice=None, values=values,
            rows=rows, blank=blank, errors=errors, row_errors=_row_errors(errors, len(rows)), form_key=key,
            rates=tax.rates(db.session), categories=[(c, CATEGORY_NAMES[c]) for c in CATEGORIES],
            charged=_charged_note(customer), fixed_percent=_fixed_percent(customer), percent=_percent,
            minor_units=money.minor_units(customer.currency), next_url=next_url,
            cancel=next_url or (url_for("InvoiceView.show", pk=invoice.id) if invoice else
                                _customer_page(customer.id)),
            title=title), 422 if errors else 200

    # ---- void -----------------------------------------------------------------------------------
    @expose("/<int:pk>/void", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def void(self, pk):
        note = credit_notes.get_credit_note(db.session, g.user, pk)
        return void_form(self, pk, note, credit_notes.void, "credit_notes/void.html", "Credit note", "taken back",
                         note=note)

    # ---- its PDF and e-mail ---------------------------------------------------------------------
    @expose("/<int:pk>/pdf")
    @has_access
    @permission_name("pdf")
    def pdf(self, pk):
        filename, content = credit_note_documents.credit_note_pdf(db.session, g.user, pk, current_app.config,
                                                                  request.args.get("style"))
        response = make_response(content)
        response.headers["Content-Type"] = credit_note_documents.PDF_TYPE
        response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
        response.headers["Cache-Control"] = "private, no-store"  # money: never kept by a shared cache
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @expose("/<int:pk>/email", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def email(self, pk):
        note = credit_notes.get_credit_note(db.session, g.user, pk)
        recipients = credit_note_documents.email_recipients(db.session, g.user, pk)
        values = credit_note_documents.email_defaults(db.session, note, current_app.config)
        values["to"] = recipients[0][1] if recipients else ""
        errors, status = {}, 200
        if request.method == "POST":
            values = {name: request.form.get(name, "") for name in ("to", "subject", "body")}
            try:
                message = credit_note_documents.email_credit_note(db.session, g.user, pk, values,
                                                                  request.form.get("form_key"), current_app.config)
            except AlreadyDone as e:
                flash(e.message, "info")
                return redirect(self._back(pk))
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                if message.status == "skipped":
                    flash(f"Credit note {note.number} was not e-mailed to {message.recipient}: "
                          f"{message.skip_reason}.", "warning")
                else:
                    flash(f"Credit note {note.number} e-mailed to {message.recipient}", "success")
                return redirect(self._back(pk))
        return self.render_template(
            "invoices/email.html", invoice=note, kind="credit note", pdf_url=url_for(f"{self.endpoint}.pdf", pk=note.id),
            recipients=recipients, values=values, errors=errors,
            form_key=new_form_key(), back=self._back(pk), title=f"E-mail credit note {note.number}"), status
