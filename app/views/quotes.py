"""Quotes: the list of every quote in the user's scope (Money > Quotes: filters, sort, search by
number or customer, CSV), the quote's page (Send, Accept, Decline, Edit, move the expiry date,
delete a draft, PDF and E-mail: views/documents.py QuoteDocumentView) and its form, which is the
invoice form (invoices/form.html with `quote_form`). A customer's quotes are also the Quotes
sub-tab of its Finances tab (views/profile.py).

A sent quote past its expiry date is listed, filtered and exported as "Expired" (computed from
today's date in SQL, never stored). FAB's add, edit and delete routes are not registered: a quote
is written only through services/billing/quotes.py.

Readable by every role that reads invoices (can_list, can_show, can_export); every route that writes carries
can_post_money (Finance, Admin), and services/billing/quotes.py checks POST_MONEY again. Each form
carries a one-time key: sent twice, its work is done once.
"""
from datetime import date, timedelta

from flask import current_app, flash, g, redirect, request, url_for
from flask_appbuilder import expose
from flask_appbuilder.fieldwidgets import Select2Widget
from flask_appbuilder.models.sqla.filters import BaseFilter, FilterEqual, SQLAFilterConverter
from flask_appbuilder.security.decorators import has_access, permission_name
from markupsafe import Markup, escape
from sqlalchemy import and_, case
from wtforms import SelectField, StringField

from app.extensions import db
from app.models import Customer, Invoice, Quote
from app.models.money import CATEGORIES
from app.models.quotes import QUOTE_STATUSES
from app.services import csv_export, money, permissions
from app.services.billing import POST_MONEY, invoices, quotes, tax
from app.services.errors import AlreadyDone, Invalid
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views import downloads, formatters
from app.views.base import ServiceModelView
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter, FilterCustomerNamed, FilterTextContains, FilterValueEqual, \
    FilterValueGreater, FilterValueSmaller
from app.views.invoices import (BLANK_ROWS, CATEGORY_NAMES, _charged_note, _customer_link, _fixed_percent,
                                _percent, _plain, _posted_rows, _row_errors, line_rows)
from app.views.list_widget import MoneyListWidget
from app.views.return_to import return_target

STATUS_NAMES = {"draft": "Draft", "sent": "Sent", "accepted": "Accepted", "declined": "Declined",
                "expired": "Expired"}
STATUS_LABELS = {"draft": "default", "sent": "primary", "accepted": "success", "declined": "danger",
                 "expired": "warning"}
VALID_DAYS = 30  # a new quote's expiry date: this many days after its date


def status_label(quote) -> Markup:
    """A quote's status as shown (a sent quote past its date: Expired), as a label."""
    value = quotes.shown_status(quote)
    return Markup(f'<span class="label label-{STATUS_LABELS.get(value, "default")} quote-status">'
                  f'{escape(STATUS_NAMES.get(value, value))}</span>')


def _customer_page(customer_id) -> str:
    return url_for("CustomerView.show", pk=customer_id, tab="finances", sub="quotes")


# Every permission on the name "QuoteView": QuoteDocumentView (views/documents.py) shares it, and
# FAB's permission update deletes from a view name what the view registered under it does not list.
PERMISSIONS = ["can_list", "can_show", "can_post_money", "can_export"]


def _expired_today():
    # The date of the app, not the database's CURRENT_DATE (their time zones may differ): as
    # quotes.is_expired decides.
    return Quote.expires_on < date.today()


class FilterQuoteStatus(BaseFilter):
    """Status is, as shown: "expired" is a sent quote past its date, "sent" one still open."""

    name = "Is"
    arg_name = "eq"

    def apply(self, query, value):
        if value == "expired":
            return query.filter(Quote.status == "sent", _expired_today())
        if value == "sent":
            return query.filter(Quote.status == "sent", ~_expired_today())
        return query.filter(Quote.status == value)


class FilterQuoteCustomer(FilterCustomerNamed):
    """Quotes of the customers whose name contains the text (filters.customers_named)."""

    name, arg_name, by_id = FilterTextContains.name, FilterTextContains.arg_name, False


QUOTE_FILTERS = {
    "number": [FilterTextContains, FilterEqual],
    "status": [FilterQuoteStatus],
    "customer": [FilterQuoteCustomer],
    "customer_id": [FilterValueEqual],
    "issue_date": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "expires_on": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "total": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
}


class QuoteFilterConverter(SQLAFilterConverter):
    def convert(self, col_name):
        if col_name in QUOTE_FILTERS:
            return [f(col_name, self.datamodel) for f in QUOTE_FILTERS[col_name]]
        return super().convert(col_name)


class QuoteInterface(ListInterface):
    filter_converter_class = QuoteFilterConverter


