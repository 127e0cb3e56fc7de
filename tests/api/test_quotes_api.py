"""The quotes REST API (/api/v1/quote/): read within scope (amounts as strings in the currency's
decimals), written by Finance and Admin through services/billing/quotes.py, each write with a key
that records it once; accepting twice answers the same invoice."""
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Invoice, LedgerEntry, Quote, TaxRate
from tests import factories as f

LATER = (date.today() + timedelta(days=30)).isoformat()


def key():
    return str(uuid.uuid4())


@pytest.fixture
def zero(app):
    with app.app_context():
        return db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))


def customer(app, **fields):
    with app.app_context():
        return f.customer(**fields).id


def line(price, rate, **more):
    return {"description": "Gutter clearing", "quantity": "1", "unit_price": price, "tax_rate_id": rate, **more}


def draft(client, customer_id, *lines, **data):
    return client.post("/api/v1/quote/", json={"customer_id": customer_id, "expires_on": LATER,
                                               "lines": list(lines), "key": key(), **data})


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_finance_writes_a_draft_changes_it_sends_it_and_reads_it(app, api, zero):
    cid = customer(app, currency="BHD")
    finance = api("finance")
    r = draft(finance, cid, line("1.005", zero, quantity="3"), notes="Spring round")
    assert r.status_code == 201, r.json
    pk, result = r.json["id"], r.json["result"]
    assert (result["status"], result["number"], result["currency"], result["total"]) == ("draft", None, "BHD", "3.015")
    assert result["lines"][0]["unit_price"] == "1.005"
    r = finance.put(f"/api/v1/quote/{pk}", json={"lines": [line("2.000", zero)], "key": key()})
    assert r.status_code == 200 and r.json["result"]["total"] == "2.000"
    r = finance.post(f"/api/v1/quote/{pk}/send", json={"key": key()})
    assert r.status_code == 200 and r.json["result"]["status"] == "sent" and r.json["result"]["number"] == "QUO-1"
    assert api("readonly").get(f"/api/v1/quote/{pk}").json["result"]["lines"][0]["description"] == "Gutter clearing"
    assert finance.get("/api/v1/quote/").json["count"] == 1
    assert finance.put(f"/api/v1/quote/{pk}", json={"notes": "x", "key": key()}).status_code == 422  # sent
    assert count(app, LedgerEntry) == 0


def test_accepting_twice_answers_the_same_invoice_and_the_same_key_records_once(app, api, zero):
    cid = customer(app)
    admin = api("admin")
    pk = draft(admin, cid, line("80.00", zero)).json["id"]
    admin.post(f"/api/v1/quote/{pk}/send", json={"key": key()})
    once = key()
    r = admin.post(f"/api/v1/quote/{pk}/accept", json={"key": once})
    assert r.status_code == 200, r.json
    invoice_id = r.json["result"]["invoice_id"]
    assert admin.post(f"/api/v1/quote/{pk}/accept", json={"key": once}).status_code == 409
    again = admin.post(f"/api/v1/quote/{pk}/accept", json={"key": key()})
    assert again.status_code == 200 and again.json["result"]["invoice_id"] == invoice_id
    assert count(app, Invoice) == 1
    shown = admin.get(f"/api/v1/quote/{pk}").json["result"]
    assert shown["status"] == "accepted" and shown["invoice_id"] == invoice_id
    assert admin.post(f"/api/v1/quote/{pk}/decline", json={"key": key()}).status_code == 422


def test_decline_extend_and_delete_a_draft(app, api, zero):
    cid = customer(app)
    finance = api("finance")
    sent = draft(finance, cid, line("10.00", zero)).json["id"]
    finance.post(f"/api/v1/quote/{sent}/send", json={"key": key()})
    with app.app_context():
        db.session.execute(update(Quote).where(Quote.id == sent).values(
            issue_date=date.today() - timedelta(days=9), expires_on=date.today() - timedelta(days=1)))
        db.session.commit()
    assert finance.post(f"/api/v1/quote/{sent}/accept", json={"key": key()}).status_code == 422  # expired
    r = finance.post(f"/api/v1/quote/{sent}/extend", json={"expires_on": LATER, "key": key()})
    assert r.status_code == 200 and r.json["result"]["expires_on"] == LATER
    r = finance.post(f"/api/v1/quote/{sent}/decline", json={"key": key()})
    assert r.status_code == 200 and r.json["result"]["status"] == "declined"
    assert finance.delete(f"/api/v1/quote/{sent}").status_code == 422  # a sent quote is never deleted
    gone = draft(finance, cid, line("10.00", zero)).json["id"]
    assert finance.delete(f"/api/v1/quote/{gone}").status_code == 200
    assert finance.get(f"/api/v1/quote/{gone}").status_code == 404


