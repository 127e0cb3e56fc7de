"""The money downloads over HTTP: invoices (the list's filter and sort), credits and payments (with
the method's nominal code), the ledger and aged receivables (views/receivables.py). Each is a
streamed CSV of the user's scope only, formula-safe, and refuses (400) what it cannot apply."""
import csv
import io
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import PaymentMethod, TaxRate
from app.services.billing import invoices, payments
from tests import factories as f

TODAY = date.today()
INVOICE_HEADER = ["Number", "Customer ID", "Customer", "Issue date", "Due date", "Status", "Currency", "Net", "Tax",
                  "Total", "Outstanding"]


def key():
    return str(uuid.uuid4())


def issued(customer_id, price, issue_date=None, due_date=None, tax="Zero rate"):
    admin = f.user("admin")
    data = {"lines": [{"description": "Window clean", "quantity": 1, "unit_price": price,
                       "tax_rate_id": db.session.scalar(select(TaxRate.id).where(TaxRate.name == tax))}]}
    if issue_date:
        data["issue_date"] = issue_date.isoformat()
    if due_date:
        data["due_date"] = due_date.isoformat()
    draft = invoices.create_draft(db.session, admin, customer_id, data, key())
    return invoices.issue(db.session, admin, draft.id, key())


def pay(invoice, amount, on=None, **data):
    method = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Card"))
    return payments.record_payment(db.session, f.user("admin"), invoice.id, {
        "amount": amount, "method_id": method, "received_on": (on or TODAY).isoformat(), **data}, key())


