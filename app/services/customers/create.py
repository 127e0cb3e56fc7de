from sqlalchemy.orm import Session

from app.models import Customer
from app.services.customers.validate import clean
from app.services.db import commit


def create_customer(session: Session, actor, data: dict) -> Customer:
    """Create a customer from raw field values; raises Invalid with every field error."""
    values, tags = clean(session, actor, data)
    if values["joined_on"] is None:
        values.pop("joined_on")
    customer = Customer(**values)
    customer.tags = tags or []
    session.add(customer)
    commit(session)
    return customer