@pytest.mark.parametrize("user", ["staff", "readonly", "reseller_a"])
def test_who_may_not_post_money_reads_but_writes_nothing(app, api, zero, user, resellers):
    cid = customer(app, reseller_id=resellers["Reseller A"])
    pk = draft(api("admin"), cid, line("10.00", zero)).json["id"]
    client = api(user)
    assert client.get(f"/api/v1/quote/{pk}").status_code == 200
    assert draft(client, cid, line("10.00", zero)).status_code == 403
    for action in ("send", "accept", "decline"):
        assert client.post(f"/api/v1/quote/{pk}/{action}", json={"key": key()}).status_code == 403, action
    assert client.post(f"/api/v1/quote/{pk}/extend", json={"expires_on": LATER, "key": key()}).status_code == 403
    assert client.put(f"/api/v1/quote/{pk}", json={"notes": "x", "key": key()}).status_code == 403
    assert client.delete(f"/api/v1/quote/{pk}").status_code == 403
    assert count(app, Quote) == 1


def test_another_resellers_quote_is_404_and_not_listed(app, api, zero, resellers):
    theirs = customer(app, reseller_id=resellers["Reseller B"])
    pk = draft(api("admin"), theirs, line("10.00", zero)).json["id"]
    client = api("reseller_a")
    assert client.get(f"/api/v1/quote/{pk}").status_code == 404
    assert client.get("/api/v1/quote/").json["count"] == 0
    assert api("finance").post("/api/v1/quote/", json={
        "customer_id": 999999, "expires_on": LATER, "lines": [line("1.00", zero)], "key": key()}).status_code == 404


def test_bad_input_is_a_422_with_field_errors_and_nothing_written(app, api, zero):
    cid = customer(app, currency="JPY")
    finance = api("finance")
    r = finance.post("/api/v1/quote/", json={"customer_id": cid, "lines": [line("10.5", zero)], "key": key()})
    assert r.status_code in (400, 422)
    r = draft(finance, cid, line("10.5", zero))
    assert r.status_code == 422 and "lines.0.unit_price" in str(r.json)
    negative = draft(finance, cid, line("-5", zero))  # a discount line is allowed in a draft...
    assert negative.status_code == 201
    r = finance.post(f"/api/v1/quote/{negative.json['id']}/send", json={"key": key()})
    assert r.status_code == 422 and "more than zero" in str(r.json)  # ...but a negative quote is never sent
    finance.delete(f"/api/v1/quote/{negative.json['id']}")
    r = draft(finance, cid, line("100", zero), currency="GBP")
    assert r.status_code == 422
    r = finance.post("/api/v1/quote/", json={"customer_id": cid, "expires_on": LATER,
                                             "lines": [line("<script>=HYPERLINK(1)</script>", zero)], "key": key()})
    assert r.status_code == 422
    assert finance.post("/api/v1/quote/", json={"customer_id": cid, "expires_on": LATER,
                                                "lines": [line("100", zero)]}).status_code == 422  # no key
    assert finance.post("/api/v1/quote/", data="[1]", content_type="application/json").status_code == 400
    pk = draft(finance, cid, line("100", zero)).json["id"]
    assert finance.post(f"/api/v1/quote/{pk}/extend", json={"expires_on": "2001-01-01", "key": key()}).status_code == 422
    assert finance.post(f"/api/v1/quote/{pk}/extend", json={"expires_on": "not a date", "key": key()}).status_code == 422
    assert count(app, Quote) == 1