def _csv_columns():
    """The CSV's columns (header, SQL expression); the status as shown on today's date."""
    expired = and_(Quote.status == "sent", _expired_today())
    status = case((expired, "Expired"), *((Quote.status == k, v) for k, v in STATUS_NAMES.items()),
                  else_=Quote.status)
    return [
        ("Number", csv_export.safe(Quote.number)),
        ("Customer ID", Quote.customer_id),
        ("Customer", csv_export.safe(Customer.name)),
        ("Status", status),
        ("Issue date", Quote.issue_date),
        ("Expires on", Quote.expires_on),
        ("Currency", Quote.currency),
        ("Net", csv_export.amount_text(Quote.net_total, Quote.currency)),
        ("Tax", csv_export.amount_text(Quote.tax_total, Quote.currency)),
        ("Total", csv_export.amount_text(Quote.total, Quote.currency)),
    ]


def _number_link(row) -> Markup:
    return Markup(f'<a class="quote-link" href="{escape(url_for("QuoteView.show", pk=row["id"]))}">'
                  f'{escape(row["number"] or "Draft")}</a>')


def _status_cell(row) -> Markup:
    value = "expired" if row["status"] == "sent" and row["expires_on"] < date.today() else row["status"]
    return Markup(f'<span class="label label-{STATUS_LABELS.get(value, "default")} quote-status">'
                  f'{escape(STATUS_NAMES.get(value, value))}</span>')


