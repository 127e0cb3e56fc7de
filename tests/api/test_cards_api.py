"""Stored cards over the REST API: Finance adds a card (only the token is kept), lists it without the
token, charges it (a payment; declined: 422 and nothing recorded; the same key twice: 409, charged
once), makes another the default and removes one; scope (another reseller's card: 404) and roles
(403 for who does not post money). The card's number and CVC are in no answer."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Payment
from app.services.billing import cards
from tests import factories as f

NUMBER, CVC = "4242424242424242", "9731"


def key():
    return str(uuid.uuid4())


@pytest.fixture
def processor():
    fake = cards.FakeProcessor()
    before, cards._processor = cards._processor, fake
    yield fake
    cards._processor = before


def add(client, customer_id, number=NUMBER):
    return client.post("/api/v1/card/", json={"customer_id": customer_id, "number": number, "exp_month": "7",
                                              "exp_year": str(date.today().year + 1), "cvc": CVC, "key": key()})


def test_finance_adds_lists_and_charges_a_card_and_the_number_is_in_no_answer(app, api, resellers, processor):
    with app.app_context():
        ada = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id
    finance = api("finance")
    r = add(finance, ada)
    assert r.status_code == 201, r.json
    card_id = r.json["id"]
    listed = finance.get("/api/v1/card/").get_data(as_text=True)
    assert '"last4": "4242"' in listed.replace('":"', '": "') or '"last4":"4242"' in listed
    assert NUMBER not in listed and CVC not in listed and "tok_" not in listed
    charged = finance.post(f"/api/v1/card/{card_id}/charge", json={"amount": "12.50", "key": (once := key())})
    assert charged.status_code == 201 and charged.json["result"]["amount"] == "12.50"
    again = finance.post(f"/api/v1/card/{card_id}/charge", json={"amount": "12.50", "key": once})
    assert again.status_code == 409 and len(processor.charges) == 1
    declined = finance.post(f"/api/v1/card/{card_id}/charge", json={"amount": "10.13", "key": key()})
    assert declined.status_code == 422 and "declined" in declined.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert db.session.scalar(select(Customer.balance).where(Customer.id == ada)) == Decimal("-12.50")


def test_a_bad_card_is_422_without_the_number_and_default_and_remove_work(app, api, processor):
    with app.app_context():
        ada = f.customer().id
    finance = api("finance")
    bad = add(finance, ada, number="4242424242424241")
    assert bad.status_code == 422 and "4242424242424241" not in bad.get_data(as_text=True)
    first, second = add(finance, ada).json["id"], add(finance, ada, "5555555555554444").json["id"]
    assert finance.post(f"/api/v1/card/{second}/default", json={"key": key()}).json["result"]["is_default"]
    assert finance.post(f"/api/v1/card/{first}/remove", json={"key": key()}).status_code == 200
    assert [c["id"] for c in finance.get("/api/v1/card/").json["result"]] == [second]
    assert finance.post(f"/api/v1/card/{first}/charge", json={"amount": "1.00", "key": key()}).status_code == 404


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_who_does_not_post_money_has_no_cards(app, api, processor, username):
    with app.app_context():
        ada = f.customer().id
    card_id = add(api("finance"), ada).json["id"]
    client = api(username)
    assert client.get("/api/v1/card/").status_code in (401, 403)
    assert client.post(f"/api/v1/card/{card_id}/charge", json={"amount": "1.00", "key": key()}).status_code in (401, 403)
    assert len(processor.charges) == 0
