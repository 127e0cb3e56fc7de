"""The money lists' customer filter (filters.customers_named): a word is looked for in a customer's
first name, surname (through the surname lexicon) and company name, text with a space in the whole
name; the credits and payments lists also take a customer ID. The same rows whether the list
sorts the matches it collected or walks down its order testing each row (the walk's condition,
`apply_walking`, is put another way on PostgreSQL). Scope holds: another reseller's customer is
never matched."""
import re
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import TaxRate
from app.services.billing import invoices, payments
from app.views import datamodel, filters
from tests import factories as f


def a_customer_with_money(**fields) -> tuple[int, int, int]:
    """(customer id, its invoice's id, its credit's id)."""
    customer = f.customer(**fields)
    rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    invoice = invoices.charge(db.session, f.user("admin"), customer.id, {
        "description": "Window cleaning", "amount": "20.00", "tax_rate_id": rate}, str(uuid.uuid4()))
    credit = payments.add_credit(db.session, f.user("admin"), customer.id,
                                 {"amount": "5.00", "reason": "Goodwill"}, str(uuid.uuid4()))
    return customer.id, invoice.id, credit.id


@pytest.fixture
def people(app):
    with app.app_context():
        found = {
            "ada": a_customer_with_money(first_name="Ada", surname="Lovelace"),
            "grace": a_customer_with_money(first_name="Grace", surname="Hopper"),
            "smithy": a_customer_with_money(first_name="Joan", surname="Goldsmith"),
            "acme": a_customer_with_money(customer_type="company", company_name="Acme 100% Windows"),
            "other": a_customer_with_money(actor="reseller_b", first_name="Ada", surname="Elsewhere"),
        }
        db.session.commit()
        return found


def shown(browser, url: str, path: str) -> set[int]:
    r = browser.get(url)
    assert r.status_code == 200, url
    return {int(i) for i in re.findall(rf'href="/{path}/(\d+)"', r.get_data(as_text=True))}


CASES = [("ada", {"ada", "other"}), ("LOVE", {"ada"}), ("smith", {"smithy"}), ("acme", {"acme"}),
         ("100%", {"acme"}), ("1_0", set()), ("Ada Lovelace", {"ada"}), ("da lov", {"ada"}),
         ("<script>", set()), ("zzz", set())]


@pytest.mark.parametrize("how", ["collected", "walked", "walked broadly"])
@pytest.mark.parametrize("text,expected", CASES)
def test_invoices_of_the_customers_named(app, login, people, monkeypatch, how, text, expected):
    if how != "collected":  # never collect the matches: walk down the list's order
        monkeypatch.setattr(datamodel, "MATERIALIZE_BELOW", 0)
        monkeypatch.setattr(filters, "FEW_CUSTOMERS", 0)
    if how == "walked broadly":  # as if most customers matched (PostgreSQL: no hash of their ids)
        monkeypatch.setattr(filters, "HASHED_CUSTOMERS", 0)
    browser = login("admin")
    found = shown(browser, f"/invoices/list/?_flt_0_customer={text}", "invoices/show")
    assert found == {people[name][1] for name in expected}


@pytest.mark.parametrize("how", ["collected", "walked", "walked broadly"])
def test_credits_and_payments_by_name_or_id_in_scope(app, login, people, monkeypatch, how):
    if how != "collected":
        monkeypatch.setattr(datamodel, "MATERIALIZE_BELOW", 0)
        monkeypatch.setattr(filters, "FEW_CUSTOMERS", 0)
    if how == "walked broadly":
        monkeypatch.setattr(filters, "HASHED_CUSTOMERS", 0)
    admin = login("admin")
    assert shown(admin, "/credits/list/?_flt_0_customer=ada", "credits/show") == {
        people["ada"][2], people["other"][2]}
    assert shown(admin, f"/credits/list/?_flt_0_customer=%23{people['grace'][0]}", "credits/show") == {
        people["grace"][2]}
    assert shown(admin, "/payments/list/?_flt_0_customer=hopper", "credits/show") == {people["grace"][2]}
    reseller = login("reseller_a")  # sees none of these customers (they are no reseller's or B's)
    assert shown(reseller, "/credits/list/?_flt_0_customer=ada", "credits/show") == set()
    assert shown(reseller, f"/invoices/list/?_flt_0_customer={people['other'][0]}", "invoices/show") == set()


@pytest.mark.parametrize("how", ["collected", "walked", "walked broadly"])
def test_a_hash_and_a_number_is_that_customer_only_never_a_name_holding_the_digits(app, login, people, monkeypatch,
                                                                                  how):
    if how != "collected":
        monkeypatch.setattr(datamodel, "MATERIALIZE_BELOW", 0)
        monkeypatch.setattr(filters, "FEW_CUSTOMERS", 0)
    if how == "walked broadly":
        monkeypatch.setattr(filters, "HASHED_CUSTOMERS", 0)
    with app.app_context():
        digits = a_customer_with_money(customer_type="company", company_name=f"Unit {people['grace'][0]} Traders")
        db.session.commit()
    admin = login("admin")
    grace = people["grace"][0]
    assert shown(admin, f"/credits/list/?_flt_0_customer=%23{grace}", "credits/show") == {people["grace"][2]}
    # Without the hash: that ID or any name holding the digits (others' names may hold them too).
    assert {people["grace"][2], digits[2]} <= shown(admin, f"/credits/list/?_flt_0_customer={grace}", "credits/show")
    assert shown(admin, "/credits/list/?_flt_0_customer=%23nobody", "credits/show") == set()
