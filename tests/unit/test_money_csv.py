"""Money as CSV (services/billing/exports.py, csv_export): every payment with its method's nominal
code, the ledger, and aged receivables rebuilt as at a date; scoped, formula-safe, each amount in
its currency's decimals. Data is written through the billing services, as tests/unit/test_ledger.py
does (the suite's ledger check runs after every test)."""
import csv
import io
import uuid
from datetime import date, timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models import Invoice, PaymentMethod, TaxRate
from app.services import csv_export
from app.services.billing import exports, invoices, payments
from tests import factories as f

TODAY = date.today()


def key():
    return str(uuid.uuid4())


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def issued(customer, price, issue_date=None, due_date=None, actor="admin"):
    admin = f.user(actor)
    data = {"lines": [{"description": "Window clean", "quantity": 1, "unit_price": price,
                       "tax_rate_id": db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))}]}
    if issue_date:
        data["issue_date"] = issue_date.isoformat()
    if due_date:
        data["due_date"] = due_date.isoformat()
    draft = invoices.create_draft(db.session, admin, customer.id, data, key())
    return invoices.issue(db.session, admin, draft.id, key())


def pay(invoice, amount, on=None, **data):
    return payments.record_payment(db.session, f.user("admin"), invoice.id, {
        "amount": amount, "method_id": cash(), "received_on": (on or TODAY).isoformat(), **data}, key())


def rows(stmt, header):
    text = b"".join(csv_export.stream_csv(db.session, stmt, header)).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == header
    return [dict(zip(header, row)) for row in table[1:]]


def payment_rows(user, since=None, until=None):
    return rows(exports.payments_statement(f.user(user), since, until), csv_export.header(exports.PAYMENT_COLUMNS))


def ledger_rows(user, since=None, until=None):
    return rows(exports.ledger_statement(f.user(user), since, until), csv_export.header(exports.LEDGER_COLUMNS))


def aged_rows(user, as_of):
    return {r["Customer"]: r for r in rows(exports.aged_statement(f.user(user), as_of), exports.AGED_HEADER)}


# ---- payments -----------------------------------------------------------------------------------

def test_every_payment_in_scope_has_its_method_and_nominal_code_and_dates_filter(ctx):
    ours = f.customer(surname="Ours", reseller_id=f.reseller_id("Reseller A"))
    theirs = f.customer(surname="Theirs", reseller_id=f.reseller_id("Reseller B"))
    invoice = issued(ours, "10.00", issue_date=TODAY - timedelta(days=10))
    pay(invoice, "12.00", on=TODAY - timedelta(days=5), reference='=HYPERLINK("http://evil.example")')
    payments.add_credit(ctx, f.user("admin"), ours.id, {"amount": "3.00", "reason": "Sorry"}, key())
    pay(issued(theirs, "4.00"), "4.00")
    found = payment_rows("reseller_a")
    assert [(r["Kind"], r["Amount"], r["Unallocated"]) for r in found] == [
        ("Payment", "12.00", "2.00"), ("Manual credit", "3.00", "3.00")]
    first = found[0]
    assert (first["Method"], first["Nominal code"], first["Invoice"], first["Currency"]) == (
        "Cash", "1230", invoice.number, "GBP")
    assert first["Reference"] == "'=HYPERLINK(\"http://evil.example\")"
    assert first["Date"] == (TODAY - timedelta(days=5)).isoformat()
    assert {r["Customer"] for r in payment_rows("admin")} == {"Test Ours", "Test Theirs"}
    assert payment_rows("reseller_none") == []
    assert [r["Kind"] for r in payment_rows("reseller_a", since=TODAY - timedelta(days=1))] == ["Manual credit"]
    assert [r["Kind"] for r in payment_rows("reseller_a", until=TODAY - timedelta(days=1))] == ["Payment"]


# ---- the ledger ---------------------------------------------------------------------------------

def test_the_ledger_lists_each_entry_in_scope_with_its_source_in_the_currencys_decimals(ctx):
    yen = f.customer(surname="Yen", currency="JPY", reseller_id=f.reseller_id("Reseller A"))
    dinar = f.customer(customer_type="company", company_name="+cmd", currency="BHD",
                       reseller_id=f.reseller_id("Reseller B"))
    invoice = issued(yen, "1000", issue_date=TODAY - timedelta(days=3))
    pay(invoice, "400")
    issued(dinar, "1.250")
    payments.adjust_balance(ctx, f.user("admin"), dinar.id, {"amount": "0.005", "reason": "@fee"}, key())
    ours = ledger_rows("reseller_a")
    assert [(r["Kind"], r["Amount"], r["Currency"]) for r in ours] == [("Invoice", "1000", "JPY"),
                                                                        ("Payment", "-400", "JPY")]
    assert ours[0]["Source"] == invoice.number and ours[1]["Source"].startswith("Payment #")
    assert ours[0]["Date"] == (TODAY - timedelta(days=3)).isoformat() and ours[0]["Customer"] == "Test Yen"
    theirs = [r for r in ledger_rows("admin", since=TODAY) if r["Currency"] == "BHD"]
    assert [(r["Customer"], r["Kind"], r["Amount"], r["Reason"]) for r in theirs] == [
        ("'+cmd", "Invoice", "1.250", ""), ("'+cmd", "Balance adjustment", "0.005", "'@fee")]
    assert theirs[1]["Source"].startswith("Adjustment #")
    assert "Test Yen" not in {r["Customer"] for r in ledger_rows("reseller_b")}
    assert [r["Kind"] for r in ledger_rows("reseller_a", until=TODAY - timedelta(days=1))] == ["Invoice"]


