"""Credits (the brief's "credits"): every source of account credit in the user's scope (overpayments,
external payments, manual credits) with what is allocated and what remains; Add credit, Add external
payment, Edit balance, refund, edit (reference and notes only), apply to oldest invoices, void, CSV.

Posting needs can_post_money on this view (Finance, Admin) and the billing services check POST_MONEY
again. Every money form carries a one-time key (AlreadyDone: 409, from views/errors.py); an Invalid
shows its errors next to the fields with nothing written. Once saved, the form goes back where it
was opened (`?next=`, the customer's Finances tab), else to the customer's Finances tab.
"""
import uuid
from datetime import date

from flask import abort, flash, g, redirect, request, url_for
from markupsafe import Markup
from flask_appbuilder import expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import FilterEqual, SQLAFilterConverter
from flask_appbuilder.security.decorators import has_access, permission_name
from sqlalchemy import case, false, select
from wtforms import SelectField, StringField

from app.extensions import db
from app.models import Customer, Payment, PaymentMethod
from app.services import csv_export, fields, money, permissions
from app.services.billing import POST_MONEY, exports, payments
from app.services.errors import AlreadyDone, Invalid, NotFound
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views import downloads, formatters
from app.views.base import ConfirmedActions, ServiceModelView
from app.views.list_widget import MoneyListWidget
from app.views.datamodel import ListInterface, customer_name
from app.views.filters import ChildScopeFilter, FilterCustomerNamed, FilterTextContains, FilterValueGreater, \
    FilterValueSmaller, FilterValueEqual, _Compare
from app.views.return_to import return_target

# A source's kind as the Credits list says it (each row is credit: a payment is one that paid more
# than its invoice).
CREDIT_KINDS = {"payment": "Overpayment", "external": "External payment", "credit": "Manual credit",
                "credit_note": "Credit note"}
MAX_TICKED = 100  # a list page at most


def kind_words(value) -> str:
    return CREDIT_KINDS.get(value, value or "")


def _reference(row) -> Markup | str:
    """A credit note's reference is its number: a link to the credit note."""
    if row["kind"] == "credit_note" and row["reference"]:
        return Markup('<a class="credit-note-link" href="{}">{}</a>').format(
            url_for("CreditNoteView.of_credit", payment_id=row["id"]), row["reference"])
    return row["reference"] or ""


class FilterMoreThan(_Compare):
    name = "More than"
    arg_name = "val_gt"
    op = "__gt__"


class FilterCustomer(FilterCustomerNamed):
    """The credit's customer: its name contains the text (filters.customers_named), or it is the
    customer with that ID."""


class FilterKind(FilterEqual):
    """Kind is: one of the source kinds, never free text (another value matches nothing)."""

    def apply(self, query, value):
        if value not in CREDIT_KINDS:
            return query.filter(false())
        return query.filter(Payment.kind == value)


CREDIT_FILTERS = {
    "customer": [FilterCustomer],
    "kind": [FilterKind],
    "received_on": [FilterValueGreater, FilterValueSmaller, FilterValueEqual],
    "unallocated": [FilterMoreThan, FilterValueSmaller],
    "reference": [FilterTextContains],
}


class CreditFilterConverter(SQLAFilterConverter):
    def convert(self, col_name):
        if col_name in CREDIT_FILTERS:
            return [f(col_name, self.datamodel) for f in CREDIT_FILTERS[col_name]]
        return super().convert(col_name)


class CreditInterface(ListInterface):
    filter_converter_class = CreditFilterConverter

    def get(self, id, filters=None):
        """One credit (within `filters`: the scope) with its customer's name, as the list loads it."""
        number = fields.record_id(id)
        if number is None:
            return None
        query = self.session.query(self.obj).options(*self.eager).filter(self.pk == number)
        return (filters.apply_all(query) if filters is not None else query).one_or_none()


