"""Registers every screen and API with FAB. Thin: parse, call a service, render."""
from app.views.admin import AuditView, CompanySettingsView, ResellerView, TagView
from app.views.api import AddressApi, ContactApi, ContactPhoneApi, CustomerApi, TagApi
from app.views.cards import CardView
from app.views.cash_allocation import CashAllocationView
from app.views.contacts import AddressView, ContactPhoneView, ContactView, ServiceView
from app.views.credits import CreditView
from app.views.documents import InvoiceDocumentView, QuoteDocumentView
from app.views.fx import CustomerFxRateView, FxRateView
from app.views.invoice_settings import InvoiceSettingsView
from app.views.recurring_billing import RecurringBillingView
from app.views.reminders import OverdueNotRemindedView, ReminderStepsView
from app.views.invoices import InvoiceView
from app.views.payments import PaymentView
from app.views.fx_api import CustomerFxRateApi, FxRateApi
from app.views.cards_api import CardApi
from app.views.price_books_api import PriceBookApi, PriceBookItemApi
from app.views.quotes import QuoteView
from app.views.credit_notes import CreditNoteView
from app.views.money_admin import PaymentMethodView, TaxRateView
from app.views.money_api import CreditApi, InvoiceApi, PaymentApi, QuoteApi
from app.views.price_books import PriceBookItemView, PriceBookView
from app.views.money_api import CreditNoteApi
from app.views.jobs import JobView
from app.views.job_monitor import JobMonitorView
from app.views.receivables import ReceivablesView
from app.views.statements import StatementView
from app.views.customers import CustomerView
from app.views.custom_fields import CustomFieldView
from app.services.errors import ServiceError
from app.views.lists import NUL_MESSAGE
from app.views.messages import (
    CustomerMessagesView,
    InboundMessageView,
    MessageView,
    NotificationLogView,
    UnsubscribeView,
)


def _refuse_malformed_requests():
    """404 before FAB sees them: ids no INTEGER column can hold (FAB's pk lookups would
    raise), and action names a view does not have (FAB looks them up unchecked)."""
    from flask import abort, current_app, request

    from app.services.fields import record_id
    pk = str((request.view_args or {}).get("pk", ""))
    if pk.lstrip("-").isdigit() and record_id(pk) is None:
        abort(404)
    endpoint = request.endpoint or ""
    if endpoint.endswith((".action", ".action_post")):
        blueprint = endpoint.rsplit(".", 1)[0]
        view = next((v for v in current_app.appbuilder.baseviews if v.endpoint == blueprint), None)
        name = (request.view_args or {}).get("name") or request.form.get("action")
        if view is None or name not in (getattr(view, "actions", None) or {}):
            abort(404)




def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(v) for v in value)
    return False


def _refuse_nul_bytes():
    """400 for text with a NUL byte anywhere a user or a webhook sends it (the URL's path and
    query, a form, a JSON body): PostgreSQL can neither store nor compare it, and a search,
    filter, login or save would answer 500. Checked once here rather than in every field."""
    from flask import request
    sent = [request.path, list(request.args.items(multi=True))]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        sent.append(list(request.form.items(multi=True)))
    if request.is_json:
        sent.append(request.get_json(silent=True))
    if _holds_nul(sent):
        raise ServiceError(NUL_MESSAGE)  # 400, as a page or JSON: views/errors.py


API_DOCUMENTATION = "API documentation"


def _add_api_documentation_link(appbuilder) -> None:
    """A menu link to FAB's Swagger UI of the REST API (when FAB_API_SWAGGER_UI serves it). The
    navigation bar shows it to roles with menu_access on it (app/security.py gives it with the
    page's own permission); FAB's menu API asks the page's permission itself (cond)."""
    if not appbuilder.app.config.get("FAB_API_SWAGGER_UI"):
        return
    appbuilder.add_link(API_DOCUMENTATION, href="/swagger/v1", icon="fa-book", category="Customers",
                        cond=lambda: appbuilder.sm.has_access("can_show", "SwaggerView"))


