"""A customer's Allocate cash screen (issue 15), reached from its Finances tab: a payment entered here or
one of its credits, spread over its open invoices row by row ("Allocate oldest first" asks /oldest-first,
js/cash_allocation.js keeps the remainder and the excess that becomes account credit live), small
write-offs, and below the recent allocations, each with an Un-allocate button.

Thin: services/billing/allocation.py reads the screen, saves (one transaction, every row checked again
under the lock, CHANGED when another user changed a row) and un-allocates; it checks scope (another
reseller's customer: 404) and permission (POST_MONEY, WRITE_OFF) again. Who sees money reads the screen
(can_show); Finance and Admin allocate (can_edit). The form's key makes a double submit record once.

The form numbers its rows as the table shows them; only the rows with an amount go to the service, so its
errors ("rows.<k>.amount", "write_offs.<k>.reason") are named back after the form's row, and shown on the
row of that row's invoice (the table may have changed meanwhile); a row whose invoice is not on the table
has its errors said on top.
"""
from datetime import date

from flask import flash, g, jsonify, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from app.extensions import db
from app.models import Invoice
from app.services import fields, money
from app.services.billing import allocation, payments
from app.services.billing.exports import PAYMENT_KINDS
from app.services.errors import AlreadyDone, Invalid, NotFound
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.services.settings import settings
from app.views import formatters

RECENT = 20  # allocations listed below the table
PAYMENT_FIELDS = ("received_on", "method_id", "reference", "amount")


def _form_rows(form) -> list[dict]:
    """The table's rows as typed: invoice_id, amount, seen_outstanding, write_off (ticked), reason."""
    count = fields.record_id(form.get("row_count")) or 0
    return [{"invoice_id": form.get(f"rows.{i}.invoice_id", ""), "amount": form.get(f"rows.{i}.amount", "").strip(),
             "seen_outstanding": form.get(f"rows.{i}.seen_outstanding", ""),
             "write_off": bool(form.get(f"rows.{i}.write_off")), "reason": form.get(f"rows.{i}.reason", "")}
            for i in range(min(count, allocation.MAX_ROWS))]


def _service_data(form, typed: list[dict]) -> tuple[dict, dict[str, str]]:
    """What allocation.save takes, and how its row names map back to the table's ("rows.0" -> "rows.3")."""
    source = form.get("source", "new")
    data = {"allocated_on": form.get("allocated_on", ""), "rows": [], "write_offs": []}
    if source == "new":
        data.update({k: form.get(k, "") for k in PAYMENT_FIELDS})
    else:
        data.update(source_id=source, seen_unallocated=form.get(f"seen_unallocated.{source}", ""))
    back = {}
    for i, row in enumerate(typed):
        if row["amount"] != "":
            back[f"rows.{len(data['rows'])}."] = f"rows.{i}."
            data["rows"].append({k: row[k] for k in ("invoice_id", "amount", "seen_outstanding")})
        if row["write_off"]:
            back[f"write_offs.{len(data['write_offs'])}."] = f"rows.{i}.write_off_"
            data["write_offs"].append({"invoice_id": row["invoice_id"], "reason": row["reason"]})
    return data, back


def _on_table(errors: dict, back: dict[str, str]) -> dict:
    """The service's errors with each row's name turned into the table's row."""
    out = {}
    for name, messages in errors.items():
        for given, shown in back.items():
            if name.startswith(given):
                name = shown + name[len(given):]
                break
        out.setdefault(name, []).extend(messages if isinstance(messages, list) else [messages])
    return out


