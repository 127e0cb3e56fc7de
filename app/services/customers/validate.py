"""The rules for a customer's fields, shared by create and update."""
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Customer, Reseller, Tag
from app.models.customers import BUILDING_TYPES, CHANNELS, CREDITOR_DAYS, CUSTOMER_TYPES, PURPOSES, STATUSES, TITLES, \
    USE_CREDIT
from app.services import fields, permissions
from app.services.billing import POST_MONEY
from app.services.billing.payments import has_money
from app.services.billing.price_books import check_customer_book
from app.services.billing.tax import check_customer_tax
from app.services.customers.services import misfit_message, prices_misfit
from app.services.errors import FieldErrors
from app.services.scope import is_scoped, reseller_id_of
from app.services.settings import settings

# Communication preferences of the customer itself (used when it has no contacts).
PREFERENCE_FIELDS = tuple(f"{purpose}_{channel}" for purpose in PURPOSES for channel in CHANNELS)
EDITABLE = (
    "customer_type", "title", "first_name", "surname", "company_name", "email", "phone",
    "mobile", "currency", "reseller_id", "tag_ids", "status", "joined_on",
    "advertising_source", "creditor_days", "building_type", "third_party_reference", *PREFERENCE_FIELDS,
    "tax_exempt", "tax_rate_id", "price_book_id", "use_credit",
)


def clean(session: Session, actor, data: dict, customer: Customer | None = None) -> tuple[dict, list[Tag]]:
    """Validate `data` (for a new customer, or changes to `customer`) and return clean values.

    Raises Invalid with every field error at once. Keys not in `data` keep the
    customer's current value; unknown keys are an error.
    """
    errors = FieldErrors()
    for key in data:
        if key not in EDITABLE:
            errors.add(key, "Unknown field.")

    def current(key, default=None):
        if key in data:
            return data[key]
        return getattr(customer, key) if customer is not None else default

    out = {}
    out["customer_type"] = fields.choice(
        errors, "customer_type", current("customer_type", "private"), CUSTOMER_TYPES, required=True,
        label="Customer type")
    out["title"] = fields.choice(errors, "title", current("title"), TITLES)
    out["first_name"] = fields.text(errors, "first_name", current("first_name"), 80, label="First name")
    out["surname"] = fields.text(errors, "surname", current("surname"), 80, label="Surname")
    out["company_name"] = fields.text(errors, "company_name", current("company_name"), 160,
                                      label="Company name")
    if out["customer_type"] == "private" and not out["surname"] and "surname" not in errors:
        errors.add("surname", "Surname is required for a private customer.")
    if out["customer_type"] == "company" and not out["company_name"] and "company_name" not in errors:
        errors.add("company_name", "Company name is required for a company.")

    out["email"] = fields.email(errors, "email", current("email"))
    out["phone"] = fields.phone(errors, "phone", current("phone"), settings.phone_region)
    out["mobile"] = fields.phone(errors, "mobile", current("mobile"), settings.phone_region)
    out["currency"] = fields.currency(errors, "currency", current("currency"), settings.base_currency)
    if "currency" not in errors:
        check_currency_fixed(errors, session, customer, out["currency"])
    out["status"] = fields.choice(errors, "status", current("status", "active"), STATUSES, required=True)
    out["joined_on"] = fields.a_date(errors, "joined_on", current("joined_on"))
    out["advertising_source"] = fields.text(errors, "advertising_source", current("advertising_source"), 80)
    out["creditor_days"] = fields.choice(errors, "creditor_days", current("creditor_days"), CREDITOR_DAYS)
    out["building_type"] = fields.choice(errors, "building_type", current("building_type"), BUILDING_TYPES)
    out["third_party_reference"] = fields.text(
        errors, "third_party_reference", current("third_party_reference"), 80)
    for key in PREFERENCE_FIELDS:  # service messages on, marketing off, until said otherwise
        out[key] = fields.boolean(current(key, key.startswith("service_")))

    # Launch27's special sales tax: exempt, or a rate of its own instead of each line's.
    taxed = check_customer_tax(errors, session, {k: current(k) for k in ("tax_exempt", "tax_rate_id")})
    # What a customer is charged is money: only who may post money changes it (Finance, Admin).
    for name, value in taxed.items():
        was = getattr(customer, name, None) if customer is not None else (False if name == "tax_exempt" else None)
        if value != was and not permissions.may(session, actor, POST_MONEY):
            errors.add(name, "Only who may post money (Finance, Admin) can change a customer's sales tax.")
    out.update(taxed)
    # Commusoft's price book (empty: the default book); the prices it gives are money too.
    if "price_book_id" in data:
        book = check_customer_book(errors, session, data["price_book_id"])
        if book != getattr(customer, "price_book_id", None) and not permissions.may(session, actor, POST_MONEY):
            errors.add("price_book_id", "Only who may post money (Finance, Admin) can change a customer's price book.")
        out["price_book_id"] = book

    # Account credit used when an invoice is issued (empty: the company's default): money too.
    if "use_credit" in data:
        use_credit = fields.choice(errors, "use_credit", data["use_credit"], USE_CREDIT, label="Use account credit")
        if use_credit != getattr(customer, "use_credit", None) and not permissions.may(session, actor, POST_MONEY):
            errors.add("use_credit", "Only who may post money (Finance, Admin) can change how credit is used.")
        out["use_credit"] = use_credit

    out["reseller_id"] = _reseller(session, actor, errors, data, customer)

    tags = []
    if "tag_ids" in data or customer is None:
        tag_ids = fields.integer_list(errors, "tag_ids", data.get("tag_ids"))
        if tag_ids:
            tags = list(session.scalars(select(Tag).where(Tag.id.in_(tag_ids))))
            if len(tags) != len(tag_ids):
                errors.add("tag_ids", "One or more of the tags do not exist.")
    else:
        tags = None  # unchanged

    if out["email"] and out["status"] != "archived" and "email" not in errors:
        clash = select(Customer.id).where(
            Customer.email == out["email"], Customer.status != "archived")
        if customer is not None and customer.id is not None:
            clash = clash.where(Customer.id != customer.id)
        if session.scalar(clash.limit(1)) is not None:
            errors.add("email", "Another customer already uses this e-mail address.")

    errors.raise_if_any()
    out["name"], out["sort_name"] = names(out)
    return out, tags


