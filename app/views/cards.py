"""A customer's stored cards (services/billing/cards.py): the list (brand, •••• last four, expiry,
default), Add card, Remove, Set default and Charge a card (optionally on one of the customer's open
invoices). Linked from the Finances tab's "Cards" button; no menu entry.

Every route needs a CardView permission (Finance and Admin: app/security.py) and the services
check POST_MONEY again. The Add card form never shows the number or the CVC back: after an error
it comes back with both empty, and neither ever goes into a flash message or the session.
"""
from flask import flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access

from app.extensions import db
from app.services import money
from app.services.billing import cards, payments
from app.services.errors import Invalid
from app.services.forms import new_form_key
from app.services.scope import get_customer
from app.views.formatters import moment
from app.views.return_to import return_target

MONTHS = [(str(m), f"{m:02d}") for m in range(1, 13)]
KEPT_ON_ERROR = ("exp_month", "exp_year", "name", "make_default")  # never the number nor the CVC


def _no_store(response_and_status):
    """Card pages are never kept by a browser's or a proxy's cache."""
    body, status = response_and_status
    return body, status, {"Cache-Control": "no-store"}


class CardView(BaseView):
    route_base = "/cards"
    default_view = "list"

    def _back(self, customer_id: int) -> str:
        return return_target() or url_for(f"{self.endpoint}.list", customer_id=customer_id)

    @expose("/<int:customer_id>")
    @has_access
    def list(self, customer_id):
        """The customer's cards in use, default first, with their buttons."""
        customer = get_customer(db.session, g.user, customer_id)
        shown = cards.cards(db.session, g.user, customer.id)
        return _no_store((self.render_template(
            "cards/list.html", customer=customer, cards=shown, expired={c.id for c in shown if cards.is_expired(c)},
            pending=cards.pending_charges(db.session, g.user, customer.id), money=money, moment=moment,
            form_key=new_form_key(), title=f"Cards: {customer.name}",
            finances=url_for("CustomerView.show", pk=customer.id, tab="finances")), 200))

    @expose("/<int:customer_id>/add", methods=["GET", "POST"])
    @has_access
    def add(self, customer_id):
        """Add card: number, expiry, CVC and name go to the processor; only its token is kept."""
        customer = get_customer(db.session, g.user, customer_id)
        values, errors, key, status = {"exp_month": "", "exp_year": "", "name": ""}, {}, new_form_key(), 200
        if request.method == "POST":
            data = {name: request.form.get(name, "") for name in ("number", "exp_month", "exp_year", "cvc", "name",
                                                                   "make_default")}
            key = request.form.get("form_key", "")
            try:
                card = cards.add_card(db.session, g.user, customer.id, data, key)
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
                values = {name: data[name] for name in KEPT_ON_ERROR}
                if set(errors) - {"number", "exp_month", "exp_year", "cvc", "name"}:
                    flash(" ".join(m for k, ms in errors.items() if k not in data for m in ms), "danger")
            else:
                flash(f"{card.label} added to {customer.name}" + (" as the default card" if card.is_default else ""),
                      "success")
                return redirect(self._back(customer.id))
        return _no_store((self.render_template(
            "cards/add.html", customer=customer, values=values, errors=errors, form_key=key, months=MONTHS,
            back=self._back(customer.id), title=f"Add card: {customer.name}"), status))

    @expose("/<int:customer_id>/<int:card_id>/default", methods=["POST"])
    @has_access
    def set_default(self, customer_id, card_id):
        try:
            card = cards.set_default(db.session, g.user, customer_id, card_id, request.form.get("form_key", ""))
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        else:
            flash(f"{card.label} is the default card now", "success")
        return redirect(self._back(customer_id))

    @expose("/<int:customer_id>/<int:card_id>/remove", methods=["POST"])
    @has_access
    def remove(self, customer_id, card_id):
        try:
            card = cards.remove_card(db.session, g.user, customer_id, card_id, request.form.get("form_key", ""))
        except Invalid as e:
            db.session.rollback()
            flash(e.messages, "danger")
        else:
            flash(f"{card.label} removed: it is no longer offered (the payments it made keep its name)", "success")
        return redirect(self._back(customer_id))

    @expose("/<int:customer_id>/charges/<int:charge_id>/settle", methods=["POST"])
    @has_access
    def settle(self, customer_id, charge_id):
        """Ask the processor what became of a charge left pending, and record it."""
        charge = cards.settle(db.session, g.user, customer_id, charge_id)
        amount = money.format(charge.amount, charge.currency)
        flash(*{"recorded": (f"The charge of {amount} was approved: its payment is recorded", "success"),
                "declined": (f"The charge of {amount} was declined ({charge.decline_reason}): nothing was taken",
                             "warning"),
                "abandoned": (f"The charge of {amount} never reached the processor: nothing was taken", "warning"),
                }.get(charge.status, (f"The processor has no answer for the charge of {amount} yet", "warning")))
        return redirect(self._back(customer_id))

    @expose("/<int:customer_id>/charge", methods=["GET", "POST"])
    @has_access
    def charge(self, customer_id):
        """Charge a card: the amount, optionally on one of the customer's open invoices."""
        customer = get_customer(db.session, g.user, customer_id)
        shown = cards.cards(db.session, g.user, customer.id)
        chosen = request.values.get("card_id") or (str(shown[0].id) if shown else "")
        values = {"card_id": chosen, "amount": "", "invoice_id": request.args.get("invoice_id", "")}
        errors, key, status = {}, new_form_key(), 200
        if request.method == "POST":
            values = {name: request.form.get(name, "") for name in ("card_id", "amount", "invoice_id")}
            key = request.form.get("form_key", "")
            try:
                payment = cards.charge_card(db.session, g.user, customer.id, values["card_id"],
                                            {"amount": values["amount"], "invoice_id": values["invoice_id"]}, key)
            except Invalid as e:
                db.session.rollback()
                errors, status = e.errors, 422
            else:
                flash(f"{money.format(payment.amount, payment.currency)} charged to {payment.reference} of "
                      f"{customer.name}", "success")
                return redirect(return_target() or url_for("CustomerView.show", pk=customer.id, tab="finances",
                                                           sub="payments"))
        return _no_store((self.render_template(
            "cards/charge.html", customer=customer, cards=shown, values=values, errors=errors, form_key=key,
            invoices=payments.open_invoices(db.session, customer.id), money=money,
            back=self._back(customer.id), title=f"Charge a card: {customer.name}"), status))