def read_csv(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    return table[0], [dict(zip(table[0], row)) for row in table[1:]]


@pytest.fixture
def books(app, resellers):
    """Reseller A's customers: "Ada" (GBP: two invoices, one part-paid with a reference that is a
    formula) and "+cmd" (JPY); Reseller B's "Bob" (BHD). Returns the invoice numbers by name."""
    with app.app_context():
        ada = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id
        cmd = f.customer(customer_type="company", company_name="+cmd", currency="JPY",
                         reseller_id=resellers["Reseller A"]).id
        bob = f.customer(first_name="Bob", surname="Other", currency="BHD", reseller_id=resellers["Reseller B"]).id
        old = issued(ada, "100.00", issue_date=TODAY - timedelta(days=70), due_date=TODAY - timedelta(days=40),
                     tax="Standard rate")
        pay(old, "50.00", on=TODAY - timedelta(days=10), reference='=HYPERLINK("http://evil.example","x")')
        new = issued(ada, "30.00", issue_date=TODAY - timedelta(days=2), due_date=TODAY + timedelta(days=28))
        yen = issued(cmd, "1500", issue_date=TODAY - timedelta(days=100), due_date=TODAY - timedelta(days=95))
        dinar = issued(bob, "2.125", issue_date=TODAY - timedelta(days=20), due_date=TODAY - timedelta(days=20))
        return {"old": old.number, "new": new.number, "yen": yen.number, "dinar": dinar.number}


# ---- invoices -------------------------------------------------------------------------------------

def test_the_invoices_csv_has_the_lists_rows_in_its_scope_with_each_currencys_decimals(login, books):
    header, rows = read_csv(login("reseller_a").get("/invoices/export.csv"))
    assert header == INVOICE_HEADER
    assert [r["Number"] for r in rows] == [books["yen"], books["new"], books["old"]]  # newest first, as the list
    old = rows[2]
    assert (old["Customer"], old["Status"], old["Currency"], old["Net"], old["Tax"], old["Total"],
            old["Outstanding"]) == ("Ada Lovelace", "Part-paid", "GBP", "100.00", "20.00", "120.00", "70.00")
    assert old["Issue date"] == (TODAY - timedelta(days=70)).isoformat()
    assert (rows[0]["Customer"], rows[0]["Total"], rows[0]["Currency"]) == ("'+cmd", "1500", "JPY")
    _header, everyone = read_csv(login("admin").get("/invoices/export.csv"))
    assert [r["Total"] for r in everyone if r["Currency"] == "BHD"] == ["2.125"]
    _header, theirs = read_csv(login("reseller_b").get("/invoices/export.csv"))
    assert [r["Number"] for r in theirs] == [books["dinar"]]


def test_the_invoices_csv_applies_the_lists_filters_and_sort_and_refuses_one_it_cannot(login, books):
    browser = login("finance")
    _h, rows = read_csv(browser.get("/invoices/export.csv?_flt_0_customer=Lovelace&_oc_InvoiceView=total"
                                    "&_od_InvoiceView=asc"))
    assert [r["Number"] for r in rows] == [books["new"], books["old"]]
    _h, rows = read_csv(browser.get("/invoices/export.csv?_flt_0_status=part_paid"))
    assert [r["Number"] for r in rows] == [books["old"]]
    assert browser.get("/invoices/export.csv?_flt_0_nosuchcolumn=1").status_code == 400
    assert browser.get("/invoices/export.csv?_flt_9_total=1").status_code == 400  # total has no filter 9
    _h, rows = read_csv(browser.get("/invoices/export.csv?_flt_0_total=abc"))  # as the list: matches nothing
    assert rows == []
    assert browser.get("/invoices/export.csv?_oc_InvoiceView=nosuchcolumn").status_code == 400


@pytest.mark.parametrize("role", ["admin", "finance", "staff", "readonly", "reseller_a"])
def test_who_sees_the_invoices_and_credits_lists_may_download_them(login, role):
    browser = login(role)
    for page, download in (("/invoices/list/", "/invoices/export.csv"), ("/credits/list/", "/credits/export.csv")):
        html = browser.get(page).get_data(as_text=True)
        assert 'id="export-csv"' in html and download in html
        assert browser.get(download).status_code == 200
    assert "/credits/payments.csv" in browser.get("/credits/list/").get_data(as_text=True)
    assert browser.get("/credits/payments.csv").status_code == 200


# ---- credits and payments -------------------------------------------------------------------------

def test_the_credits_csv_has_the_methods_nominal_code(app, login, books):
    _header, rows = read_csv(login("admin").get("/credits/export.csv"))
    assert [(r["Method"], r["Nominal code"], r["Remaining"]) for r in rows] == []  # 50.00 on 120.00: no credit
    with app.app_context():
        customer = f.customer(surname="Over")
        pay(issued(customer.id, "5.00"), "8.00", reference="@ref")
    header, rows = read_csv(login("admin").get("/credits/export.csv"))
    assert "Nominal code" in header
    assert [(r["Method"], r["Nominal code"], r["Remaining"], r["Reference"]) for r in rows] == [
        ("Card", "1200", "3.00", "'@ref")]


def test_the_payments_csv_is_every_payment_in_scope_with_its_nominal_code_between_dates(app, login, books):
    with app.app_context():
        other = db.session.scalar(select(invoices.Invoice.id).where(invoices.Invoice.number == books["dinar"]))
        pay(db.session.get(invoices.Invoice, other), "1.000", on=TODAY - timedelta(days=1))
    header, rows = read_csv(login("reseller_a").get("/credits/payments.csv"))
    assert header[:2] == ["Payment ID", "Customer ID"] and "Nominal code" in header
    assert [(r["Customer"], r["Kind"], r["Invoice"], r["Amount"], r["Method"], r["Nominal code"]) for r in rows] == [
        ("Ada Lovelace", "Payment", books["old"], "50.00", "Card", "1200")]
    assert rows[0]["Reference"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    _h, rows = read_csv(login("admin").get(f"/credits/payments.csv?since={(TODAY - timedelta(days=1)).isoformat()}"))
    assert [(r["Customer"], r["Amount"], r["Currency"]) for r in rows] == [("Bob Other", "1.000", "BHD")]
    _h, rows = read_csv(login("admin").get(f"/credits/payments.csv?until={(TODAY - timedelta(days=2)).isoformat()}"))
    assert [r["Customer"] for r in rows] == ["Ada Lovelace"]
    browser = login("admin")
    assert browser.get("/credits/payments.csv?since=yesterday").status_code == 400
    assert browser.get("/credits/payments.csv?customer=1").status_code == 400


# ---- the ledger and aged receivables --------------------------------------------------------------

def test_the_ledger_csv_is_the_users_scope_between_dates(login, books):
    header, rows = read_csv(login("reseller_a").get("/receivables/ledger.csv"))
    assert header == ["Entry ID", "Date", "Customer ID", "Customer", "Kind", "Source", "Amount", "Currency", "Reason"]
    assert [(r["Customer"], r["Kind"], r["Source"], r["Amount"]) for r in rows] == [
        ("'+cmd", "Invoice", books["yen"], "1500"),
        ("Ada Lovelace", "Invoice", books["old"], "120.00"),
        ("Ada Lovelace", "Payment", rows[2]["Source"], "-50.00"),
        ("Ada Lovelace", "Invoice", books["new"], "30.00")]
    assert "Bob Other" not in {r["Customer"] for r in rows}
    since = (TODAY - timedelta(days=20)).isoformat()
    _h, rows = read_csv(login("admin").get(f"/receivables/ledger.csv?since={since}&until={TODAY.isoformat()}"))
    assert [r["Amount"] for r in rows] == ["2.125", "-50.00", "30.00"]
    assert login("admin").get("/receivables/ledger.csv?since=2026-02-30").status_code == 400
    assert login("admin").get("/receivables/ledger.csv?_flt_0_customer=x").status_code == 400


def test_aged_receivables_page_and_csv_for_finance_admin_and_reseller_only(login, books):
    for role in ("admin", "finance", "reseller_a"):
        html = login(role).get("/receivables/").get_data(as_text=True)
        assert 'id="as_of"' in html and "/receivables/aged.csv" in html and "/receivables/ledger.csv" in html
    for role in ("staff", "readonly"):
        browser = login(role)
        for url in ("/receivables/", "/receivables/aged.csv", "/receivables/ledger.csv"):
            assert browser.get(url).status_code == 403, (role, url)
    header, rows = read_csv(login("reseller_a").get(f"/receivables/aged.csv?as_of={TODAY.isoformat()}"))
    assert header == ["Customer ID", "Customer", "Currency", "Not yet due", "1-30 days", "31-60 days", "61-90 days",
                      "Over 90 days", "Total"]
    assert [[r[h] for h in header[1:]] for r in rows] == [
        ["'+cmd", "JPY", "0", "0", "0", "0", "1500", "1500"],
        ["Ada Lovelace", "GBP", "30.00", "0.00", "70.00", "0.00", "0.00", "100.00"]]
    # Eleven days ago the payment had not come, the new invoice was not issued and the old one was 29
    # days past due.
    _h, rows = read_csv(login("admin").get(f"/receivables/aged.csv?as_of={(TODAY - timedelta(days=11)).isoformat()}"))
    assert [(r["Customer"], r["31-60 days"], r["1-30 days"], r["Total"]) for r in rows] == [
        ("'+cmd", "0", "0", "1500"), ("Ada Lovelace", "0.00", "120.00", "120.00"), ("Bob Other", "0.000", "2.125", "2.125")]


def test_aged_receivables_refuse_a_date_they_cannot_use(login):
    browser = login("finance")
    assert browser.get("/receivables/aged.csv?as_of=06/12/2026").status_code == 400
    assert browser.get(f"/receivables/aged.csv?as_of={(TODAY + timedelta(days=1)).isoformat()}").status_code == 400
    assert browser.get("/receivables/aged.csv?as_of=2026-01-01&reseller=2").status_code == 400
    assert browser.get("/receivables/aged.csv").status_code == 200  # today
