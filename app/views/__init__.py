"""Registers every screen and API with FAB. Thin: parse, call a service, render."""
from app.views.admin import AuditView, ResellerView, TagView
from app.views.api import AddressApi, ContactApi, ContactPhoneApi, CustomerApi, TagApi
from app.views.contacts import AddressView, ContactPhoneView, ContactView
from app.views.customers import CustomerView


def register(appbuilder) -> None:
    appbuilder.add_view(CustomerView, "Customers", icon="fa-users", category="Customers")
    appbuilder.add_view(ContactView, "Contacts", icon="fa-address-book", category="Customers")
    appbuilder.add_view(AddressView, "Addresses", icon="fa-map-marker", category="Customers")
    appbuilder.add_view_no_menu(ContactPhoneView)
    appbuilder.add_view(TagView, "Tags", icon="fa-tags", category="Customers")
    appbuilder.add_view(ResellerView, "Resellers", icon="fa-handshake-o", category="Admin")
    appbuilder.add_view(AuditView, "Audit log", icon="fa-history", category="Admin")
    for api in (CustomerApi, ContactApi, ContactPhoneApi, AddressApi, TagApi):
        appbuilder.add_api(api)
