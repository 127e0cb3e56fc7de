"""The money REST API: invoices, payments and credits read within scope (amounts as strings with
their currency's decimals), written by Finance and Admin through the billing services, each write
with a key that records it once. The suite's ledger check runs after each test."""
import uuid
from decimal import Decimal

import prison
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Invoice, Payment, PaymentMethod, TaxRate
from tests import factories as f


def key():
    return str(uuid.uuid4())


@pytest.fixture
def ids(app):
    """The ids the tests send: tax rates and the cash payment method (migration 0018's)."""
    with app.app_context():
        rates = dict(db.session.execute(select(TaxRate.name, TaxRate.id)).all())
        cash = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    return {"standard": rates["Standard rate"], "reduced": rates["Reduced rate"], "zero": rates["Zero rate"],
            "cash": cash}


def customer(app, **fields):
    with app.app_context():
        return f.customer(**fields).id


def line(price="100.00", rate=None, **more):
    return {"description": "Window cleaning", "quantity": "1", "unit_price": price, "tax_rate_id": rate, **more}


def draft(client, customer_id, *lines, **data):
    return client.post("/api/v1/invoice/", json={"customer_id": customer_id, "lines": list(lines), "key": key(),
                                                 **data})


def issued(client, customer_id, *lines):
    r = draft(client, customer_id, *lines)
    assert r.status_code == 201, r.json
    r = client.post(f"/api/v1/invoice/{r.json['id']}/issue", json={"key": key()})
    assert r.status_code == 200, r.json
    return r.json["result"] | {"id": r.json["id"]}


def balance(app, customer_id):
    with app.app_context():
        return db.session.scalar(select(Customer.balance).where(Customer.id == customer_id))


def test_finance_writes_a_draft_with_lines_changes_it_issues_it_and_reads_it(app, api, ids):
    cid = customer(app)
    finance = api("finance")
    r = draft(finance, cid, line("0.33", ids["standard"], quantity="3"), line("10.00", ids["zero"]),
              notes="Thanks")
    assert r.status_code == 201, r.json
    invoice_id, result = r.json["id"], r.json["result"]
    assert (result["status"], result["number"], result["currency"]) == ("draft", None, "GBP")
    assert (result["net_total"], result["tax_total"], result["total"]) == ("10.99", "0.20", "11.19")
    assert [(row["net"], row["tax"], row["unit_price"]) for row in result["lines"]] == [
        ("0.99", "0.20", "0.33"), ("10.00", "0.00", "10.00")]
    r = finance.put(f"/api/v1/invoice/{invoice_id}", json={"lines": [line("50.00", ids["standard"])], "key": key()})
    assert r.status_code == 200, r.json
    assert r.json["result"]["total"] == "60.00" and len(r.json["result"]["lines"]) == 1
    assert balance(app, cid) == 0  # a draft posts nothing
    r = finance.post(f"/api/v1/invoice/{invoice_id}/issue", json={"key": key()})
    assert r.status_code == 200, r.json
    assert r.json["result"]["status"] == "issued" and r.json["result"]["number"]
    assert r.json["result"]["outstanding"] == "60.00"
    assert balance(app, cid) == Decimal("60.00")
    shown = api("readonly").get(f"/api/v1/invoice/{invoice_id}").json["result"]
    assert shown["lines"][0]["description"] == "Window cleaning" and shown["total"] == "60.00"
    listed = finance.get("/api/v1/invoice/").json
    assert listed["count"] == 1 and listed["result"][0]["total"] == "60.00"
    assert "lines" not in listed["result"][0]


@pytest.mark.parametrize("currency, price, total", [("JPY", "1001", "1201"), ("BHD", "1.005", "1.206")])
def test_amounts_are_strings_with_the_currencys_own_decimals(app, api, ids, currency, price, total):
    cid = customer(app, currency=currency)
    r = draft(api("admin"), cid, line(price, ids["standard"]))
    assert r.status_code == 201, r.json
    assert r.json["result"]["total"] == total and r.json["result"]["lines"][0]["unit_price"] == price


