"""A customer's billing settings (iBill's, Commusoft's), read and saved as one form: creditor days, currency
(only while the customer has no money record), tax exemption or a special rate, price book, do not suspend
for late payment, payment reminders (automatic / manual / off; none: the company's default), account
credit used when an invoice is issued (off / automatic / ask; none: the company's default), statements
grouped by contact, invoices attached to statement e-mails.

Everyone who may see the customer reads them; who posts money (POST_MONEY: Finance and Admin) changes
them. Changes are audited by the session hook (services/audit.py), as any change of a customer.
"""
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.models import CompanySettings, Customer
from app.models.customers import CREDITOR_DAYS, PAYMENT_REMINDERS, USE_CREDIT
from app.services import fields, permissions
from app.services.billing import POST_MONEY, ledger
from app.services.billing.allocation import USE_CREDIT_DEFAULT
from app.services.billing.payments import has_money
from app.services.billing.price_books import check_customer_book
from app.services.billing.tax import check_customer_tax
from app.services.customers.validate import check_currency_fixed
from app.services.db import commit
from app.services.errors import FieldErrors
from app.services.scope import get_customer

FIELDS = ("creditor_days", "currency", "tax_exempt", "tax_rate_id", "price_book_id", "do_not_suspend",
          "payment_reminders", "use_credit", "group_statements_by_contact", "attach_invoices_to_statements")
FLAGS = ("tax_exempt", "do_not_suspend", "group_statements_by_contact", "attach_invoices_to_statements")
DEFAULT_REMINDERS = "automatic"  # a company that chose none


@dataclass(frozen=True)
class BillingSettings:
    """The customer's own values (None: the company's default) and what the defaults are."""

    values: dict
    default_creditor_days: int | None  # the company's (None: none, invoices are due when issued)
    default_payment_reminders: str  # the company's
    default_use_credit: str  # the company's: off, automatic or ask
    currency_fixed: bool  # it has a money record: its currency cannot change
    may_change: bool

    @property
    def use_credit(self) -> str:
        """Whether account credit pays an invoice when it is issued: its own, else the company's."""
        return self.values["use_credit"] or self.default_use_credit

    @property
    def payment_reminders(self) -> str:
        """The reminders in force: its own, else the company's."""
        return self.values["payment_reminders"] or self.default_payment_reminders


def read(session: Session, actor, customer_id) -> BillingSettings:
    """The customer's billing settings. Raises NotFound (missing or out of `actor`'s scope)."""
    customer = get_customer(session, actor, customer_id)
    row = session.get(CompanySettings, 1)
    return BillingSettings(
        values={key: getattr(customer, key) for key in FIELDS},
        default_creditor_days=row.default_creditor_days if row else None,
        default_payment_reminders=(row and row.default_payment_reminders) or DEFAULT_REMINDERS,
        default_use_credit=(row and row.use_credit_default) or USE_CREDIT_DEFAULT,
        currency_fixed=has_money(session, customer.id),
        may_change=permissions.may(session, actor, POST_MONEY))


def _clean(session: Session, customer: Customer, data: dict) -> dict:
    """The fields given in `data`, checked (a field not given keeps its value); Invalid with every error."""
    errors = FieldErrors()
    for key in data:
        if key not in FIELDS:
            errors.add(key, "Unknown field.")
    out = {}
    if "creditor_days" in data:
        out["creditor_days"] = fields.choice(errors, "creditor_days", data["creditor_days"], CREDITOR_DAYS,
                                             label="Creditor days")
    if "currency" in data:
        out["currency"] = fields.currency(errors, "currency", data["currency"], customer.currency)
        if "currency" not in errors:
            check_currency_fixed(errors, session, customer, out["currency"])
    out.update(check_customer_tax(errors, session, {k: data[k] for k in ("tax_exempt", "tax_rate_id") if k in data}))
    if "price_book_id" in data:
        out["price_book_id"] = check_customer_book(errors, session, data["price_book_id"])
    if "payment_reminders" in data:
        out["payment_reminders"] = fields.choice(errors, "payment_reminders", data["payment_reminders"],
                                                 PAYMENT_REMINDERS, label="Payment reminders")
    if "use_credit" in data:  # NULL: the company's default (allocation.use_credit)
        out["use_credit"] = fields.choice(errors, "use_credit", data["use_credit"], USE_CREDIT,
                                          label="Use account credit")
    for key in FLAGS:
        if key in data and key != "tax_exempt":
            out[key] = fields.boolean(data[key])
    errors.raise_if_any()
    return out


def save(session: Session, actor, customer_id, data: dict) -> list[str]:
    """Save the settings given in `data` and commit; returns the fields that changed (saving the same
    values again changes nothing). Raises Forbidden (who posts money may), NotFound, Invalid with every
    field error (a currency change once the customer has a money record among them)."""
    permissions.require(session, actor, POST_MONEY, message="Only Finance and Admin may change billing settings.")
    customer = get_customer(session, actor, customer_id)
    if data.get("currency") not in (None, "") and str(data["currency"]).strip().upper() != customer.currency:
        # Hold the customer's money while deciding: a first money record written meanwhile would wait,
        # then read the new currency (as customers.update does).
        customer = ledger.lock(session, customer.id)
    values = _clean(session, customer, data)
    changed = [key for key, value in values.items() if getattr(customer, key) != value]
    for key in changed:
        setattr(customer, key, values[key])
    commit(session)
    return changed
