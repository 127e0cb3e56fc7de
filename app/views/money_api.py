"""REST API for money: invoices (/api/v1/invoice/), payments (/api/v1/payment/), account credit
(/api/v1/credit/) and quotes (/api/v1/quote/).

Reading is for every role that sees customers, within its scope (ChildScopeFilter, as the other
customer-owned APIs: another reseller's id answers 404, as a missing one). Amounts are strings
with their currency's decimals ("12.50", "1201", "1.206"), never floats.

Every write is one billing service call (app/services/billing/): the service checks POST_MONEY
(Finance, Admin), the scope, the fields (422 with field errors: "lines.0.unit_price", a currency
other than the customer's) and claims the write's key. Each write carries `key`, a UUID new for
each write: the same key twice answers 409 and records once. The typed errors go on to
app/views/errors.py, as for every API.

Permissions: FAB's, on InvoiceApi, QuoteApi and CreditApi (app/security.py: their patterns). PaymentApi
shares CreditApi's (class_permission_name): a payment is a source of account credit, and the
roles' patterns name Invoice and Credit only.
"""
import json
import uuid

from flask import g, request
from flask_appbuilder.api import expose
from flask_appbuilder.models.sqla.filters import FilterEqual
from flask_appbuilder.security.decorators import permission_name, protect
from marshmallow import Schema, fields

from app.extensions import db
from app.models import Invoice, InvoiceLine, Payment, Quote
from app.models.money import CATEGORIES
from app.services import money
from app.services.billing import invoices, payments, quotes
from app.models import CreditNote, CreditNoteLine
from app.services.billing import credit_notes
from app.services.errors import Invalid
from app.views.api import AMOUNTS, Amount, MoneyConverter, ServiceApi, safe
from app.views.datamodel import ListInterface
from app.views.filters import ChildScopeFilter

KEY_MESSAGE = "Send a key: a UUID, new for each write (the same key again records once)."
# Every route but FAB's _info (these APIs describe themselves in the OpenAPI document).
PERMISSIONS = ["can_get", "can_post", "can_put", "can_delete"]
# Payments and credits are never changed nor deleted through the API (a refund, a void instead).
# PaymentApi and CreditApi share one permission view: their permissions must be the same list,
# or FAB's permission update would take one's from the other each time.
SOURCE_PERMISSIONS = ["can_get", "can_post"]
SOURCE_ROUTES_LEFT_OUT = {"info", "put", "delete"}


def write_key(data: dict) -> str:
    """The write's key (popped from `data`); Invalid on field `key` when missing or not a UUID."""
    value = data.pop("key", None)
    try:
        return str(uuid.UUID(value))
    except (TypeError, ValueError, AttributeError):  # not a string, or not a UUID
        raise Invalid({"key": KEY_MESSAGE}) from None


# ---- what the writes take (the OpenAPI document's request bodies) ----------------------------
class MoneyKey(Schema):
    key = fields.UUID(required=True, metadata={"description": KEY_MESSAGE})


class InvoiceLineIn(Schema):
    description = fields.String(required=True)
    category = fields.String(metadata={"enum": list(CATEGORIES)})
    quantity = fields.String(metadata={"description": "Above 0, at most 4 decimals; 1 when left out."})
    unit_price = fields.String(required=True, metadata={"description": "In the customer's currency."})
    tax_rate_id = fields.Integer(allow_none=True, metadata={"description": "Left out: the default rate."})


class InvoiceDraftIn(MoneyKey):
    customer_id = fields.Integer(required=True)
    currency = fields.String(metadata={"description": "If sent, it must be the customer's."})
    issue_date = fields.Date()
    due_date = fields.Date(metadata={"description": "Left out: from the customer's creditor days."})
    notes = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineIn))


class InvoiceDraftChange(MoneyKey):
    issue_date = fields.Date()
    due_date = fields.Date()
    notes = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineIn), metadata={"description": "Sent: replaces every line."})


class IssueIn(MoneyKey):
    use_credit = fields.Boolean(metadata={"description": "When the customer's setting is \"ask\": true pays the "
                                                        "invoice from its account credit."})


class ReasonIn(MoneyKey):
    reason = fields.String(required=True)


class PaymentIn(MoneyKey):
    invoice_id = fields.Integer(required=True)
    amount = fields.String(required=True, metadata={"description": "What it does not pay becomes account credit."})
    currency = fields.String()
    received_on = fields.Date()
    method_id = fields.Integer(required=True)
    reference = fields.String()
    notes = fields.String()
    seen_outstanding = fields.String(metadata={"description": "The outstanding the client showed: "
                                                              "a different one now is a 422, nothing recorded."})


