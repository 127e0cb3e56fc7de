"""A customer's Statement screen (issue 16; Commusoft's "Send statements"), reached from its Finances tab:
choose the kind (outstanding as at a date, or activity for a period), the dates and whether to group by
contact (Yes / No, by default the customer's setting; ?by_contact=yes|no), see the statement (grouped: each
billing contact's, one after another, each with its own actions naming it in ?contact=customer|<address
id>; Print and Download with no contact: every group in one PDF), then Print (its PDF in a new tab),
Download (the same PDF as a file) or E-mail it (one group) to one of its recipients with the PDFs of the
invoices it lists.

Thin: services/billing/statement_delivery.py reads the form (Asked), builds the statements the page,
the PDF and the e-mail's words all show, and e-mails it (POST_MONEY; the form's key sends it once). Who
sees money reads and prints statements (can_show); Finance and Admin e-mail them (can_email). Another
reseller's customer is 404 (the service's scope).
"""
from dataclasses import replace

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.services import money
from app.services.billing import statement_delivery
from app.services.billing.statements import BUCKETS
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views import formatters
from app.views.documents import pdf_response


class StatementView(BaseView):
    route_base = "/statements"
    default_view = "show"
    base_permissions = ["can_show", "can_email"]

    def _asked(self):
        """What the query string asks for, or the form again with its errors (None and the errors)."""
        try:
            return statement_delivery.asked(request.args), {}
        except Invalid as e:
            return None, e.errors

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        """The form and, when it is right, the statement (grouped by contact: each group's, one after
        another) with its Print, Download and E-mail."""
        wanted, errors = self._asked()
        found = []
        if wanted is not None:
            wanted, found = statement_delivery.build(db.session, g.user, pk, request.args)
        else:
            get_customer(db.session, g.user, pk)  # another reseller's or missing: 404 before the form's errors
        values = {k: request.args.get(k, "") for k in ("kind", "as_at", "start", "end", "by_contact")}
        if wanted is not None:
            values.update(wanted.args())
        grouped = wanted is not None and wanted.grouped
        panels = [(statement, wanted.of(statement.contact).args() if grouped else wanted.args())
                  for statement in found]
        may_email = self.appbuilder.sm.has_access("can_email", self.class_permission_name)
        return self.render_template(
            "statements/show.html", panels=panels, statement=found[0] if found else None, grouped=grouped,
            not_grouped=statement_delivery.NOT_GROUPED if wanted is not None and wanted.by_contact
            and not grouped else None, values=values, errors=errors, buckets=BUCKETS,
            args=wanted.args() if wanted else {}, may_email=may_email, formatters=formatters,
            money=(lambda value: money.format(value, found[0].currency)) if found else None,
            finances=url_for("CustomerView.show", pk=pk, tab="finances"), customer_id=pk,
            title="Statement"), 422 if errors else 200

    @expose("/<int:pk>/pdf")
    @has_access
    @permission_name("show")
    def pdf(self, pk):
        """The statement's PDF: shown in the browser (Print), or as a file with ?download=1."""
        name, content = statement_delivery.pdf(db.session, g.user, pk, request.args, current_app.config)
        response = pdf_response(name, content)
        if request.args.get("download"):
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @expose("/<int:pk>/email", methods=["GET", "POST"])
    @has_access
    @permission_name("email")
    def email(self, pk):
        """E-mail the statement (grouped by contact: the one group `contact` names) to one of its recipients."""
        wanted = statement_delivery.asked(request.args)
        back = url_for(".show", pk=pk, **replace(wanted, contact=None).args())
        errors, status, values = {}, 200, None
        if request.method == "POST":  # the service builds the statement it sends; the page only when shown
            values = {"to": request.form.get("to", ""), "subject": request.form.get("subject", ""),
                      "body": request.form.get("body", ""), "invoice_ids": request.form.getlist("invoice_ids")}
            try:
                message = statement_delivery.email(db.session, g.user, pk, request.args, values,
                                                   request.form.get("form_key"), current_app.config)
            except AlreadyDone as e:
                flash(e.message, "info")
                return redirect(back)
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                if message.status == "skipped":
                    flash(f"The statement was not e-mailed to {message.recipient}: {message.skip_reason}.", "warning")
                else:
                    attached = len(values["invoice_ids"])
                    flash(f"Statement e-mailed to {message.recipient}"
                          + (f" with {attached} invoice{'' if attached == 1 else 's'}" if attached else ""), "success")
                return redirect(back)
        wanted, found = statement_delivery.build(db.session, g.user, pk, request.args)
        try:
            statement = statement_delivery.one(wanted, found)
        except Invalid as e:
            flash(e.messages, "warning")
            return redirect(back)
        recipients = [(r.label, r.address) for r in statement_delivery.recipients(db.session, statement)]
        invoices = statement_delivery.invoices_listed(db.session, statement)
        values = values or statement_delivery.email_form(db.session, statement, invoices, current_app.config)
        return self.render_template(
            "statements/email.html", statement=statement, recipients=recipients, invoices=invoices, values=values,
            errors=errors, form_key=new_form_key(), back=back, args=wanted.args(), customer_id=pk,
            money=lambda value: money.format(value, statement.currency), title="E-mail statement"), status
