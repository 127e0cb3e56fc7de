from sqlalchemy.orm import Session

from app.models import Customer
from app.services.billing import ledger
from app.services.customers.status import cascade, check_transition
from app.services.customers.validate import clean
from app.services.db import commit
from app.services.scope import get_customer


def update_customer(session: Session, actor, customer_id, data: dict) -> Customer:
    """Change the given fields of a customer in `actor`'s scope.

    Raises NotFound (missing or out of scope) or Invalid with every field error (among them a
    currency change of a customer with money records).
    """
    customer = get_customer(session, actor, customer_id)
    if data.get("currency") not in (None, "") and str(data["currency"]).strip().upper() != customer.currency:
        # The currency is fixed once the customer has money (validate.check_currency_fixed): hold
        # its money against a record written meanwhile, which would wait and read the new currency.
        customer = ledger.lock(session, customer.id)
    values, tags = clean(session, actor, data, customer)
    check_transition(customer.status, values["status"])
    status_changed = values["status"] != customer.status
    if values["joined_on"] is None:
        values.pop("joined_on")
    if values["reseller_id"] != customer.reseller_id and customer.invoice_address_id is not None:
        values["invoice_address_id"] = None  # its reseller's address: another reseller's customer cannot use it
    for key, value in values.items():
        if getattr(customer, key) != value:
            setattr(customer, key, value)
    if tags is not None and {t.id for t in tags} != {t.id for t in customer.tags}:
        customer.tags = tags
    if status_changed:
        cascade(session, [customer.id], customer.status)
        session.expire(customer, ["services", "addresses"])
    commit(session)
    return customer


# What changing a customer's type touches: the type and the names each type needs
# (a company's name; a private customer's title, first name and surname).
TYPE_FIELDS = ("customer_type", "title", "first_name", "surname", "company_name")


def change_type(session: Session, actor, customer_id, data: dict) -> Customer:
    """Make a customer private or a company, with the fields the new type needs (committed).
    Other keys in `data` are ignored. Raises NotFound or Invalid, as update_customer."""
    return update_customer(session, actor, customer_id, {k: data[k] for k in TYPE_FIELDS if k in data})