class ExternalPaymentIn(MoneyKey):
    customer_id = fields.Integer(required=True)
    amount = fields.String(required=True)
    currency = fields.String()
    received_on = fields.Date()
    method_id = fields.Integer(required=True)
    reference = fields.String()
    notes = fields.String()


class CreditIn(ExternalPaymentIn):
    method_id = fields.Integer()
    reason = fields.String(required=True)


class RefundIn(MoneyKey):
    amount = fields.String(required=True, metadata={"description": "At most the credit's unallocated rest."})
    currency = fields.String()
    released_on = fields.Date()
    method_id = fields.Integer(required=True)
    reference = fields.String()
    reason = fields.String()


class ApplyIn(MoneyKey):
    ids = fields.List(fields.Integer(), required=True,
                      metadata={"description": "Payments or credits whose rest pays their customer's oldest invoices."})


class AdjustmentIn(MoneyKey):
    customer_id = fields.Integer(required=True)
    amount = fields.String(required=True, metadata={"description": "Added to what the customer owes (negative: less)."})
    currency = fields.String()
    effective_on = fields.Date()
    reason = fields.String(required=True)


class AllocateIn(MoneyKey):
    invoice_id = fields.Integer(required=True, metadata={"description": "An open invoice of the same customer."})
    amount = fields.String(required=True, metadata={"description": "At most the invoice's outstanding and the "
                                                                   "payment's unallocated rest."})
    allocated_on = fields.Date(metadata={"description": "The date it counts from (default: today)."})


class SourceEditIn(Schema):
    reference = fields.String()
    notes = fields.String()


class AllocationOut(Schema):
    id = fields.Integer()
    payment_id = fields.Integer()
    invoice_id = fields.Integer()
    customer_id = fields.Integer()
    amount = Amount()
    currency = fields.String()
    allocated_on = fields.Date()


class ReleaseOut(Schema):
    id = fields.Integer()
    payment_id = fields.Integer()
    customer_id = fields.Integer()
    kind = fields.String()
    amount = Amount()
    currency = fields.String()
    released_on = fields.Date()
    reason = fields.String()


