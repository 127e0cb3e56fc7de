"""All models, imported here so that metadata is complete for Alembic."""
from app.models.audit import AuditEntry, SubmittedForm
from app.models.customers import (
    Address,
    Contact,
    ContactPhone,
    Customer,
    CustomerSurname,
    Tag,
    customer_tag,
)
from app.models.resellers import Reseller
from app.models.users import AppUser as User

__all__ = [
    "Address",
    "AuditEntry",
    "SubmittedForm",
    "Contact",
    "ContactPhone",
    "Customer",
    "CustomerSurname",
    "Reseller",
    "Tag",
    "User",
    "customer_tag",
]
