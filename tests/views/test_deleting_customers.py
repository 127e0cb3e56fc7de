"""Deleting customers through HTTP: the form's delete, the REST DELETE and the bulk delete follow
one set of rules (services/customers/delete.py)."""
import re

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert

from app.extensions import db
from app.models import Customer
from app.services.customers import delete as deleting
from tests import factories as f


@pytest.fixture
def with_money(app, monkeypatch):
    """A customer with a row in a table registered as holding financial documents."""
    table = Table("test_payment", MetaData(), Column("id", Integer, primary_key=True),
                  Column("customer_id", Integer, nullable=False))
    monkeypatch.setattr(deleting, "FINANCIAL_DOCUMENTS", [table])
    with app.app_context():
        table.create(db.engine)
        pk = f.customer().id
        db.session.execute(insert(table).values(customer_id=pk))
        db.session.commit()
    yield pk
    with app.app_context():
        table.drop(db.engine)


def still_there(app, pk) -> bool:
    with app.app_context():
        return db.session.get(Customer, pk) is not None


def test_a_customer_with_money_records_is_kept_by_the_form_the_api_and_the_bulk_delete(app, login, api, with_money):
    admin = login("admin")
    r = admin.post(f"/customers/delete/{with_money}", follow_redirects=True)
    assert "cannot be deleted" in r.get_data(as_text=True)
    assert still_there(app, with_money)
    r = api("admin").delete(f"/api/v1/customers/{with_money}")
    assert r.status_code == 422
    assert still_there(app, with_money)
    page = admin.post("/customers/action_post", {"action": "bulk_delete", "rowid": [str(with_money)]})
    key = re.search(r'name="form_key" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    job = admin.post("/customers/bulk/bulk_delete", {"rowid": [str(with_money)], "form_key": key,
                                                     "confirm": "delete"}, follow_redirects=True)
    assert "has invoices, credit notes or payments" in job.get_data(as_text=True)
    assert still_there(app, with_money)