class AdjustmentOut(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    amount = Amount()
    currency = fields.String()
    effective_on = fields.Date()
    reason = fields.String()


class AppliedOut(Schema):
    used = fields.Integer(metadata={"description": "How many payments or credits paid something."})
    applied = fields.Dict(keys=fields.String(), values=fields.String(),
                          metadata={"description": "The amount applied per currency."})


def _doc(summary: str, body: str | None, answer: str, status: int = 200, path: bool = False) -> str:
    """The OpenAPI operation of a POST route (apispec reads it from the docstring)."""
    lines = [summary, "---", "post:", f"  summary: {json.dumps(summary)}"]
    if path:
        lines += ["  parameters:", "  - in: path", "    name: pk", "    required: true",
                  "    schema:", "      type: integer"]
    if body:
        lines += ["  requestBody:", "    required: true", "    content:", "      application/json:",
                  "        schema:", f"          $ref: '#/components/schemas/{body}'"]
    lines += ["  responses:", f"    {status}:", "      description: Done", "      content:",
              "        application/json:", "          schema:", "            type: object",
              "            properties:", "              id:", "                type: integer",
              "              result:", f"                $ref: '#/components/schemas/{answer}'"]
    for code, ref in (("400", "400"), ("401", "401"), ("403", "403"), ("404", "404"), ("422", "422")):
        lines += [f"    {code}:", f"      $ref: '#/components/responses/{ref}'"]
    lines += ["    409:", "      description: The same key was sent before; it was recorded once."]
    return "\n".join(lines)


def documented(summary: str, body: str | None, answer: str, status: int = 200, path: bool = False):
    def decorate(f):
        f.__doc__ = _doc(summary, body, answer, status, path)
        return f
    return decorate


class MoneyApi(ServiceApi):
    """What the money APIs share: amounts as strings, a key on every write, no _info route."""

    model2schemaconverter = MoneyConverter
    base_permissions = PERMISSIONS
    exclude_route_methods = {"info"}
    base_order = ("id", "desc")

    def _body(self) -> tuple[dict, str]:
        """The JSON object sent and its key (Invalid on `key`); a body that is not an object: 400."""
        data = self._json_object()
        if data is None:
            return None, None
        return data, write_key(data)

    def _write(self, call, status=200, schema=None):
        """Run `call(data, key)` on the body; answer the record it returns."""
        data, key = self._body()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        item = call(data, key)
        if schema is not None:
            return self.response(status, id=getattr(item, "id", None), result=schema.dump(item))
        return self._answer(item, status=status)


class InvoiceApi(MoneyApi):
    """Invoices in the caller's scope with their lines; drafts written, issued, voided, deleted."""

    resource_name = "invoice"
    datamodel = ListInterface(Invoice)
    base_filters = [["id", ChildScopeFilter, None]]
    list_columns = ["id", "customer_id", "number", "status", "currency", "issue_date", "due_date", "net_total",
                    "tax_total", "total", "outstanding", "issued_at", "voided_at", "void_reason"]
    show_columns = list_columns + ["notes", "billing_address", "lines.id", "lines.position", "lines.description",
                                   "lines.category", "lines.quantity", "lines.unit_price", "lines.tax_rate_id",
                                   "lines.tax_name", "lines.tax_percent", "lines.net", "lines.tax"]
    order_columns = ["id", "number", "issue_date", "due_date", "total", "outstanding", "status"]
    search_columns = ["customer_id", "number", "status", "issue_date", "due_date"]
    add_model_schema = InvoiceDraftIn()
    edit_model_schema = InvoiceDraftChange()
    openapi_spec_component_schemas = (MoneyKey, IssueIn, ReasonIn)

    def create(self, data):
        key = write_key(data)
        return invoices.create_draft(db.session, g.user, data.pop("customer_id", None), data, key)

    def update(self, pk, data):
        key = write_key(data)
        return invoices.update_draft(db.session, g.user, pk, data, key)

    def remove(self, pk):
        invoices.delete_draft(db.session, g.user, pk)

    @expose("/<int:pk>/issue", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Issue a draft invoice: its number, billing address and ledger posting",
                "IssueIn", "InvoiceApi.get", path=True)
    def issue(self, pk):
        return self._write(lambda data, key: invoices.issue(db.session, g.user, pk, key, data.get("use_credit")))

    @expose("/<int:pk>/void", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Void an issued invoice, with a reason: what was paid on it becomes account credit",
                "ReasonIn", "InvoiceApi.get", path=True)
    def void(self, pk):
        return self._write(lambda data, key: invoices.void(db.session, g.user, pk, data.get("reason"), key))


class PaymentApi(MoneyApi):
    """Every payment and credit in the caller's scope (what is allocated, what remains); a payment
    recorded on an invoice, an external payment (no invoice: all account credit)."""

    resource_name = "payment"
    class_permission_name = "CreditApi"
    base_permissions = SOURCE_PERMISSIONS
    exclude_route_methods = SOURCE_ROUTES_LEFT_OUT
    datamodel = ListInterface(Payment)
    base_filters = [["id", ChildScopeFilter, None]]
    list_columns = ["id", "customer_id", "kind", "currency", "amount", "allocated", "unallocated", "is_credit",
                    "received_on", "method_id", "method.name", "reference", "notes", "reason", "invoice_id",
                    "created_at"]
    show_columns = list_columns
    order_columns = ["id", "received_on", "amount", "unallocated"]
    search_columns = ["customer_id", "kind", "invoice_id", "received_on", "reference", "is_credit"]
    add_model_schema = PaymentIn()
    edit_model_schema = PaymentIn()
    openapi_spec_component_schemas = (ExternalPaymentIn, AllocateIn, AllocationOut, SourceEditIn)

    def create(self, data):
        key = write_key(data)
        return payments.record_payment(db.session, g.user, data.pop("invoice_id", None), data, key)

    @expose("/external", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Record an external payment (no invoice): all of it is account credit",
                "ExternalPaymentIn", "PaymentApi.get", status=201)
    def external(self):
        return self._write(lambda data, key: payments.record_external(
            db.session, g.user, data.pop("customer_id", None), data, key), status=201)

    @expose("/<int:pk>/allocate", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Pay an amount of one open invoice of the same customer from this payment's or credit's "
                "unallocated rest", "AllocateIn", "AllocationOut", status=201, path=True)
    def allocate(self, pk):
        def call(data, key):
            return payments.allocate(db.session, g.user, pk, data.get("invoice_id"), data.get("amount"), key,
                                     data.get("allocated_on"))
        return self._write(call, status=201, schema=AllocationOut())

    @expose("/<int:pk>/details", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Change a payment's or credit's reference and notes (nothing else of it ever changes)",
                "SourceEditIn", "PaymentApi.get", path=True)
    def details(self, pk):
        data = self._json_object()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        return self._answer(payments.update_source(db.session, g.user, pk, data))


class CreditApi(MoneyApi):
    """Account credit in the caller's scope (overpayments, external payments, manual credits); a
    manual credit, a refund, a void, applying credit to the oldest invoices, a balance adjustment."""

    resource_name = "credit"
    base_permissions = SOURCE_PERMISSIONS
    exclude_route_methods = SOURCE_ROUTES_LEFT_OUT
    datamodel = ListInterface(Payment)
    base_filters = [["id", ChildScopeFilter, None], ["is_credit", FilterEqual, True]]
    list_columns = PaymentApi.list_columns
    show_columns = list_columns
    order_columns = PaymentApi.order_columns
    search_columns = PaymentApi.search_columns
    add_model_schema = CreditIn()
    edit_model_schema = CreditIn()
    openapi_spec_component_schemas = (RefundIn, ReasonIn, ApplyIn, AdjustmentIn, ReleaseOut, AdjustmentOut,
                                      AppliedOut)

    def create(self, data):
        key = write_key(data)
        return payments.add_credit(db.session, g.user, data.pop("customer_id", None), data, key)

    @expose("/<int:pk>/refund", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Refund part of a payment's or credit's unallocated rest", "RefundIn", "ReleaseOut",
                status=201, path=True)
    def refund(self, pk):
        return self._write(lambda data, key: payments.refund(db.session, g.user, pk, data, key),
                           status=201, schema=ReleaseOut())

    @expose("/<int:pk>/void", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Void what is left of a credit, with a reason", "ReasonIn", "ReleaseOut", status=201, path=True)
    def void(self, pk):
        return self._write(lambda data, key: payments.void_credit(db.session, g.user, pk, data.get("reason"), key),
                           status=201, schema=ReleaseOut())

    @expose("/apply", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Apply credits to their customers' oldest open invoices", "ApplyIn", "AppliedOut")
    def apply(self):
        data, key = self._body()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        ids = data.get("ids")
        if not isinstance(ids, list) or not ids:
            raise Invalid({"ids": "Send the ids of the payments or credits to apply, as a list."})
        used, totals = payments.apply_to_oldest(db.session, g.user, ids, key)
        return self.response(200, result=AppliedOut().dump(
            {"used": used, "applied": {c: str(money.quantize(a, c)) for c, a in totals.items()}}))

    @expose("/adjustment", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Adjust a customer's balance (Edit balance): an amount with a reason, never an overwrite",
                "AdjustmentIn", "AdjustmentOut", status=201)
    def adjustment(self):
        return self._write(lambda data, key: payments.adjust_balance(
            db.session, g.user, data.pop("customer_id", None), data, key), status=201, schema=AdjustmentOut())


# ---- quotes ----------------------------------------------------------------------------------
class QuoteDraftIn(MoneyKey):
    customer_id = fields.Integer(required=True)
    currency = fields.String(metadata={"description": "If sent, it must be the customer's."})
    issue_date = fields.Date()
    expires_on = fields.Date(required=True)
    notes = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineIn))


class QuoteDraftChange(MoneyKey):
    issue_date = fields.Date()
    expires_on = fields.Date()
    notes = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineIn), metadata={"description": "Sent: replaces every line."})