class CashAllocationView(BaseView):
    route_base = "/cash-allocation"
    default_view = "show"
    base_permissions = ["can_show", "can_edit"]

    def _here(self, customer_id: int) -> str:
        return url_for(f"{self.endpoint}.show", pk=customer_id)

    @expose("/<int:pk>")
    @has_access
    def show(self, pk):
        """The screen; `source` preselects one of the customer's credits."""
        return self._screen(pk)

    def _screen(self, pk, errors=None, values=None, typed=None, changed=None, key=None, status=200):
        shown = allocation.screen(db.session, g.user, pk)
        customer = shown.customer
        may_change = self.appbuilder.sm.has_access("can_edit", self.class_permission_name)
        values = values or {"received_on": date.today().isoformat(), "method_id": "", "reference": "", "amount": "",
                            "allocated_on": "", "source": request.args.get("source", "new")}
        errors, placed = dict(errors or {}), {}
        on_table = {row.id for row in shown.invoices}
        for i, row in enumerate(typed or []):  # what was typed and its errors go back to their invoice's row
            prefix, number = f"rows.{i}.", fields.record_id(row["invoice_id"])
            own = {name[len(prefix):]: errors.pop(name) for name in list(errors) if name.startswith(prefix)}
            if number in on_table and number not in placed:
                placed[number] = (row, own)
            elif own:  # a row not on the table (paid meanwhile, forged): said on top
                errors.setdefault("rows", []).extend(m for messages in own.values() for m in messages)
        rows = [(row, *placed.get(row.id, ({}, {}))) for row in shown.invoices]
        return self.render_template(
            "cash_allocation/show.html", customer=customer, shown=shown, rows=rows, values=values,
            errors=errors, changed=changed, may_change=may_change,
            may_write_off=may_change and shown.may_write_off, form_key=key or new_form_key(),
            methods=payments.methods(db.session, fields.record_id(values.get("method_id"))),
            formatters=formatters, kinds=PAYMENT_KINDS, **self._recent(customer.id),
            write_off_limit=money.format(shown.write_off_limit, settings.base_currency),
            money=lambda value: money.format(value, customer.currency),
            minor_units=money.minor_units(customer.currency),
            finances=url_for("CustomerView.show", pk=customer.id, tab="finances"),
            title=f"Allocate cash: {customer.name}"), status

    def _recent(self, customer_id: int) -> dict:
        """The recent allocations' page (?older_than=<allocation id>: the next one down) and the links
        to the page below it and back to the newest."""
        before = request.args.get("older_than")
        rows = allocation.recent(db.session, g.user, customer_id, RECENT + 1, before)
        here = {k: v for k, v in request.args.items() if k != "older_than"}
        older = (url_for(f"{self.endpoint}.show", pk=customer_id, older_than=rows[RECENT - 1]["row"].id, **here)
                 + "#recent-panel") if len(rows) > RECENT else None
        newest = url_for(f"{self.endpoint}.show", pk=customer_id, **here) + "#recent-panel" if before else None
        return {"recent": rows[:RECENT], "older_allocations": older, "newest_allocations": newest}

    @expose("/<int:pk>/oldest-first")
    @has_access
    @permission_name("edit")
    def oldest_first(self, pk):
        """JSON {"rows": {invoice id: amount}, "excess": amount} for `amount` spread oldest first; 422 with the
        errors; 404 for a customer outside the user's scope."""
        try:
            plan = allocation.oldest_first(db.session, g.user, pk, request.args.get("amount", ""))
        except NotFound as e:
            return jsonify(message=e.message), 404
        except Invalid as e:
            return jsonify(errors=e.errors), 422
        currency = get_customer(db.session, g.user, pk).currency
        return jsonify(rows={str(k): str(money.quantize(v, currency)) for k, v in plan.rows.items()},
                       excess=str(money.quantize(plan.excess, currency)))

    @expose("/<int:pk>/save", methods=["POST"])
    @has_access
    @permission_name("edit")
    def save(self, pk):
        """Save the allocation; refused: the screen again with the errors on their rows, nothing written."""
        customer = get_customer(db.session, g.user, pk)
        key = request.form.get("form_key", "")
        typed = _form_rows(request.form)
        data, back = _service_data(request.form, typed)
        try:
            saved = allocation.save(db.session, g.user, customer.id, data, key)
        except AlreadyDone as done:
            flash(done.message, "info")
            return redirect(self._here(customer.id))
        except Invalid as e:
            db.session.rollback()
            errors = _on_table(e.errors, back)
            changed = " ".join(errors.pop(allocation.CHANGED, [])) or None
            values = {k: request.form.get(k, "") for k in (*PAYMENT_FIELDS, "allocated_on", "source")}
            if changed:  # the rows' figures are shown fresh; what was typed stays for the user to check
                return self._screen(customer.id, errors, values, typed, changed, status=422)
            return self._screen(customer.id, errors, values, typed, key=key, status=422)
        flash(saved.message, "success")
        return redirect(self._here(customer.id))

    @expose("/<int:pk>/unallocate/<int:allocation_id>", methods=["POST"])
    @has_access
    @permission_name("edit")
    def unallocate(self, pk, allocation_id):
        """Reverse one allocation of this customer's; the message names its invoice and amount."""
        customer = get_customer(db.session, g.user, pk)
        if allocation.get_allocation(db.session, g.user, allocation_id).customer_id != customer.id:
            raise NotFound("No such allocation.")
        try:
            reversal = allocation.unallocate(db.session, g.user, allocation_id, request.form.get("form_key", ""))
        except AlreadyDone as done:
            flash(done.message, "info")
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        else:
            invoice = db.session.get(Invoice, reversal.invoice_id)
            flash(f"{money.format(-reversal.amount, reversal.currency)} un-allocated from invoice {invoice.number}: "
                  f"it has {money.format(invoice.outstanding, invoice.currency)} outstanding again and the "
                  "amount is account credit.", "success")
        return redirect(self._here(customer.id))