def register(appbuilder) -> None:
    from app.views import errors
    from app.views.lists import clean_list_arguments
    errors.register(appbuilder.app)
    appbuilder.app.before_request(_refuse_nul_bytes)
    appbuilder.app.before_request(_refuse_malformed_requests)
    appbuilder.app.before_request(clean_list_arguments)
    appbuilder.add_view(CustomerView, "Customers", icon="fa-users", category="Customers")
    appbuilder.add_view(ContactView, "Contacts", icon="fa-address-book", category="Customers")
    appbuilder.add_view(AddressView, "Addresses", icon="fa-map-marker", category="Customers")
    appbuilder.add_view(ServiceView, "Services", icon="fa-wrench", category="Customers")
    appbuilder.add_view_no_menu(ContactPhoneView)
    appbuilder.add_view(MessageView, "Messages", icon="fa-envelope", category="Customers")
    appbuilder.add_view_no_menu(CustomerMessagesView)
    appbuilder.add_view_no_menu(NotificationLogView)
    appbuilder.add_view_no_menu(UnsubscribeView)
    appbuilder.add_view_no_menu(InboundMessageView)
    appbuilder.add_view(TagView, "Tags", icon="fa-tags", category="Customers")
    appbuilder.add_separator("Customers")
    appbuilder.add_view(JobView, "Jobs", icon="fa-tasks", category="Customers")
    _add_api_documentation_link(appbuilder)
    appbuilder.add_view(InvoiceView, "Invoices", icon="fa-file-text-o", category="Money")
    appbuilder.add_view_no_menu(InvoiceDocumentView)
    appbuilder.add_view_no_menu(CardView)
    appbuilder.add_view_no_menu(InvoiceSettingsView)
    appbuilder.add_view_no_menu(CashAllocationView)
    appbuilder.add_view_no_menu(StatementView)
    appbuilder.add_view(QuoteView, "Quotes", icon="fa-file-o", category="Money")
    appbuilder.add_view_no_menu(QuoteDocumentView)
    appbuilder.add_view(PaymentView, "Payments", icon="fa-money", category="Money")
    appbuilder.add_view_no_menu(CreditNoteView)
    appbuilder.add_view(CreditView, "Credits", icon="fa-gift", category="Money")
    appbuilder.add_view(ReceivablesView, "Receivables", icon="fa-hourglass-half", category="Money")
    appbuilder.add_view(OverdueNotRemindedView, "Overdue, not reminded", icon="fa-bell-slash", category="Money")
    appbuilder.add_view(RecurringBillingView, "Recurring billing", icon="fa-refresh", category="Money")
    appbuilder.add_separator("Money")
    appbuilder.add_view(TaxRateView, "Tax rates", icon="fa-percent", category="Money")
    appbuilder.add_view(PaymentMethodView, "Payment methods", icon="fa-credit-card", category="Money")
    appbuilder.add_view(FxRateView, "FX rates", icon="fa-exchange", category="Money")
    appbuilder.add_view_no_menu(CustomerFxRateView)
    appbuilder.add_view(PriceBookView, "Price books", icon="fa-book", category="Money")
    appbuilder.add_view(PriceBookItemView, "Price book items", icon="fa-list", category="Money")
    appbuilder.add_view(ResellerView, "Resellers", icon="fa-handshake-o", category="Admin")
    appbuilder.add_view(AuditView, "Audit log", icon="fa-history", category="Admin")
    appbuilder.add_view(CustomFieldView, "Custom fields", icon="fa-list-alt", category="Admin")
    appbuilder.add_view(CompanySettingsView, "Company settings", icon="fa-building", category="Admin")
    appbuilder.add_view(ReminderStepsView, "Payment reminders", icon="fa-bell", category="Admin")
    appbuilder.add_view(JobMonitorView, "Job monitor", icon="fa-heartbeat", category="Admin")
    for api in (CustomerApi, ContactApi, ContactPhoneApi, AddressApi, TagApi):
        appbuilder.add_api(api)
    for api in (InvoiceApi, PaymentApi, CreditApi, FxRateApi, CustomerFxRateApi, CardApi, CreditNoteApi, PriceBookApi, PriceBookItemApi):
        appbuilder.add_api(api)
    appbuilder.add_api(QuoteApi)
