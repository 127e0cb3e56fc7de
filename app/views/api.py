"""REST API: FAB's ModelRestApi with our scope, our fast list, and writes through the services.

Writes answer 422 with field errors (never 500), 404 for anything outside the
caller's scope, exactly as for a missing id: the services' typed errors go on to
app/views/errors.py, which answers them for every view alike.
"""
import functools
import logging

import jsonschema
from marshmallow import fields
from flask import g, request
from flask_appbuilder.api import ModelRestApi, expose, merge_response_func, rison
from flask_appbuilder.api.convert import Model2SchemaConverter
from flask_appbuilder.api.schemas import get_item_schema, get_list_schema
from flask_appbuilder.const import (
    API_DESCRIPTION_COLUMNS_RIS_KEY, API_LABEL_COLUMNS_RIS_KEY, API_LIST_COLUMNS_RIS_KEY,
    API_LIST_TITLE_RIS_KEY, API_ORDER_COLUMNS_RIS_KEY, API_SHOW_COLUMNS_RIS_KEY, API_SHOW_TITLE_RIS_KEY,
)
from flask_appbuilder.exceptions import FABException
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.security.decorators import permission_name, protect
from sqlalchemy.orm import selectinload
from werkzeug.exceptions import BadRequest

from app.extensions import db
from app.models import Address, Contact, ContactPhone, Customer, Invoice, InvoiceLine, Payment, Quote, QuoteLine, Tag
from app.services import money, tags
from app.services.customers import addresses, contacts
from app.services.customers.create import create_customer
from app.services.customers.delete import delete_customer
from app.services.customers.update import update_customer
from app.services.errors import ServiceError
from app.views.customers import CustomerView
from app.views.datamodel import CustomerInterface, ListInterface
from app.views.filters import ChildScopeFilter, CustomerScopeFilter, PhoneScopeFilter
from app.views.lists import MAX_PAGE_SIZE, RequestFilters, rest_list_problem

log = logging.getLogger(__name__)


def checked_rison(schema: dict):
    """FAB's @rison(schema), with the schema checked once at import.

    FAB calls jsonschema.validate(), which first validates the schema itself against
    the JSON-Schema meta-schema: half the time of a REST list request."""
    validator = jsonschema.validators.validator_for(schema)(schema)
    validator.check_schema(schema)

    def decorate(f):
        @functools.wraps(f)
        def checked(self, *args, **kwargs):
            error = jsonschema.exceptions.best_match(validator.iter_errors(kwargs["rison"]))
            if error is not None:
                return self.response_400(message=f"Not a valid rison schema {str(error).splitlines()[0]}")
            return f(self, *args, **kwargs)
        return rison()(checked)
    return decorate


def safe(f):
    """FAB's @safe (any other error: 500 "Fatal error", logged), but the services' typed errors
    go on to app/views/errors.py (404, 403, 422 with the field errors)."""
    @functools.wraps(f)
    def wrapper(self, *args, **kwargs):
        try:
            return f(self, *args, **kwargs)
        except ServiceError:
            raise
        except BadRequest as e:
            return self.response_400(message=str(e))
        except Exception as e:  # noqa: BLE001  (FAB's answer to what nobody foresaw)
            log.exception(e)
            return self.response_500(message="Fatal error")
    return wrapper


def documented_as(fab_method):
    """The OpenAPI operation FAB documents for the method this one replaces (its path
    parameters and responses), so the published document stays valid."""
    def decorate(f):
        f.__doc__ = fab_method.__doc__
        return f
    return decorate


