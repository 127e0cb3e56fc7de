"""REST API for stored cards (/api/v1/card/): a customer's cards in the caller's scope (brand, last
four digits, expiry, name, default; never the processor's token), add one (the number and CVC go to
the processor only), make one the default, remove one, and charge one (a payment, on an open invoice
or as account credit). Finance and Admin only, as the cards page (app/security.py: Card(View|Api)).

Every write is one call to app/services/billing/cards.py with the write's `key` (the same key twice
records once: 409); a declined charge is 422 with nothing recorded. No answer, error or log line
holds the card's number or CVC.
"""
from flask import g
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import permission_name, protect

from app.extensions import db
from app.models import StoredCard
from app.services import money
from app.services.billing import cards
from app.services.errors import NotFound
from app.views.api import safe
from app.views.datamodel import ListInterface
from app.views.filters import ChildScopeFilter
from app.views.money_api import SOURCE_PERMISSIONS, MoneyApi, documented, write_key


class FilterInUse(FilterEqual):
    """Cards not removed (a removed card stays for the payments that used it)."""

    name = "In use"

    def apply(self, query, value):
        return query.filter(StoredCard.removed_at.is_(None))


class CardApi(MoneyApi):
    resource_name = "card"
    base_permissions = SOURCE_PERMISSIONS
    exclude_route_methods = {"info", "put", "delete"}
    datamodel = ListInterface(StoredCard)
    base_filters = [["id", ChildScopeFilter, None], ["removed_at", FilterInUse, None]]
    list_columns = show_columns = ["id", "customer_id", "brand", "last4", "exp_month", "exp_year", "name_on_card",
                                   "is_default", "created_at"]
    order_columns = ["id", "exp_year", "is_default"]
    search_columns = ["customer_id", "brand", "is_default"]

    def create(self, data):
        key = write_key(data)
        return cards.add_card(db.session, g.user, data.pop("customer_id", None), data, key)

    @expose("/<int:pk>/default", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Make this card its customer's default", "MoneyKey", "CardApi.get", path=True)
    def default(self, pk):
        card = self._card(pk)
        return self._write(lambda data, key: cards.set_default(db.session, g.user, card.customer_id, card.id, key))

    @expose("/<int:pk>/remove", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Take this card out of use (kept for the payments that used it)", "MoneyKey", "CardApi.get",
                path=True)
    def remove(self, pk):
        card = self._card(pk)
        return self._write(lambda data, key: cards.remove_card(db.session, g.user, card.customer_id, card.id, key))

    @expose("/<int:pk>/charge", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Charge this card: {amount, invoice_id (optional: an open invoice of the customer), key}; "
                "approved: the payment; declined: 422, nothing recorded", "MoneyKey", "CardApi.get",
                status=201, path=True)
    def charge(self, pk):
        card = self._card(pk)
        data, key = self._body()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        payment = cards.charge_card(db.session, g.user, card.customer_id, card.id, data, key)
        return self.response(201, id=payment.id, result={
            "id": payment.id, "customer_id": payment.customer_id, "kind": payment.kind,
            "amount": str(money.quantize(payment.amount, payment.currency)),
            "currency": payment.currency, "reference": payment.reference, "invoice_id": payment.invoice_id})

    def _card(self, pk) -> StoredCard:
        """The card within the caller's scope and in use (404 otherwise, as another reseller's)."""
        card = self.datamodel.get(pk, self._base_filters)
        if card is None:
            raise NotFound("No such card.")
        return card