# The CSV's columns (header, SQL expression); text that users typed goes through csv_export.safe.
def source_columns(id_header: str, kinds: dict) -> list:
    """The CSV columns of a list of payments and credits (header, SQL expression), with `kinds`'
    words for the kind; text that users typed goes through csv_export.safe."""
    return [
        (id_header, Payment.id),
        ("Customer ID", Payment.customer_id),
        ("Customer", csv_export.safe(Customer.name)),
        ("Date", Payment.received_on),
        ("Kind", case(*((Payment.kind == k, v) for k, v in kinds.items()), else_=Payment.kind)),
        ("Amount", csv_export.amount_text(Payment.amount, Payment.currency)),
        ("Allocated", csv_export.amount_text(Payment.amount - Payment.unallocated, Payment.currency)),
        ("Remaining", csv_export.amount_text(Payment.unallocated, Payment.currency)),
        ("Currency", Payment.currency),
        ("Reference", csv_export.safe(Payment.reference)),
        ("Method", csv_export.safe(PaymentMethod.name)),
        ("Nominal code", csv_export.safe(PaymentMethod.nominal_code)),
        ("Reason", csv_export.safe(Payment.reason)),
    ]


CSV_COLUMNS = source_columns("Credit ID", CREDIT_KINDS)


def sources_csv(view, columns: list, name: str):
    """The download of a payments or credits list: its rows as the request filters and sorts them."""
    stmt = csv_export.list_statement(
        downloads.list_rows(view), columns,
        Payment.__table__.join(Customer.__table__, Customer.id == Payment.customer_id)
        .outerjoin(PaymentMethod.__table__, PaymentMethod.id == Payment.method_id))
    return downloads.csv_download(stmt, csv_export.header(columns), name)


def _money(column):
    return lambda row: formatters.money(row[column], row["currency"])


# --- the money forms ---------------------------------------------------------------------------
# Each form: its fields in order (name, label, kind, required, help). Kinds: amount, date, text,
# textarea, method. The names are the billing services' keys.
AMOUNT_HELP = "In the customer's currency ({currency})."
FORMS = {
    "add_credit": dict(
        title="Add credit", button="Add credit", service=payments.add_credit,
        fields=[("amount", "Amount", "amount", True, AMOUNT_HELP),
                ("received_on", "Credit date", "date", True, None),
                ("reason", "Reason", "text", True, "Why the customer is given this credit (a late visit, goodwill…)."),
                ("method_id", "Payment method", "method", False, "Optional."),
                ("reference", "Reference", "text", False, None),
                ("notes", "Notes", "textarea", False, None)]),
    "external": dict(
        title="Add external payment", button="Add payment", service=payments.record_external,
        fields=[("amount", "Amount", "amount", True, AMOUNT_HELP),
                ("received_on", "Date received", "date", True, None),
                ("method_id", "Payment method", "method", True, None),
                ("reference", "Reference", "text", False, None),
                ("notes", "Notes", "textarea", False, None)],
        note="Money received outside an invoice: all of it becomes account credit, to be applied to invoices."),
    "adjust": dict(
        title="Edit balance", button="Adjust balance", service=payments.adjust_balance,
        fields=[("amount", "Adjust by", "amount", True,
                 "Positive: the customer owes more. Negative (e.g. -10.00): the customer owes less."),
                ("effective_on", "Date", "date", True, None),
                ("reason", "Reason", "text", True, "Why the balance changes (an opening balance, a write-off…).")],
        note="An adjustment is added to the balance with its reason; the balance is never overwritten."),
    "refund": dict(
        title="Refund", button="Refund", service=payments.refund,
        fields=[("amount", "Amount", "amount", True, "At most what is left of this credit: {remaining}."),
                ("released_on", "Date", "date", True, None),
                ("method_id", "Paid back by", "method", True, None),
                ("reference", "Reference", "text", False, None),
                ("reason", "Reason", "text", False, None)]),
}


def _signed(amount, currency: str) -> str:
    return ("+" if amount > 0 else "−") + money.format(abs(amount), currency)