# ---- aged receivables ---------------------------------------------------------------------------

def test_aged_receivables_put_each_invoice_in_its_bucket_by_days_past_due(ctx):
    customer = f.customer(surname="Aged", reseller_id=f.reseller_id("Reseller A"))
    long_ago = TODAY - timedelta(days=200)
    issued(customer, "1.00", issue_date=TODAY - timedelta(days=5), due_date=TODAY + timedelta(days=25))  # not yet due
    issued(customer, "2.00", issue_date=TODAY, due_date=TODAY)  # due today: not yet overdue
    for days, price in ((15, "10.00"), (45, "20.00"), (75, "40.00"), (120, "80.00")):
        issued(customer, price, issue_date=long_ago, due_date=TODAY - timedelta(days=days))
    undated = issued(customer, "100.00", issue_date=TODAY - timedelta(days=30))
    ctx.execute(update(Invoice).where(Invoice.id == undated.id).values(due_date=None))  # aged from its issue
    ctx.commit()
    row = aged_rows("admin", TODAY)["Test Aged"]
    assert [row[h] for h in exports.AGED_HEADER[2:]] == [
        "GBP", "3.00", "110.00", "20.00", "40.00", "80.00", "253.00"]
    # A day earlier, the invoice issued today did not exist and each other is a day younger.
    row = aged_rows("admin", TODAY - timedelta(days=1))["Test Aged"]
    assert [row[h] for h in exports.AGED_HEADER[3:]] == ["1.00", "110.00", "20.00", "40.00", "80.00", "251.00"]


def test_aged_receivables_count_payments_dated_on_or_before_the_date_and_leave_voids_out(ctx):
    customer = f.customer(surname="Part", reseller_id=f.reseller_id("Reseller A"))
    part_paid = issued(customer, "100.00", issue_date=TODAY - timedelta(days=60), due_date=TODAY - timedelta(days=45))
    pay(part_paid, "30.00", on=TODAY - timedelta(days=20))
    pay(part_paid, "50.00", on=TODAY - timedelta(days=5))
    voided = issued(customer, "7.00", issue_date=TODAY - timedelta(days=60), due_date=TODAY - timedelta(days=50))
    invoices.void(ctx, f.user("admin"), voided.id, "Sent twice", key())
    # Ten days ago: only the first payment; the void (today) had not happened.
    row = aged_rows("admin", TODAY - timedelta(days=10))["Test Part"]
    assert (row["31-60 days"], row["Total"]) == ("77.00", "77.00")
    row = aged_rows("admin", TODAY)["Test Part"]
    assert (row["31-60 days"], row["Total"]) == ("20.00", "20.00")
    # Paid in full before the date: no row at all.
    pay(part_paid, "20.00", on=TODAY)
    assert "Test Part" not in aged_rows("admin", TODAY)


def test_aged_receivables_are_scoped_and_in_each_customers_currency(ctx):
    yen = f.customer(surname="Yen", currency="JPY", reseller_id=f.reseller_id("Reseller A"))
    dinar = f.customer(customer_type="company", company_name="+cmd", currency="BHD",
                       reseller_id=f.reseller_id("Reseller B"))
    issued(yen, "1500", issue_date=TODAY - timedelta(days=40), due_date=TODAY - timedelta(days=35))
    issued(dinar, "2.125", issue_date=TODAY - timedelta(days=1))
    ours = aged_rows("reseller_a", TODAY)
    assert list(ours) == ["Test Yen"] and ours["Test Yen"]["31-60 days"] == "1500"
    assert ours["Test Yen"]["Currency"] == "JPY" and ours["Test Yen"]["Not yet due"] == "0"
    everyone = aged_rows("admin", TODAY)
    assert everyone["'+cmd"]["1-30 days"] == "2.125" and everyone["'+cmd"]["Total"] == "2.125"
    assert aged_rows("reseller_none", TODAY) == {}