def test_every_write_needs_a_key_and_the_same_key_twice_records_once(app, api, ids):
    cid = customer(app)
    client = api("finance")
    body = {"customer_id": cid, "lines": [line("10.00", ids["zero"])]}
    for bad in ({}, {"key": "not-a-uuid"}, {"key": 12345}):
        r = client.post("/api/v1/invoice/", json={**body, **bad})
        assert r.status_code == 422 and set(r.json["message"]) == {"key"}, r.json
    same = key()
    assert client.post("/api/v1/invoice/", json={**body, "key": same}).status_code == 201
    again = client.post("/api/v1/invoice/", json={**body, "key": same})
    assert again.status_code == 409 and "already recorded" in again.json["message"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1
    invoice = issued(client, cid, line("40.00", ids["zero"]))
    payment = {"invoice_id": invoice["id"], "amount": "10.00", "method_id": ids["cash"], "key": key()}
    assert client.post("/api/v1/payment/", json=payment).status_code == 201
    assert client.post("/api/v1/payment/", json=payment).status_code == 409
    assert client.post(f"/api/v1/invoice/{invoice['id']}/issue", json={}).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert balance(app, cid) == Decimal("30.00")


def test_field_errors_answer_422_naming_the_field_and_another_currency_names_both(app, api, ids):
    cid = customer(app, currency="GBP")
    client = api("finance")
    r = draft(client, cid, line("0.335", ids["standard"]), {"quantity": "0", "unit_price": "1.00"})
    assert r.status_code == 422
    assert {"lines.0.unit_price", "lines.1.description", "lines.1.quantity"} <= set(r.json["message"])
    r = draft(client, cid, line("1.00"), currency="EUR")
    assert r.status_code == 422
    assert "GBP" in r.json["message"]["currency"][0] and "EUR" in r.json["message"]["currency"][0]
    r = client.post("/api/v1/credit/adjustment", json={"customer_id": cid, "amount": "5.00", "currency": "usd",
                                                       "reason": "Opening", "key": key()})
    assert r.status_code == 422 and "USD" in r.json["message"]["currency"][0]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_staff_and_read_only_read_but_post_no_money(app, api, ids):
    cid = customer(app)
    issued(api("admin"), cid, line("10.00", ids["zero"]))
    for username in ("staff", "readonly"):
        client = api(username)
        assert client.get("/api/v1/invoice/").json["count"] == 1
        assert client.get("/api/v1/payment/").status_code == 200
        assert client.get("/api/v1/credit/").status_code == 200
        assert draft(client, cid, line("1.00")).status_code == 403
        assert client.post("/api/v1/credit/", json={"customer_id": cid, "amount": "1.00", "reason": "x",
                                                    "key": key()}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_a_reseller_sees_its_own_customers_money_only(app, api, ids, resellers):
    mine = customer(app, reseller_id=resellers["Reseller A"])
    theirs = customer(app, reseller_id=resellers["Reseller B"])
    admin = api("admin")
    own = issued(admin, mine, line("10.00", ids["zero"]))
    other = issued(admin, theirs, line("20.00", ids["zero"]))
    credit = admin.post("/api/v1/credit/", json={"customer_id": theirs, "amount": "5.00", "reason": "Goodwill",
                                                 "key": key()}).json["id"]
    client = api("reseller_a")
    listed = client.get("/api/v1/invoice/").json
    assert [row["id"] for row in listed["result"]] == [own["id"]] and listed["count"] == 1
    assert client.get(f"/api/v1/invoice/{own['id']}").status_code == 200
    assert client.get(f"/api/v1/invoice/{other['id']}").status_code == 404
    assert client.get(f"/api/v1/credit/{credit}").status_code == 404
    assert client.get(f"/api/v1/payment/{credit}").status_code == 404
    assert client.get("/api/v1/credit/").json["count"] == 0
    assert draft(client, mine, line("1.00")).status_code == 403
    q = prison.dumps({"filters": [{"col": "customer_id", "opr": "eq", "value": theirs}]})
    assert api("reseller_a").get(f"/api/v1/invoice/?q={q}").json["count"] == 0


def test_a_draft_is_deleted_an_issued_invoice_is_voided_with_a_reason(app, api, ids):
    cid = customer(app)
    client = api("finance")
    gone = draft(client, cid, line("5.00")).json["id"]
    assert client.delete(f"/api/v1/invoice/{gone}").status_code == 200
    assert client.get(f"/api/v1/invoice/{gone}").status_code == 404
    invoice = issued(client, cid, line("50.00", ids["zero"]))
    r = client.delete(f"/api/v1/invoice/{invoice['id']}")
    assert r.status_code == 422 and "Void it" in r.json["message"]["status"][0]
    assert client.post(f"/api/v1/payment/", json={"invoice_id": invoice["id"], "amount": "20.00",
                                                  "method_id": ids["cash"], "key": key()}).status_code == 201
    r = client.post(f"/api/v1/invoice/{invoice['id']}/void", json={"key": key()})
    assert r.status_code == 422 and set(r.json["message"]) == {"reason"}
    r = client.post(f"/api/v1/invoice/{invoice['id']}/void", json={"reason": "Raised in error", "key": key()})
    assert r.status_code == 200, r.json
    assert (r.json["result"]["status"], r.json["result"]["outstanding"]) == ("void", "0.00")
    assert r.json["result"]["number"] == invoice["number"]
    # What was paid on it is account credit now.
    sources = client.get("/api/v1/payment/").json["result"]
    assert [(p["kind"], p["allocated"], p["unallocated"]) for p in sources] == [("payment", "0.00", "20.00")]
    assert balance(app, cid) == Decimal("-20.00")
    assert client.put(f"/api/v1/invoice/{invoice['id']}", json={"notes": "x", "key": key()}).status_code == 422


def test_payments_credits_refunds_apply_and_adjustments(app, api, ids):
    cid = customer(app)
    client = api("finance")
    old = issued(client, cid, line("30.00", ids["zero"]))
    new = issued(client, cid, line("30.00", ids["zero"]))
    r = client.post("/api/v1/payment/", json={"invoice_id": old["id"], "amount": "40.00", "method_id": ids["cash"],
                                              "reference": "Cheque 12", "key": key()})
    assert r.status_code == 201, r.json
    paid = r.json["result"]
    assert (paid["kind"], paid["amount"], paid["allocated"], paid["unallocated"], paid["is_credit"]) == (
        "payment", "40.00", "30.00", "10.00", True)
    assert paid["method"] == {"name": "Cash"}
    assert client.get(f"/api/v1/invoice/{old['id']}").json["result"]["status"] == "paid"
    r = client.post("/api/v1/payment/external", json={"customer_id": cid, "amount": "5.00", "method_id": ids["cash"],
                                                      "key": key()})
    assert r.status_code == 201 and r.json["result"]["kind"] == "external"
    r = client.post("/api/v1/credit/", json={"customer_id": cid, "amount": "7.00", "key": key()})
    assert r.status_code == 422 and "reason" in r.json["message"]
    r = client.post("/api/v1/credit/", json={"customer_id": cid, "amount": "7.00", "reason": "Late visit",
                                             "key": key()})
    assert r.status_code == 201 and r.json["result"]["kind"] == "credit"
    goodwill = r.json["id"]
    r = client.post(f"/api/v1/credit/{goodwill}/refund", json={"amount": "8.00", "method_id": ids["cash"],
                                                               "key": key()})
    assert r.status_code == 422 and "£7.00" in r.json["message"]["amount"][0]
    r = client.post(f"/api/v1/credit/{goodwill}/refund", json={"amount": "2.00", "method_id": ids["cash"],
                                                               "key": key()})
    assert r.status_code == 201 and (r.json["result"]["kind"], r.json["result"]["amount"]) == ("refund", "2.00")
    credit_ids = [c["id"] for c in client.get("/api/v1/credit/").json["result"]]
    assert len(credit_ids) == 3
    r = client.post("/api/v1/credit/apply", json={"ids": credit_ids, "key": key()})
    assert r.status_code == 200, r.json
    assert r.json["result"] == {"used": 3, "applied": {"GBP": "20.00"}}
    shown = client.get(f"/api/v1/invoice/{new['id']}").json["result"]
    assert (shown["status"], shown["outstanding"]) == ("part_paid", "10.00")
    r = client.post("/api/v1/credit/adjustment", json={"customer_id": cid, "amount": "-4.00",
                                                       "reason": "Opening balance", "key": key()})
    assert r.status_code == 201 and r.json["result"]["amount"] == "-4.00"
    # 60 invoiced - 40 - 5 - 7 paid or credited + 2 refunded - 4 adjusted
    assert balance(app, cid) == Decimal("6.00")
    r = client.post("/api/v1/credit/apply", json={"ids": [], "key": key()})
    assert r.status_code == 422 and "ids" in r.json["message"]


def test_a_customer_with_money_keeps_its_currency_through_the_customer_api(app, api, ids):
    cid = customer(app, currency="GBP")
    admin = api("admin")
    assert admin.put(f"/api/v1/customers/{cid}", json={"currency": "EUR"}).status_code == 200
    assert admin.put(f"/api/v1/customers/{cid}", json={"currency": "GBP"}).status_code == 200
    issued(admin, cid, line("10.00", ids["zero"]))
    r = admin.put(f"/api/v1/customers/{cid}", json={"currency": "EUR"})
    assert r.status_code == 422
    assert "GBP" in r.json["message"]["currency"][0] and "EUR" in r.json["message"]["currency"][0]
    with app.app_context():
        assert db.session.get(Customer, cid).currency == "GBP"


def test_tax_precedence_through_the_api_exempt_then_special_rate_then_the_lines(app, api, ids):
    admin = api("admin")
    plain, special, exempt = (customer(app) for _ in range(3))
    assert admin.put(f"/api/v1/customers/{special}", json={"tax_rate_id": ids["reduced"]}).status_code == 200
    r = admin.put(f"/api/v1/customers/{exempt}", json={"tax_exempt": True, "tax_rate_id": ids["reduced"]})
    assert r.status_code == 200, r.json
    r = admin.put(f"/api/v1/customers/{plain}", json={"tax_rate_id": 987654})
    assert r.status_code == 422 and "tax_rate_id" in r.json["message"]
    charged = []
    for cid in (plain, special, exempt):
        r = draft(admin, cid, line("100.00", ids["standard"]))
        assert r.status_code == 201, r.json
        charged.append((r.json["result"]["total"], r.json["result"]["lines"][0]["tax_name"]))
    assert charged == [("120.00", "Standard rate"), ("105.00", "Reduced rate"), ("100.00", "Exempt")]


@pytest.mark.parametrize("resource", ["invoice", "payment", "credit"])
def test_the_money_lists_refuse_arguments_they_cannot_use_and_answer_valid_ones(app, api, resource):
    client = api("admin")
    for bad in ({"page_size": 0}, {"order_column": "no_such_column", "order_direction": "asc"},
                {"filters": [{"col": "no_such_column", "opr": "eq", "value": 1}]}):
        r = client.get(f"/api/v1/{resource}/", query_string={"q": prison.dumps(bad)})
        assert r.status_code == 400 and r.json["message"], (bad, r.status_code)
    q = prison.dumps({"page": 0, "page_size": 100, "order_column": "id", "order_direction": "desc"})
    assert client.get(f"/api/v1/{resource}/", query_string={"q": q}).status_code == 200


def test_a_columns_selection_keeps_amounts_as_strings_in_the_currency(app, api, ids):
    cid = customer(app, currency="JPY")
    invoice_id = draft(api("admin"), cid, line("1000", ids["zero"])).json["id"]
    r = api("admin").get(f"/api/v1/invoice/{invoice_id}", query_string={"q": "(columns:!(total,currency))"})
    assert r.json["result"] == {"total": "1000", "currency": "JPY"}
    r = api("admin").get("/api/v1/invoice/", query_string={"q": "(columns:!(id,outstanding))"})
    assert r.json["result"] == [{"id": invoice_id, "outstanding": "0"}]


def test_a_credit_is_allocated_to_a_chosen_invoice_and_its_reference_changed(app, api, ids):
    finance = api("finance")
    ada = customer(app)
    invoice = issued(finance, ada, line("50.00", ids["zero"]))
    credit = finance.post("/api/v1/payment/external", json={"customer_id": ada, "amount": "80.00",
                                                            "method_id": ids["cash"], "key": key()}).json["id"]
    r = finance.post(f"/api/v1/payment/{credit}/allocate", json={"invoice_id": invoice["id"], "amount": "60.00",
                                                                 "key": key()})
    assert r.status_code == 422 and "outstanding" in r.json["message"]["amount"][0]  # more than it owes
    r = finance.post(f"/api/v1/payment/{credit}/allocate", json={"invoice_id": invoice["id"], "amount": "30.00",
                                                                 "allocated_on": "2026-01-31", "key": key()})
    assert r.status_code == 201 and r.json["result"]["amount"] == "30.00"
    assert r.json["result"]["allocated_on"] == "2026-01-31"
    bad = finance.post(f"/api/v1/payment/{credit}/allocate", json={"invoice_id": invoice["id"], "amount": "1.00",
                                                                   "allocated_on": "31/01/2026", "key": key()})
    assert bad.status_code == 422 and "allocated_on" in bad.json["message"]
    other = issued(finance, customer(app), line("10.00", ids["zero"]))
    assert finance.post(f"/api/v1/payment/{credit}/allocate", json={
        "invoice_id": other["id"], "amount": "1.00", "key": key()}).status_code == 422  # another customer's
    assert api("staff").post(f"/api/v1/payment/{credit}/allocate", json={
        "invoice_id": invoice["id"], "amount": "1.00", "key": key()}).status_code == 403
    r = finance.post(f"/api/v1/payment/{credit}/details", json={"reference": "BACS 99", "amount": "1"})
    assert r.status_code == 422 and "amount" in r.json["message"]  # nothing else of it changes
    r = finance.post(f"/api/v1/payment/{credit}/details", json={"reference": "BACS 99"})
    assert r.status_code == 200 and r.json["result"]["reference"] == "BACS 99"


def test_a_card_number_is_not_typed_into_a_payments_reference_afterwards(app, api, ids):
    finance = api("finance")
    ada = customer(app)
    credit = finance.post("/api/v1/payment/external", json={"customer_id": ada, "amount": "5.00",
                                                            "method_id": ids["cash"], "key": key()}).json["id"]
    r = finance.post(f"/api/v1/payment/{credit}/details", json={"reference": "4242 4242 4242 4242"})
    assert r.status_code == 422 and "reference" in r.json["message"]


def test_issue_takes_the_answer_to_ask_and_refuses_a_word_that_is_not_one(app, api, ids):
    cid = customer(app, use_credit="ask")
    finance = api("finance")
    r = finance.post("/api/v1/payment/external", json={"customer_id": cid, "amount": "30.00",
                                                        "method_id": ids["cash"], "key": key()})
    assert r.status_code == 201, r.json
    first = draft(finance, cid, line("10.00", ids["zero"])).json["id"]
    r = finance.post(f"/api/v1/invoice/{first}/issue", json={"key": key(), "use_credit": "perhaps"})
    assert r.status_code == 422 and "use_credit" in r.json["message"]
    with app.app_context():
        assert db.session.get(Invoice, first).status == "draft"
    r = finance.post(f"/api/v1/invoice/{first}/issue", json={"key": key(), "use_credit": False})
    assert (r.status_code, r.json["result"]["outstanding"]) == (200, "10.00")
    second = draft(finance, cid, line("10.00", ids["zero"])).json["id"]
    r = finance.post(f"/api/v1/invoice/{second}/issue", json={"key": key(), "use_credit": True})
    assert (r.status_code, r.json["result"]["status"], r.json["result"]["outstanding"]) == (200, "paid", "0.00")
    assert balance(app, cid) == Decimal("-10.00")