class CreditView(ConfirmedActions, ServiceModelView):
    list_widget = MoneyListWidget  # amounts right-aligned
    datamodel = CreditInterface(Payment, eager=(customer_name(Payment.customer),), sort_keys={
        "customer": select(Customer.sort_name).where(Customer.id == Payment.customer_id).scalar_subquery()})
    route_base = "/credits"
    list_title = "Credits"
    show_title = "Credit"
    edit_title = "Edit credit: reference and notes"
    list_template = "credits/list.html"
    show_template = "credits/show.html"
    base_filters = [["id", ChildScopeFilter, None], ["is_credit", FilterEqual, True]]
    base_order = ("id", "desc")
    # can_post_money: every form and action that posts money (views and the action menu); FAB's own
    # add and delete are not routes: a credit is recorded by its forms and never deleted.
    base_permissions = ["can_list", "can_show", "can_edit", "can_export", "can_post_money"]
    exclude_route_methods = {"download", "add", "delete"}
    method_permission_name = {name: "post_money" for name in (
        "add_credit", "external", "adjust", "refund", "bulk", "action_apply_to_oldest", "action_void_credit")}
    list_columns = ["customer", "received_on", "kind", "amount", "allocated", "unallocated", "reference", "method",
                    "reason"]
    order_columns = ["customer", "received_on", "kind", "amount", "unallocated", "reference"]
    show_columns = ["customer", "received_on", "kind", "amount", "allocated", "unallocated", "method", "reference",
                    "reason", "notes", "created_at"]
    edit_columns = ["reference", "notes"]
    search_columns = ["customer", "kind", "received_on", "unallocated", "reference"]
    search_form_extra_fields = {
        "customer": StringField("Customer"),
        "kind": SelectField("Kind", choices=list(CREDIT_KINDS.items())),
    }
    label_columns = {"customer": "Customer", "received_on": "Date", "kind": "Kind", "amount": "Amount",
                     "allocated": "Allocated", "unallocated": "Remaining", "reference": "Reference",
                     "method": "Method", "reason": "Reason", "notes": "Notes", "created_at": "Recorded at"}
    description_columns = {"reference": "Your reference for it (a bank reference, a receipt number).",
                           "notes": "Only the reference and the notes of a credit can change."}
    row_columns = ["currency", "id"]
    row_formatters = {"amount": _money("amount"), "allocated": _money("allocated"),
                      "unallocated": _money("unallocated"), "reference": _reference}
    formatters_columns = {"kind": kind_words, "received_on": formatters.day}
    record_noun = "Credit"

    # ---- FAB: the list's actions (answered by action_post: a confirmation first) -------------
    @action("apply_to_oldest", "Apply to oldest invoices", icon="fa-check-square-o")
    def action_apply_to_oldest(self, items):
        abort(404)

    @action("void_credit", "Void", icon="fa-ban")
    def action_void_credit(self, items):
        abort(404)

    # ---- FAB's edit: reference and notes only ----------------------------------------------------
    def update(self, pk, data):
        return payments.update_source(db.session, g.user, pk, {k: data.get(k) for k in self.edit_columns})

    def record_name(self, item) -> str:
        return f"#{item.id}"

    def saved_message(self, item, verb: str) -> str:
        return f"Credit #{item.id}: reference and notes {verb}"

    # ---- the show page: amounts in the credit's currency, Refund and Edit for who may post ------
    @expose("/show/<pk>", methods=["GET"])
    @has_access
    def show(self, pk):
        item = self.datamodel.get(pk, self._base_filters)
        if item is None:
            abort(404)
        widgets = self._show(pk)
        show = widgets["show"].template_args
        show["formatters_columns"] = {**show["formatters_columns"], **{
            column: (lambda value: formatters.money(value, item.currency)) for column in ("amount", "allocated",
                                                                                          "unallocated")}}
        show["actions"] = {}  # the actions are the list's (ticked credits, a confirmation first)
        return self.render_template(self.show_template, pk=item.id, title=self.show_title, widgets=widgets,
                                    related_views=self._related_views, may_post=self._may_post(),
                                    remaining=item.unallocated, customer_id=item.customer_id)

    def _may_post(self) -> bool:
        return self.appbuilder.sm.has_access("can_post_money", self.class_permission_name) and \
            permissions.may(db.session, g.user, POST_MONEY)

    # ---- CSV -------------------------------------------------------------------------------------
    @expose("/export.csv")
    @has_access
    def export(self):
        """The credits of the list's filter and sort, within the user's scope, as CSV (streamed;
        typed text escaped against formulas, in SQL). A filter it cannot use was refused (400)."""
        return sources_csv(self, CSV_COLUMNS, "credits")

    @expose("/payments.csv")
    @has_access
    @permission_name("export")
    def payments_export(self):
        """Every payment in the user's scope (?since=, ?until=: received on or between), credits or
        not, with its method's nominal code for the accounting package, as CSV."""
        days = downloads.dates("since", "until")
        stmt = exports.payments_statement(g.user, days["since"], days["until"])
        return downloads.csv_download(stmt, csv_export.header(exports.PAYMENT_COLUMNS), "payments")

    # ---- the money forms -------------------------------------------------------------------------
    @expose("/add-credit/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    def add_credit(self, customer_id):
        """Add credit: a manual account credit with its reason."""
        return self._customer_form("add_credit", customer_id)

    @expose("/external/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    def external(self, customer_id):
        """Add external payment: money received with no invoice, all of it account credit."""
        return self._customer_form("external", customer_id)

    @expose("/adjust/<int:customer_id>", methods=["GET", "POST"])
    @has_access
    def adjust(self, customer_id):
        """Edit balance: an adjustment (positive: the customer owes more) with its reason."""
        return self._customer_form("adjust", customer_id)

    @expose("/<int:pk>/refund", methods=["GET", "POST"])
    @has_access
    def refund(self, pk):
        """Pay back part of a credit's remaining rest (never more than it)."""
        credit = payments.get_source(db.session, g.user, pk)
        if not credit.is_credit:
            raise NotFound("No such credit.")
        customer = get_customer(db.session, g.user, credit.customer_id)
        remaining = money.format(credit.unallocated, credit.currency)
        defaults = {"amount": str(money.quantize(credit.unallocated, credit.currency))}
        back = url_for(f"{self.endpoint}.show", pk=credit.id)

        def done(release):
            return f"{money.format(release.amount, release.currency)} refunded from credit #{credit.id} of {customer.name}"
        return self._money_form("refund", customer, lambda data, key: payments.refund(db.session, g.user, credit.id,
                                                                                     data, key),
                                done, back, defaults, remaining=remaining, subject=f"credit #{credit.id}",
                                method_include=credit.method_id)

    def _customer_form(self, name: str, customer_id: int):
        customer = get_customer(db.session, g.user, customer_id)
        service = FORMS[name]["service"]
        back = url_for("CustomerView.show", pk=customer.id, tab="finances")
        messages = {
            "add_credit": lambda p: f"Credit of {money.format(p.amount, p.currency)} added to {customer.name}",
            "external": lambda p: f"External payment of {money.format(p.amount, p.currency)} recorded for {customer.name}",
            "adjust": lambda a: f"Balance of {customer.name} adjusted by {_signed(a.amount, a.currency)}"
                                f" ({'owes more' if a.amount > 0 else 'owes less'})",
        }
        return self._money_form(name, customer, lambda data, key: service(db.session, g.user, customer.id, data, key),
                                messages[name], back, {})

    def _money_form(self, name: str, customer, post, done, back: str, defaults: dict, remaining: str = "",
                    subject: str = "", method_include=None):
        """GET: the form (a fresh key, today's date); POST: the service, then back where the form was
        opened with what changed; an Invalid: the form again with its errors (422), nothing written."""
        spec = FORMS[name]
        values = {field: "" for field, *_rest in spec["fields"]}
        values.update({field: date.today().isoformat() for field, _l, kind, *_r in spec["fields"] if kind == "date"})
        values.update(defaults)
        errors, key, status = {}, new_form_key(), 200
        if request.method == "POST":
            values = {field: request.form.get(field, "") for field, *_rest in spec["fields"]}
            key = request.form.get("form_key", "")
            try:
                record = post(values, key)
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
                if set(errors) - set(values):  # an error with no field of its own: above the form
                    flash(" ".join(m for k, ms in errors.items() if k not in values for m in ms), "danger")
            else:
                flash(done(record), "success")
                return redirect(return_target() or back)
        fields_shown = [dict(name=field, label=label, kind=kind, required=required,
                             help=(help_text or "").format(currency=customer.currency, remaining=remaining))
                        for field, label, kind, required, help_text in spec["fields"]]
        return self.render_template(
            "credits/form.html", spec=spec, form_name=name, customer=customer, fields=fields_shown, values=values,
            errors=errors, form_key=key, methods=payments.methods(db.session, method_include),
            back=return_target() or back, subject=subject,
            title=f"{spec['title']}: {customer.name}" + (f", {subject}" if subject else "")), status

    # ---- bulk actions: a confirmation, then the service ------------------------------------------
    def _ticked(self, ids) -> tuple[list[Payment], int]:
        """The ticked credits the user may see (and how many of the ticked ids are not)."""
        found = []
        for value in ids[:MAX_TICKED]:
            try:
                credit = payments.get_source(db.session, g.user, value)
            except NotFound:
                continue
            if credit.is_credit:
                found.append(credit)
        return found, len(ids[:MAX_TICKED]) - len(found)

    def _confirm(self, name: str, ids, errors=None, reason: str = "", status: int = 200):
        credits, missing = self._ticked(ids)
        if not credits:
            flash("None of the ticked credits can be found.", "warning")
            return redirect(url_for(f"{self.endpoint}.list"))
        totals = {}
        for credit in credits:
            totals[credit.currency] = totals.get(credit.currency, 0) + credit.unallocated
        return self.render_template(
            "credits/confirm.html", name=name, label=self.actions[name].text, credits=credits, missing=missing,
            totals={c: money.format(t, c) for c, t in totals.items()}, errors=errors or {}, reason=reason,
            form_key=new_form_key(), kind_words=kind_words, money=formatters.money, title=self.actions[name].text,
            names={i: get_customer(db.session, g.user, i).name for i in {c.customer_id for c in credits}}), status

    @expose("/bulk/<string:name>", methods=["POST"])
    @has_access
    def bulk(self, name):
        """The confirmed action on the ticked credits."""
        if name not in self.actions:
            abort(404)
        ids = request.form.getlist("rowid")[:MAX_TICKED]
        key = request.form.get("form_key", "")
        if name == "apply_to_oldest":
            try:
                used, totals = payments.apply_to_oldest(db.session, g.user, ids, key)
            except Invalid as e:
                db.session.rollback()
                return self._confirm(name, ids, errors=e.errors, status=422)
            applied = ", ".join(money.format(t, c) for c, t in totals.items())
            if used:
                flash(f"Applied {applied} from {used} credit{'' if used == 1 else 's'} to the oldest invoices.",
                      "success")
            else:
                flash("Nothing was applied: no open invoices, or nothing left of these credits.", "warning")
            return redirect(return_target() or url_for(f"{self.endpoint}.list"))
        return self._void(ids, key, request.form.get("reason", ""))

    def _void(self, ids, key: str, reason: str):
        """Void each ticked credit's remaining rest with the reason. One key for the form: each
        credit's own is derived from it, so the form sent twice voids each credit once."""
        try:
            base = uuid.UUID(key)
        except ValueError:
            return self._confirm("void_credit", ids, errors={"form_key": ["This form has no valid key: open it again."]},
                                 reason=reason, status=400)
        credits, _missing = self._ticked(ids)
        voided, skipped, repeated, totals = 0, [], 0, {}
        for credit in credits:
            try:
                release = payments.void_credit(db.session, g.user, credit.id, reason,
                                               str(uuid.uuid5(base, str(credit.id))))
            except AlreadyDone:
                db.session.rollback()
                repeated += 1
            except Invalid as e:
                db.session.rollback()
                if "reason" in e.errors:  # the same reason for every credit: nothing was voided
                    return self._confirm("void_credit", ids, errors=e.errors, reason=reason, status=422)
                skipped.append(f"#{credit.id}")
            else:
                voided += 1
                totals[release.currency] = totals.get(release.currency, 0) + release.amount
        if repeated and not voided:
            raise AlreadyDone("These credits were already voided by this form; nothing was voided twice.")
        if voided:
            flash(f"Voided {', '.join(money.format(t, c) for c, t in totals.items())} of {voided} "
                  f"credit{'' if voided == 1 else 's'}: {reason.strip()}", "success")
        if skipped:
            flash(f"Nothing was left to void of credit {', '.join(skipped)}.", "warning")
        return redirect(return_target() or url_for(f"{self.endpoint}.list"))
