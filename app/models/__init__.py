"""All models, imported here so that metadata is complete for Alembic."""
from app.models.aliases import CustomerAlias
from app.models.cards import CardCharge, StoredCard
from app.models.audit import AuditEntry, SubmittedForm
from app.models.comms import Message, MessageAttachment, MessageAttempt
from app.models.company import CompanySettings
from app.models.credit_notes import CreditNote, CreditNoteLine
from app.models.custom_fields import CustomField, CustomValue
from app.models.customers import (
    Address,
    Contact,
    ContactPhone,
    Customer,
    CustomerBalance,
    CustomerService,
    CustomerSurname,
    Tag,
    customer_tag,
)
from app.models.files import CustomerFile
from app.models.fx import CustomerFxRate, FxRate
from app.models.invoice_addresses import InvoiceAddress
from app.models.jobs import Job, job_customer
from app.models.money import (
    Adjustment,
    Allocation,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Payment,
    PaymentMethod,
    Release,
    TaxRate,
)
from app.models.notes import Note
from app.models.periodic import PeriodicJob
from app.models.price_books import PriceBook, PriceBookItem
from app.models.quotes import Quote, QuoteLine
from app.models.recurring import BillingRun, ServicePeriod
from app.models.reminders import PaymentReminder, ReminderState, ReminderStep
from app.models.resellers import Reseller
from app.models.users import AppUser as User

__all__ = [
    "BillingRun",
    "ServicePeriod",
    "PaymentReminder",
    "ReminderState",
    "ReminderStep",
    "CreditNote",
    "CreditNoteLine",
    "CustomerFxRate",
    "FxRate",
    "Adjustment",
    "Allocation",
    "DocumentSequence",
    "Invoice",
    "InvoiceAddress",
    "InvoiceLine",
    "LedgerEntry",
    "Payment",
    "PaymentMethod",
    "PriceBook",
    "PriceBookItem",
    "Quote",
    "QuoteLine",
    "Release",
    "TaxRate",
    "StoredCard",
    "CardCharge",
    "Address",
    "AuditEntry",
    "CompanySettings",
    "SubmittedForm",
    "Contact",
    "ContactPhone",
    "Customer",
    "CustomField",
    "CustomValue",
    "CustomerAlias",
    "CustomerFile",
    "CustomerService",
    "Job",
    "Message",
    "MessageAttachment",
    "MessageAttempt",
    "Note",
    "PeriodicJob",
    "CustomerBalance",
    "CustomerSurname",
    "Reseller",
    "Tag",
    "User",
    "customer_tag",
    "job_customer",
]
