"""The credit note REST API (/api/v1/credit_note/): read within scope with amounts as strings in
their currency's decimals; issued against an invoice or a customer and voided by Finance and Admin,
each write with a key that records it once; bad input answers 422 with field errors."""
import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CreditNote, Invoice, TaxRate
from app.services.billing import invoices
from tests import factories as f


def key():
    return str(uuid.uuid4())


ZERO = {}


@pytest.fixture(autouse=True)
def _zero_rate(app):
    with app.app_context():
        ZERO["id"] = zero_rate()


def zero_rate():
    return ZERO.get("id") or db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))


def an_invoice(app, actor="admin", currency="GBP", price="100.00"):
    with app.app_context():
        customer = f.customer(actor=actor, currency=currency)
        invoice = invoices.create_draft(db.session, f.user("admin"), customer.id, {"lines": [
            {"description": "Work", "quantity": 1, "unit_price": price, "tax_rate_id": zero_rate()}]}, key(),
            issue_now=True)
        return customer.id, invoice.id


def body(price="40.00", **data):
    with_rate = data.pop("rate", "zero")
    if with_rate == "zero":
        with_rate = zero_rate()
    return {"description": "Labour reduction", "key": key(),
            "lines": [{"description": "Less labour", "quantity": "1", "unit_price": price, "tax_rate_id": with_rate}],
            **data}


def test_finance_credits_an_invoice_and_reads_it_back(app, api):
    customer_id, invoice_id = an_invoice(app)
    finance = api("finance")
    r = finance.post("/api/v1/credit_note/", json=body(invoice_id=invoice_id))
    assert r.status_code == 201, r.json
    note = r.json["result"]
    assert note["number"] == "CN-1" and note["total"] == "40.00" and note["invoice_id"] == invoice_id
    assert note["lines"][0]["net"] == "40.00"
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).outstanding == 60
    listed = finance.get("/api/v1/credit_note/").json
    assert [n["number"] for n in listed["result"]] == ["CN-1"]
    r = finance.post("/api/v1/credit_note/", json=body(customer_id=customer_id))
    assert r.status_code == 201 and r.json["result"]["invoice_id"] is None


def test_the_same_key_twice_records_once(app, api):
    _, invoice_id = an_invoice(app)
    finance = api("finance")
    data = body(invoice_id=invoice_id)
    assert finance.post("/api/v1/credit_note/", json=data).status_code == 201
    assert finance.post("/api/v1/credit_note/", json=data).status_code == 409
    with app.app_context():
        assert db.session.scalar(select(func.count(CreditNote.id))) == 1


def test_bad_input_answers_422_with_field_errors(app, api):
    customer_id, invoice_id = an_invoice(app)
    finance = api("finance")
    r = finance.post("/api/v1/credit_note/", json=body("150.00", invoice_id=invoice_id))
    assert r.status_code == 422 and "total" in r.json["message"]
    r = finance.post("/api/v1/credit_note/", json=body("-1", invoice_id=invoice_id))
    assert r.status_code == 422 and "lines" in r.json["message"]
    r = finance.post("/api/v1/credit_note/", json=body("1.234", customer_id=customer_id))
    assert r.status_code == 422 and "lines.0.unit_price" in r.json["message"]
    r = finance.post("/api/v1/credit_note/", json=body(customer_id=customer_id, description=""))
    assert r.status_code == 422 and "description" in r.json["message"]
    r = finance.post("/api/v1/credit_note/", json=body(customer_id=customer_id, currency="EUR"))
    assert r.status_code == 422 and "currency" in r.json["message"]
    r = finance.post("/api/v1/credit_note/", json={**body(customer_id=customer_id), "key": "nope"})
    assert r.status_code == 422 and "key" in r.json["message"]
    assert finance.post("/api/v1/credit_note/", json=[1]).status_code == 400
    r = finance.post("/api/v1/credit_note/", json=body())
    assert r.status_code == 422 and "customer_id" in r.json["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count(CreditNote.id))) == 0


def test_void_and_void_again(app, api):
    _, invoice_id = an_invoice(app)
    finance = api("finance")
    pk = finance.post("/api/v1/credit_note/", json=body(invoice_id=invoice_id)).json["id"]
    assert finance.post(f"/api/v1/credit_note/{pk}/void", json={"key": key()}).status_code == 422  # no reason
    r = finance.post(f"/api/v1/credit_note/{pk}/void", json={"key": key(), "reason": "Wrong"})
    assert r.status_code == 200 and r.json["result"]["status"] == "void"
    assert finance.post(f"/api/v1/credit_note/{pk}/void", json={"key": key(), "reason": "Again"}).status_code == 409


def test_amounts_keep_their_currencys_decimals(app, api):
    _, invoice_id = an_invoice(app, currency="BHD", price="10.000")
    r = api("finance").post("/api/v1/credit_note/", json=body("1.005", invoice_id=invoice_id))
    assert r.status_code == 201 and r.json["result"]["total"] == "1.005"
    _, invoice_id = an_invoice(app, currency="JPY", price="1000")
    r = api("finance").post("/api/v1/credit_note/", json=body("333", invoice_id=invoice_id))
    assert r.status_code == 201 and r.json["result"]["total"] == "333"


def test_who_may_not_post_money_reads_but_cannot_write_and_resellers_see_their_own(app, api):
    _, invoice_id = an_invoice(app, actor="reseller_a")
    pk = api("finance").post("/api/v1/credit_note/", json=body(invoice_id=invoice_id)).json["id"]
    for user in ("staff", "readonly", "reseller_a"):
        client = api(user)
        assert client.get(f"/api/v1/credit_note/{pk}").status_code == 200, user
        assert client.post("/api/v1/credit_note/", json=body(invoice_id=invoice_id)).status_code == 403, user
        assert client.post(f"/api/v1/credit_note/{pk}/void", json={"key": key(), "reason": "x"}).status_code == 403
    reseller_b = api("reseller_b")
    assert reseller_b.get(f"/api/v1/credit_note/{pk}").status_code == 404
    assert reseller_b.get("/api/v1/credit_note/").json["count"] == 0