class ExtendIn(MoneyKey):
    expires_on = fields.Date(required=True, metadata={"description": "Today or later (an expired quote can then "
                                                                     "be accepted)."})


class AcceptedOut(Schema):
    invoice_id = fields.Integer(metadata={"description": "The draft invoice the quote became (the same one "
                                                         "however often it is accepted)."})


class QuoteApi(MoneyApi):
    """Quotes in the caller's scope with their lines; drafts written and deleted, sent, accepted
    (into one draft invoice), declined, their expiry date moved. A quote posts nothing."""

    resource_name = "quote"
    datamodel = ListInterface(Quote)
    base_filters = [["id", ChildScopeFilter, None]]
    list_columns = ["id", "customer_id", "number", "status", "currency", "issue_date", "expires_on", "net_total",
                    "tax_total", "total", "invoice_id", "created_at"]
    show_columns = list_columns + ["notes", "lines.id", "lines.position", "lines.description", "lines.category",
                                   "lines.quantity", "lines.unit_price", "lines.tax_rate_id", "lines.tax_name",
                                   "lines.tax_percent", "lines.net", "lines.tax"]
    order_columns = ["id", "number", "issue_date", "expires_on", "total", "status"]
    search_columns = ["customer_id", "number", "status", "issue_date", "expires_on", "invoice_id"]
    add_model_schema = QuoteDraftIn()
    edit_model_schema = QuoteDraftChange()
    openapi_spec_component_schemas = (MoneyKey, ExtendIn, AcceptedOut)

    def create(self, data):
        key = write_key(data)
        return quotes.create_draft(db.session, g.user, data.pop("customer_id", None), data, key)

    def update(self, pk, data):
        key = write_key(data)
        return quotes.update(db.session, g.user, pk, data, key)

    def remove(self, pk):
        quotes.delete_draft(db.session, g.user, pk)

    @expose("/<int:pk>/send", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Send a draft quote: its number, status sent", "MoneyKey", "QuoteApi.get", path=True)
    def send(self, pk):
        return self._write(lambda data, key: quotes.send(db.session, g.user, pk, key))

    @expose("/<int:pk>/accept", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("The customer accepted a sent quote: a draft invoice with its lines (accepting it again "
                "answers the same invoice)", "MoneyKey", "AcceptedOut", path=True)
    def accept(self, pk):
        data, key = self._body()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        invoice = quotes.accept(db.session, g.user, pk, key)
        return self.response(200, id=pk, result=AcceptedOut().dump({"invoice_id": invoice.id}))

    @expose("/<int:pk>/decline", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("The customer declined a sent quote", "MoneyKey", "QuoteApi.get", path=True)
    def decline(self, pk):
        return self._write(lambda data, key: quotes.decline(db.session, g.user, pk, key))

    @expose("/<int:pk>/extend", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Move a draft's or sent quote's expiry date", "ExtendIn", "QuoteApi.get", path=True)
    def extend(self, pk):
        return self._write(lambda data, key: quotes.extend(db.session, g.user, pk, data.get("expires_on"), key))


# ---- credit notes (/api/v1/credit_note/) --------------------------------------------------------
class CreditNoteLineIn(InvoiceLineIn):
    invoice_line_id = fields.Integer(allow_none=True, metadata={"description": "The invoice's line it credits."})


class CreditNoteIn(MoneyKey):
    invoice_id = fields.Integer(metadata={"description": "Against this invoice (its outstanding is paid first); "
                                                         "left out: against customer_id, all account credit."})
    customer_id = fields.Integer()
    currency = fields.String(metadata={"description": "If sent, it must be the customer's."})
    credit_date = fields.Date(metadata={"description": "Left out: today."})
    description = fields.String(required=True, metadata={"description": 'Short, e.g. "Labour reduction".'})
    notes = fields.String(metadata={"description": "Shown on the credit note."})
    breakdown_style = fields.String(metadata={"enum": ["none", "category", "full", "full_category"],
                                              "description": "Left out: the company's default."})
    lines = fields.List(fields.Nested(CreditNoteLineIn), required=True)


AMOUNTS[CreditNote] = {"net_total", "tax_total", "total"}
AMOUNTS[CreditNoteLine] = {"unit_price", "net", "tax"}


class CreditNoteApi(MoneyApi):
    """Credit notes in the caller's scope with their lines; one issued against an invoice or a
    customer (services/billing/credit_notes.py), voided with a reason. Never changed nor deleted."""

    resource_name = "credit_note"
    base_permissions = SOURCE_PERMISSIONS
    exclude_route_methods = SOURCE_ROUTES_LEFT_OUT
    datamodel = ListInterface(CreditNote)
    base_filters = [["id", ChildScopeFilter, None]]
    list_columns = ["id", "customer_id", "number", "status", "currency", "credit_date", "description",
                    "breakdown_style", "invoice_id", "payment_id", "net_total", "tax_total", "total", "voided_at",
                    "void_reason", "created_at"]
    show_columns = list_columns + ["notes", "billing_address", "lines.id", "lines.position", "lines.description",
                                   "lines.category", "lines.quantity", "lines.unit_price", "lines.tax_rate_id",
                                   "lines.tax_name", "lines.tax_percent", "lines.net", "lines.tax",
                                   "lines.invoice_line_id"]
    order_columns = ["id", "number", "credit_date", "total", "status"]
    search_columns = ["customer_id", "invoice_id", "number", "status", "credit_date"]
    add_model_schema = CreditNoteIn()
    edit_model_schema = CreditNoteIn()

    def create(self, data):
        key = write_key(data)
        return credit_notes.create(db.session, g.user, data, key, customer_id=data.pop("customer_id", None),
                                   invoice_id=data.pop("invoice_id", None))

    @expose("/<int:pk>/void", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented("Void a credit note, with a reason: what it paid is owed again, what is left of it withdrawn",
                "ReasonIn", "CreditNoteApi.get", path=True)
    def void(self, pk):
        return self._write(lambda data, key: credit_notes.void(db.session, g.user, pk, data.get("reason"), key))