class QuoteView(ServiceModelView):
    list_widget = MoneyListWidget  # amounts right-aligned
    datamodel = QuoteInterface(Quote, eager=(customer_name(Quote.customer),))
    route_base = "/quotes"
    list_title = "Quotes"
    show_title = "Quote"
    base_filters = [["id", ChildScopeFilter, None]]
    base_order = ("id", "desc")
    base_permissions = PERMISSIONS
    # Quotes are written only through the billing services: FAB's add, edit and delete are gone.
    exclude_route_methods = {"download", "add", "edit", "delete"}
    list_columns = ["number", "customer", "status", "issue_date", "expires_on", "total"]
    order_columns = ["number", "status", "issue_date", "expires_on", "total"]
    show_columns = list_columns
    search_columns = ["number", "customer", "status", "customer_id", "issue_date", "expires_on", "total"]
    label_columns = {"number": "Number", "customer": "Customer", "customer_id": "Customer ID", "status": "Status",
                     "issue_date": "Issue date", "expires_on": "Expires on", "total": "Total"}
    row_columns = ["id", "currency"]
    row_formatters = {"number": _number_link, "customer": _customer_link, "status": _status_cell,
                      "total": lambda row: formatters.money(row["total"], row["currency"])}
    formatters_columns = {"issue_date": formatters.day, "expires_on": formatters.day}
    # The customer is typed (a name): FAB's own field for a relation loads every customer.
    search_form_extra_fields = {"customer": StringField("Customer"), "status": SelectField(
        "Status", choices=[(s, STATUS_NAMES[s]) for s in QUOTE_STATUSES], widget=Select2Widget())}
    list_template = "quotes/list.html"  # FAB's list with Download CSV

    @expose("/export.csv")
    @has_access
    def export(self):
        """The quotes of the list's filter and sort as CSV (streamed, formula-safe, amounts in their
        currency's decimals). A filter it cannot use was refused (400)."""
        columns = _csv_columns()
        stmt = csv_export.list_statement(downloads.list_rows(self), columns,
                                         Quote.__table__.join(Customer.__table__, Customer.id == Quote.customer_id))
        return downloads.csv_download(stmt, csv_export.header(columns), "quotes")

    def _back(self, pk) -> str:
        return return_target() or url_for(".show", pk=pk)

    # ---- the quote's page -----------------------------------------------------------------------
    @expose("/show/<pk>")
    @has_access
    def show(self, pk):
        quote = quotes.get_quote(db.session, g.user, pk)
        customer = db.session.get(Customer, quote.customer_id)
        invoice = db.session.get(Invoice, quote.invoice_id) if quote.invoice_id else None
        return self.render_template(
            "quotes/show.html", quote=quote, customer=customer, invoice=invoice,
            may_post=permissions.may(db.session, g.user, POST_MONEY), shown=quotes.shown_status(quote),
            status_names=STATUS_NAMES, status_label=status_label, categories=CATEGORY_NAMES,
            by_rate=invoices.tax_by_rate(quote), money=lambda amount: money.format(amount, quote.currency),
            percent=_percent, plain=_plain, form_key=new_form_key(), next_url=return_target(),
            back=return_target() or _customer_page(customer.id), today=date.today().isoformat(),
            pdf_url=url_for("QuoteDocumentView.pdf", pk=quote.id)
            if "QuoteDocumentView.pdf" in current_app.view_functions else None,
            email_url=url_for("QuoteDocumentView.email", pk=quote.id)
            if "QuoteDocumentView.email" in current_app.view_functions else None,
            title=f"Quote {quote.number}" if quote.number else f"Draft quote for {customer.name}")

    # ---- new quote, edit a draft ----------------------------------------------------------------
    @expose("/new/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def new(self, customer_id):
        customer = get_customer(db.session, g.user, customer_id)
        today = date.today()
        values = {"issue_date": today.isoformat(), "expires_on": (today + timedelta(days=VALID_DAYS)).isoformat(),
                  "notes": ""}
        return self._form(customer, None, values, [])

    @expose("/<int:pk>/edit-draft", methods=["GET", "POST"])
    @has_access
    @permission_name("post_money")
    def edit_draft(self, pk):
        quote = quotes.get_quote(db.session, g.user, pk)
        customer = db.session.get(Customer, quote.customer_id)
        if quote.status != "draft":
            flash(f"Quote {quote.number} was sent: only a draft can be edited.", "warning")
            return redirect(self._back(quote.id))
        values = {"issue_date": quote.issue_date.isoformat(), "expires_on": quote.expires_on.isoformat(),
                  "notes": quote.notes or ""}
        return self._form(customer, quote, values, line_rows(quote))

    def _form(self, customer, quote, values, rows):
        errors, key = {}, new_form_key()
        if request.method == "POST":
            key = request.form.get("form_key", "")
            values = {name: request.form.get(name, "") for name in ("issue_date", "expires_on", "notes")}
            rows = _posted_rows(request.form)
            then_send = request.form.get("save") == "send"
            try:
                data = {**values, "lines": rows}
                if quote is None:
                    saved = quotes.create_draft(db.session, g.user, customer.id, data, key, send_now=then_send)
                else:
                    saved = quotes.update(db.session, g.user, quote.id, data, key, send_now=then_send)
            except AlreadyDone as done:
                flash(done.message, "info")
                return redirect(self._back(quote.id) if quote else _customer_page(customer.id))
            except Invalid as e:
                db.session.rollback()
                errors = e.errors
            else:
                said = f"Quote {saved.number} sent" if then_send else "Draft quote saved"
                flash(f"{said}: {money.format(saved.total, saved.currency)}", "success")
                return redirect(self._back(saved.id))
        default = tax.default_rate(db.session)
        blank = {"description": "", "category": "other", "quantity": "1", "unit_price": "",
                 "tax_rate_id": str(default.id) if default else ""}
        rows = [*rows, *[blank] * BLANK_ROWS]
        next_url = return_target()
        action = url_for(".edit_draft", pk=quote.id, next=next_url) if quote else \
            url_for(".new", customer_id=customer.id, next=next_url)
        return self.render_template(
            "invoices/form.html", quote_form={"action": action}, customer=customer, invoice=quote, values=values,
            rows=rows, blank=blank, errors=errors, row_errors=_row_errors(errors, len(rows)), form_key=key,
            rates=tax.rates(db.session), categories=[(c, CATEGORY_NAMES[c]) for c in CATEGORIES],
            charged=_charged_note(customer), fixed_percent=_fixed_percent(customer), percent=_percent,
            minor_units=money.minor_units(customer.currency), next_url=next_url,
            cancel=next_url or (url_for(".show", pk=quote.id) if quote else _customer_page(customer.id)),
            title=f"Edit draft quote for {customer.name}" if quote else f"New quote for {customer.name}",
        ), 422 if errors else 200

    # ---- send, accept, decline, move the expiry date, delete a draft ----------------------------
    def _act(self, pk, work, done_message):
        try:
            result = work(request.form.get("form_key", ""))
        except AlreadyDone as done:
            flash(done.message, "info")
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        else:
            flash(done_message(result), "success")
        return redirect(self._back(pk))

    @expose("/<int:pk>/send", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def send(self, pk):
        return self._act(pk, lambda key: quotes.send(db.session, g.user, pk, key),
                         lambda q: f"Quote {q.number} sent: {money.format(q.total, q.currency)}")

    @expose("/<int:pk>/accept", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def accept(self, pk):
        return self._act(pk, lambda key: quotes.accept(db.session, g.user, pk, key),
                         lambda invoice: f"Quote accepted: draft invoice for "
                                         f"{money.format(invoice.total, invoice.currency)} made from it.")

    @expose("/<int:pk>/decline", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def decline(self, pk):
        return self._act(pk, lambda key: quotes.decline(db.session, g.user, pk, key),
                         lambda q: f"Quote {q.number} declined.")

    @expose("/<int:pk>/extend", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def extend(self, pk):
        return self._act(pk, lambda key: quotes.extend(db.session, g.user, pk, request.form.get("expires_on"), key),
                         lambda q: f"Quote {q.number or ''} now expires on {q.expires_on.isoformat()}.")

    @expose("/<int:pk>/delete-draft", methods=["POST"])
    @has_access
    @permission_name("post_money")
    def delete_draft(self, pk):
        quote = quotes.get_quote(db.session, g.user, pk)
        customer_id = quote.customer_id
        try:
            quotes.delete_draft(db.session, g.user, pk)
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
            return redirect(self._back(pk))
        flash("Draft quote deleted.", "success")
        target = return_target()
        return redirect(target if target and f"/quotes/show/{pk}" not in target else _customer_page(customer_id))