def currency_fixed_message(current: str, requested: str) -> str:
    return (f"This customer is billed in {current} and has invoices, payments or credits: its currency "
            f"cannot change to {requested}.")


def check_currency_fixed(errors: FieldErrors, session: Session, customer: Customer | None, currency) -> None:
    """A customer's currency is fixed once it has a money record (billing.payments.has_money): its
    invoices, payments and ledger are in that currency. Nor may it change to a currency one of its
    services' prices has too many decimals for (services.prices_misfit)."""
    if customer is None or customer.id is None or not currency or currency == customer.currency:
        return
    if has_money(session, customer.id):
        errors.add("currency", currency_fixed_message(customer.currency, currency))
        return
    misfit = prices_misfit(session, [customer.id], currency).get(customer.id)
    if misfit is not None:
        errors.add("currency", misfit_message(misfit, currency))


def _reseller(session, actor, errors, data, customer):
    """Scoped users keep their own reseller and can never move a customer to another."""
    own = reseller_id_of(actor)
    requested = data.get("reseller_id", customer.reseller_id if customer else None)
    if is_scoped(actor):
        keep = customer.reseller_id if customer else own
        # A blank choice means "not given"; any other reseller is a move, which they may not make.
        if requested not in (None, "") and fields.integer(errors, "reseller_id", requested) != keep:
            errors.add("reseller_id", "You cannot change a customer's reseller.")
        return keep
    reseller_id = fields.integer(errors, "reseller_id", requested, label="Reseller")
    if reseller_id is not None and session.get(Reseller, reseller_id) is None:
        errors.add("reseller_id", "No such reseller.")
    return reseller_id


def names(values: dict) -> tuple[str, str]:
    """The shown name and the sort key: company name for companies, else first name and surname."""
    if values.get("customer_type") == "company":
        name = values.get("company_name") or ""
        sort_name = name
    else:
        name = " ".join(p for p in (values.get("first_name"), values.get("surname")) if p)
        sort_name = " ".join(p for p in (values.get("surname"), values.get("first_name")) if p)
    return name[:250], sort_name.lower()[:250]
