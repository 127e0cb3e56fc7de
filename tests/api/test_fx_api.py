"""The FX rates REST API: global rates kept by Admin and Finance (list, read, add, change, delete, copy
to a new date, CSV upload with a dry run), refused to everyone else; a customer's own rates read
within scope and written by Finance. Rates are strings, never floats; bad input is 422 with nothing
written."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CustomerFxRate, FxRate
from tests import factories as f


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_finance_adds_reads_changes_copies_and_deletes_a_rate_as_a_string(app, api):
    finance = api("finance")
    r = finance.post("/api/v1/fx_rate/", json={"from_currency": "EUR", "to_currency": "GBP", "rate": "0.85123456",
                                               "effective_on": "2026-11-01"})
    assert r.status_code == 201, r.json
    rate_id = r.json["id"]
    assert r.json["result"]["rate"] == "0.85123456" and r.json["result"]["from_currency"] == "EUR"
    listed = finance.get("/api/v1/fx_rate/").json
    assert listed["count"] == 1 and listed["result"][0]["rate"] == "0.85123456"
    r = finance.put(f"/api/v1/fx_rate/{rate_id}", json={"rate": "0.86"})
    assert r.status_code == 200 and r.json["result"]["rate"] == "0.86"
    r = finance.post("/api/v1/fx_rate/copy", json={"ids": [rate_id], "effective_on": "2026-12-01"})
    assert r.status_code == 200 and [c["effective_on"] for c in r.json["copied"]] == ["2026-12-01"]
    again = finance.post("/api/v1/fx_rate/copy", json={"ids": [rate_id], "effective_on": "2026-12-01"})
    assert again.json["copied"] == [] and again.json["existing"] == ["EUR/GBP"]
    assert finance.delete(f"/api/v1/fx_rate/{rate_id}").status_code == 200
    assert count(app, FxRate) == 1


@pytest.mark.parametrize("body, field", [
    ({"from_currency": "EUR", "to_currency": "GBP", "rate": "0", "effective_on": "2026-11-01"}, "rate"),
    ({"from_currency": "EUR", "to_currency": "GBP", "rate": "-1.2", "effective_on": "2026-11-01"}, "rate"),
    ({"from_currency": "EUR", "to_currency": "EUR", "rate": "1.1", "effective_on": "2026-11-01"}, "to_currency"),
    ({"from_currency": "XYZ", "to_currency": "GBP", "rate": "1.1", "effective_on": "2026-11-01"}, "from_currency"),
    ({"from_currency": "EUR", "to_currency": "GBP", "rate": 1.1, "effective_on": "2026-11-01"}, "rate"),
    ({"from_currency": "<script>", "to_currency": "GBP", "rate": "1.1", "effective_on": "2026-11-01"}, "from_currency"),
])
def test_bad_rates_are_422_naming_the_field_and_write_nothing(app, api, body, field):
    r = api("admin").post("/api/v1/fx_rate/", json=body)
    assert r.status_code == 422 and field in str(r.json), r.json
    assert count(app, FxRate) == 0


def test_an_upload_dry_run_reports_each_row_and_writes_nothing_then_all_or_nothing(app, api):
    admin = api("admin")
    text = "from,to,rate,date\nEUR,GBP,0.85,2026-11-01\nUSD,GBP,0,2026-11-01\n"
    r = admin.post("/api/v1/fx_rate/upload", json={"csv": text, "dry_run": True})
    assert r.status_code == 200 and r.json["rows"][0]["change"] == "new"
    assert r.json["errors"][0]["line"] == 3 and count(app, FxRate) == 0
    assert admin.post("/api/v1/fx_rate/upload", json={"csv": text, "dry_run": False}).status_code == 422
    assert count(app, FxRate) == 0
    r = admin.post("/api/v1/fx_rate/upload", json={"csv": text.splitlines()[1] + "\n", "dry_run": False})
    assert r.status_code == 200 and count(app, FxRate) == 1
    assert admin.post("/api/v1/fx_rate/upload", json=["not", "an", "object"]).status_code == 400


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_who_does_not_keep_rates_cannot_read_nor_write_global_ones(app, api, username):
    client = api(username)
    assert client.get("/api/v1/fx_rate/").status_code in (401, 403)
    r = client.post("/api/v1/fx_rate/", json={"from_currency": "EUR", "to_currency": "GBP", "rate": "0.85",
                                              "effective_on": "2026-11-01"})
    assert r.status_code in (401, 403) and count(app, FxRate) == 0


def test_a_customers_own_rates_are_read_within_scope_and_written_by_finance(app, api, resellers):
    with app.app_context():
        ours = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id
        theirs = f.customer(first_name="Bob", surname="Other", reseller_id=resellers["Reseller B"]).id
    finance = api("finance")
    for customer_id in (ours, theirs):
        r = finance.post("/api/v1/customer_fx_rate/", json={"customer_id": customer_id, "from_currency": "USD",
                                                             "to_currency": "GBP", "rate": "0.79",
                                                             "effective_on": "2026-11-01"})
        assert r.status_code == 201, r.json
    reseller = api("reseller_a")
    listed = reseller.get("/api/v1/customer_fx_rate/").json
    assert [row["customer_id"] for row in listed["result"]] == [ours] and listed["result"][0]["rate"] == "0.79"
    theirs_rate = db_rate_of(app, theirs)
    assert reseller.get(f"/api/v1/customer_fx_rate/{theirs_rate}").status_code == 404
    r = reseller.post("/api/v1/customer_fx_rate/", json={"customer_id": ours, "from_currency": "EUR",
                                                          "to_currency": "GBP", "rate": "0.8",
                                                          "effective_on": "2026-11-01"})
    assert r.status_code in (401, 403) and count(app, CustomerFxRate) == 2
    r = finance.post("/api/v1/customer_fx_rate/", json={"customer_id": 999999, "from_currency": "EUR",
                                                         "to_currency": "GBP", "rate": "0.8",
                                                         "effective_on": "2026-11-01"})
    assert r.status_code == 404


def db_rate_of(app, customer_id):
    with app.app_context():
        return db.session.scalar(select(CustomerFxRate.id).where(CustomerFxRate.customer_id == customer_id))


def test_an_upload_too_large_or_unreadable_and_a_copy_of_too_many_are_refused_cleanly(app, api):
    admin = api("admin")
    r = admin.post("/api/v1/fx_rate/upload", json={"csv": "EUR,GBP,0.85,2026-11-01\n" + "x" * 600_000, "dry_run": True})
    assert r.status_code == 200 and "too large" in r.json["errors"][0]["message"]
    r = admin.post("/api/v1/fx_rate/upload", json={"csv": "EUR,GBP," + "1" * 140_000 + ",2026-11-01\n", "dry_run": True})
    assert r.status_code == 200 and r.json["errors"], r.json
    r = admin.post("/api/v1/fx_rate/upload", json={"csv": "EUR,GBP,\x00,2026-11-01\n", "dry_run": False})
    assert r.status_code in (200, 400, 422)  # a NUL is refused, never a 500
    assert admin.post("/api/v1/fx_rate/copy", json={"ids": list(range(1, 2000)), "effective_on": "2026-12-01"}
                      ).status_code == 400
    assert count(app, FxRate) == 0
