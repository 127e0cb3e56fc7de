"""An invoice's and a quote's documents: the PDF, and the form that e-mails it
(services/billing/documents.py, one machinery for both kinds).

The routes live under /invoices beside InvoiceView, and their permissions are InvoiceView's
(class_permission_name): can_pdf for the PDF (every role that sees invoices), can_post_money to
e-mail one. base_permissions names all of InvoiceView's permissions: FAB's permission update
(add_permissions_view) deletes from a view name whatever permission the view registered under it
does not list, and two views share this name. QuoteDocumentView is the same under /quotes on
QuoteView's permissions: can_show for the PDF (who may open the quote), can_post_money to e-mail it
(a draft quote e-mailed is sent by it).
"""
from flask import current_app, flash, g, make_response, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from werkzeug.routing import BuildError

from app.extensions import db
from app.services.billing import documents
from app.services.billing import quotes
from app.services.billing.invoices import get_invoice
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import new_form_key
from app.views.invoices import PERMISSIONS
from app.views.quotes import PERMISSIONS as QUOTE_PERMISSIONS


def pdf_response(filename: str, content: bytes):
    """A PDF shown inline, never kept by a shared cache (money)."""
    response = make_response(content)
    response.headers["Content-Type"] = documents.PDF_TYPE
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class InvoiceDocumentView(BaseView):
    route_base = "/invoices"
    class_permission_name = "InvoiceView"
    base_permissions = PERMISSIONS
    default_view = "pdf"

    @expose("/<int:pk>/pdf")
    @has_access
    @permission_name("pdf")
    def pdf(self, pk):
        return pdf_response(*documents.invoice_pdf(db.session, g.user, pk, current_app.config))

    @expose("/<int:pk>/email", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def email(self, pk):
        invoice = get_invoice(db.session, g.user, pk)
        recipients = documents.email_recipients(db.session, g.user, pk)
        values = documents.email_defaults(db.session, invoice, current_app.config) if invoice.number else {}
        values["to"] = recipients[0][1] if recipients else ""
        errors: dict = {}
        status = 200
        if request.method == "POST":
            values = {key: request.form.get(key, "") for key in ("to", "subject", "body")}
            try:
                message = documents.email_invoice(db.session, g.user, pk, values, request.form.get("form_key"),
                                                  current_app.config)
            except AlreadyDone as e:
                flash(e.message, "info")
                return redirect(self._back(invoice))
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                if message.status == "skipped":
                    flash(f"Invoice {invoice.number} was not e-mailed to {message.recipient}: "
                          f"{message.skip_reason}.", "warning")
                else:
                    flash(f"Invoice {invoice.number} e-mailed to {message.recipient}", "success")
                return redirect(self._back(invoice))
        return self.render_template(
            "invoices/email.html", invoice=invoice, recipients=recipients, values=values, errors=errors,
            form_key=new_form_key(), back=self._back(invoice), title=f"E-mail invoice {invoice.number or ''}"), status

    @staticmethod
    def _back(invoice) -> str:
        """The invoice's page, where there is one; else its customer's Finances."""
        try:
            return url_for("InvoiceView.show", pk=invoice.id)
        except BuildError:
            return url_for("CustomerView.show", pk=invoice.customer_id)


class QuoteDocumentView(BaseView):
    route_base = "/quotes"
    class_permission_name = "QuoteView"
    base_permissions = QUOTE_PERMISSIONS
    default_view = "pdf"

    @expose("/<int:pk>/pdf")
    @has_access
    @permission_name("show")
    def pdf(self, pk):
        return pdf_response(*documents.quote_pdf(db.session, g.user, pk, current_app.config))

    @expose("/<int:pk>/email", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def email(self, pk):
        quote = quotes.get_quote(db.session, g.user, pk)
        recipients = documents.email_recipients(db.session, g.user, pk, documents.QUOTE)
        values = documents.email_defaults(db.session, quote, current_app.config, documents.QUOTE)
        values["to"] = recipients[0][1] if recipients else ""
        errors: dict = {}
        status = 200
        back = url_for("QuoteView.show", pk=quote.id)
        if request.method == "POST":
            values = {key: request.form.get(key, "") for key in ("to", "subject", "body")}
            was_draft = quote.status == "draft"
            try:
                message = documents.email_quote(db.session, g.user, pk, values, request.form.get("form_key"),
                                                current_app.config)
            except AlreadyDone as e:
                flash(e.message, "info")
                return redirect(back)
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                sent = f"Quote {quote.number} sent" if was_draft else f"Quote {quote.number}"
                if message.status == "skipped":
                    flash(f"{sent}{';' if was_draft else ''} not e-mailed to {message.recipient}: "
                          f"{message.skip_reason}.", "warning")
                else:
                    flash(f"{sent}{' and' if was_draft else ''} e-mailed to {message.recipient}", "success")
                return redirect(back)
        try:
            documents.QUOTE.mailable(quote)
            refusal = None
        except Invalid as e:
            refusal = e.messages
        return self.render_template(
            "invoices/email.html", invoice=quote, kind="quote", refusal=refusal, recipients=recipients,
            values=values, errors=errors, form_key=new_form_key(), back=back,
            pdf_url=url_for(".pdf", pk=quote.id), title=f"E-mail quote {quote.number or ''}"), status