class ServiceApi(RequestFilters, ModelRestApi):
    """Subclasses define create(data), update(pk, data) and remove(pk), each one service call."""

    # Bearer tokens only: a browser session cookie would let a page write without a CSRF token.
    allow_browser_login = False
    max_page_size = MAX_PAGE_SIZE
    show_schema = None

    # FAB's routes, decorated alike but for checked_rison and our safe.
    @expose("/<int:pk>", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    @checked_rison(get_item_schema)
    @merge_response_func(ModelRestApi.merge_show_label_columns, API_LABEL_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_show_columns, API_SHOW_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_description_columns, API_DESCRIPTION_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_show_title, API_SHOW_TITLE_RIS_KEY)
    @documented_as(ModelRestApi.get)
    def get(self, pk, **kwargs):
        return self.get_headless(pk, **kwargs)

    @expose("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    @checked_rison(get_list_schema)
    @merge_response_func(ModelRestApi.merge_order_columns, API_ORDER_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_list_label_columns, API_LABEL_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_description_columns, API_DESCRIPTION_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_list_columns, API_LIST_COLUMNS_RIS_KEY)
    @merge_response_func(ModelRestApi.merge_list_title, API_LIST_TITLE_RIS_KEY)
    @documented_as(ModelRestApi.get_list)
    def get_list(self, **kwargs):
        return self.get_list_headless(**kwargs)

    @expose("/", methods=["POST"])
    @protect()
    @safe
    @permission_name("post")
    @documented_as(ModelRestApi.post)
    def post(self):
        return self.post_headless()

    @expose("/<pk>", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    @documented_as(ModelRestApi.put)
    def put(self, pk):
        return self.put_headless(pk)

    @expose("/<pk>", methods=["DELETE"])
    @protect()
    @safe
    @permission_name("delete")
    @documented_as(ModelRestApi.delete)
    def delete(self, pk):
        return self.delete_headless(pk)

    def get_list_headless(self, **kwargs):
        problem = rest_list_problem(self, kwargs.get("rison") or {})
        if problem:
            return self.response_400(message=problem)
        try:
            return super().get_list_headless(**kwargs)
        except FABException as e:  # a filter FAB could not apply
            return self.response_400(message=str(e))

    def pre_get_list(self, data: dict) -> None:
        # Past LIST_EXACT_COUNT_LIMIT the customer list counts with the planner's estimate.
        data["count_is_estimate"] = bool(getattr(data.get("count"), "approximate", False))

    def _json_object(self):
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else None

    def _answer(self, item, status=200):
        if item is None:
            return self.response(status, message="OK")
        result = self.show_model_schema.dump(item, many=False)
        return self.response(status, id=item.id, result=result)

    def post_headless(self):
        data = self._json_object()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        return self._answer(self.create(data), status=201)

    def put_headless(self, pk):
        data = self._json_object()
        if data is None:
            return self.response_400(message="Send a JSON object.")
        return self._answer(self.update(pk, data))

    def delete_headless(self, pk):
        self.remove(pk)
        return self.response(200, message="OK")


def _currency_of(record) -> str:
    """A record's currency: its own, else its document's (an invoice's or a quote's line)."""
    if hasattr(record, "currency"):
        return record.currency
    return (record.quote if hasattr(record, "quote_id") else record.invoice).currency


class Amount(fields.String):
    """An amount as a string with its currency's decimals (the record's, or its invoice's)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return str(money.quantize(value, _currency_of(obj)))


# The amounts of each model (columns and properties), dumped as Amount.
AMOUNTS = {Customer: {"balance"}, Invoice: {"net_total", "tax_total", "total", "outstanding"},
           InvoiceLine: {"unit_price", "net", "tax"},
           Payment: {"amount", "unallocated", "allocated"},
           Quote: {"net_total", "tax_total", "total"}, QuoteLine: {"unit_price", "net", "tax"}}


class MoneyConverter(Model2SchemaConverter):
    """FAB's converter, with each amount an Amount (for a `columns` selection too)."""

    def _column2field(self, datamodel, column, nested=True, parent_schema_name=None):
        if column.name in AMOUNTS.get(datamodel.obj, ()):
            return Amount(dump_only=True)
        return super()._column2field(datamodel, column, nested, parent_schema_name)


class CustomerApi(ServiceApi):
    resource_name = "customers"
    datamodel = CustomerInterface(Customer)
    base_filters = [["id", CustomerScopeFilter, None]]
    base_order = ("name", "asc")
    list_columns = ["id", "name", "customer_type", "first_name", "surname", "company_name", "email",
                    "phone", "mobile", "joined_on", "balance", "currency", "status", "reseller_id",
                    "reseller.name", "tags.id", "tags.name"]
    show_columns = list_columns + ["title", "advertising_source", "creditor_days", "building_type",
                                   "third_party_reference", "tax_exempt", "tax_rate_id"]
    add_columns = edit_columns = ["customer_type", "title", "first_name", "surname", "company_name",
                                  "email", "phone", "mobile", "currency", "status", "joined_on",
                                  "advertising_source", "creditor_days", "building_type",
                                  "third_party_reference", "tax_exempt", "tax_rate_id"]
    order_columns = CustomerView.order_columns
    search_columns = CustomerView.search_columns
    model2schemaconverter = MoneyConverter  # the balance with its currency's decimals

    def create(self, data):
        return create_customer(db.session, g.user, data)

    def update(self, pk, data):
        return update_customer(db.session, g.user, pk, data)

    def remove(self, pk):
        delete_customer(db.session, g.user, pk)


class ContactApi(ServiceApi):
    resource_name = "contacts"
    datamodel = ListInterface(Contact, eager=(selectinload(Contact.phones),))
    base_filters = [["id", ChildScopeFilter, None]]
    _fields = ["title", "first_name", "surname", "position", "email", "is_primary",
               "website_url", "twitter_url", "facebook_url", "linkedin_url"]
    list_columns = show_columns = ["id", "customer_id"] + _fields + ["phones.id", "phones.kind", "phones.number"]
    add_columns = ["customer_id"] + _fields
    edit_columns = _fields
    search_columns = ["customer_id", "surname", "first_name", "email"]

    def create(self, data):
        return contacts.create_contact(db.session, g.user, data.pop("customer_id", None), data)

    def update(self, pk, data):
        return contacts.update_contact(db.session, g.user, pk, data)

    def remove(self, pk):
        contacts.delete_contact(db.session, g.user, pk)


class ContactPhoneApi(ServiceApi):
    resource_name = "contact-phones"
    datamodel = ListInterface(ContactPhone)
    base_filters = [["id", PhoneScopeFilter, None]]
    list_columns = show_columns = ["id", "contact_id", "kind", "number"]
    add_columns = ["contact_id", "kind", "number"]
    edit_columns = ["kind", "number"]
    search_columns = ["contact_id", "kind", "number"]

    def create(self, data):
        return contacts.add_phone(db.session, g.user, data.pop("contact_id", None), data)

    def update(self, pk, data):
        return contacts.update_phone(db.session, g.user, pk, data)

    def remove(self, pk):
        contacts.delete_phone(db.session, g.user, pk)


class AddressApi(ServiceApi):
    resource_name = "addresses"
    datamodel = ListInterface(Address)
    base_filters = [["id", ChildScopeFilter, None]]
    _fields = ["kind", "line1", "line2", "line3", "town", "county", "postcode", "country",
               "latitude", "longitude", "access_name", "access_phone", "access_relationship"]
    list_columns = show_columns = ["id", "customer_id"] + _fields
    add_columns = ["customer_id"] + _fields
    edit_columns = _fields
    search_columns = ["customer_id", "kind", "postcode", "town"]

    def create(self, data):
        return addresses.create_address(db.session, g.user, data.pop("customer_id", None), data)

    def update(self, pk, data):
        return addresses.update_address(db.session, g.user, pk, data)

    def remove(self, pk):
        addresses.delete_address(db.session, g.user, pk)


class TagApi(ServiceApi):
    resource_name = "tags"
    datamodel = SQLAInterface(Tag)
    list_columns = show_columns = ["id", "name", "colour"]
    add_columns = edit_columns = ["name", "colour"]
    search_columns = ["name"]

    def create(self, data):
        return tags.create_tag(db.session, data)

    def update(self, pk, data):
        return tags.update_tag(db.session, pk, data)

    def remove(self, pk):
        tags.delete_tag(db.session, pk)
