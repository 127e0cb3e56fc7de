"""Credits and the customer's Finances tab, over HTTP: Add credit, Add external payment, Edit balance,
refund, edit (reference and notes only), bulk Apply to oldest invoices and Void, the Credits list and
its CSV, scope (404) and who may post money (403). The suite runs the ledger check after each test."""
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Adjustment, Customer, Invoice, Payment, PaymentMethod, Release, TaxRate
from app.services.billing import finances, invoices, payments
from tests import factories as f

D = Decimal


def key():
    return str(uuid.uuid4())


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def issued(customer_id, amount, issue_date=None, due_date=None):
    admin = f.user("admin")
    data = {"lines": [{"description": "Window clean", "quantity": 1, "unit_price": amount,
                       "tax_rate_id": db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))}]}
    if issue_date:
        data.update(issue_date=str(issue_date), due_date=str(due_date or issue_date))
    draft = invoices.create_draft(db.session, admin, customer_id, data, key())
    return invoices.issue(db.session, admin, draft.id, key()).id


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def landed(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return unescape(browser.get(response.headers["Location"]).get_data(as_text=True))


def balance(app, customer_id):
    with app.app_context():
        return db.session.scalar(select(Customer.balance).where(Customer.id == customer_id))


def table(html: str) -> str:
    """The list's table, without the filter form's options."""
    return html[html.index('<table class="table table-bordered table-hover">'):]


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def ada(app, resellers):
    """A customer of Reseller A (reseller_a sees it, reseller_b does not)."""
    with app.app_context():
        return f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id


def post_form(browser, url, data):
    """GET the form for its key, then POST `data` with it."""
    page = browser.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return browser.post(url, {"form_key": form_key(page.get_data(as_text=True)), **data})


# ---- Add credit, external payment, Edit balance -------------------------------------------------

def test_add_credit_without_a_reason_shows_the_error_next_to_it_and_writes_nothing(app, login, ada):
    browser = login("finance")
    r = post_form(browser, f"/credits/add-credit/{ada}", {"amount": "10.00", "received_on": "2026-01-10"})
    html = unescape(r.get_data(as_text=True))
    assert r.status_code == 422
    reason = html[html.index('id="group-reason"'):html.index('id="group-method_id"')]
    assert "has-error" not in html[html.index('id="group-amount"'):html.index('id="group-received_on"')]
    assert "field-error" in reason and "Reason" in reason
    assert 'value="10.00"' in html  # what was typed stays
    assert count(app, Payment) == 0 and balance(app, ada) == 0


def test_add_credit_from_the_finances_tab_goes_back_to_it_naming_the_credit(app, login, ada):
    browser = login("finance")
    tab = unescape(browser.get(f"/customers/show/{ada}?tab=finances&sub=credits").get_data(as_text=True))
    url = re.search(r'id="add-credit" href="([^"]+)"', tab).group(1)
    assert "next=" in url
    r = post_form(browser, url, {"amount": "12.50", "received_on": "2026-01-10", "reason": "Late visit",
                                 "reference": "GW-1"})
    assert r.headers["Location"] == f"/customers/show/{ada}?tab=finances&sub=credits"
    page = landed(browser, r)
    assert "Credit of £12.50 added to Ada Lovelace" in page
    assert "Late visit" in page and "GW-1" in page  # on the Credits sub-tab
    assert 'id="account-credit">£12.50' in page
    assert balance(app, ada) == D("-12.50")


def test_an_external_payment_is_account_credit_and_needs_a_method(app, login, ada):
    browser = login("admin")
    r = post_form(browser, f"/credits/external/{ada}", {"amount": "40.00", "received_on": "2026-01-10"})
    assert r.status_code == 422 and "Pick how it was paid" in r.get_data(as_text=True)
    assert count(app, Payment) == 0
    with app.app_context():
        method = cash()
    r = post_form(browser, f"/credits/external/{ada}", {"amount": "40.00", "received_on": "2026-01-10",
                                                        "method_id": method, "reference": "BACS 77"})
    page = landed(browser, r)  # no next: the customer's Finances tab
    assert r.headers["Location"] == f"/customers/show/{ada}?tab=finances"
    assert "External payment of £40.00 recorded for Ada Lovelace" in page
    with app.app_context():
        credit = db.session.scalars(select(Payment)).one()
        assert (credit.kind, credit.is_credit, credit.unallocated, credit.reference) == (
            "external", True, D("40.00"), "BACS 77")


def test_edit_balance_says_positive_owes_more_and_posts_an_adjustment(app, login, ada):
    browser = login("finance")
    html = browser.get(f"/credits/adjust/{ada}").get_data(as_text=True)
    assert "Positive: the customer owes more" in html
    r = post_form(browser, f"/credits/adjust/{ada}", {"amount": "15.00", "effective_on": "2026-01-10"})
    assert r.status_code == 422 and count(app, Adjustment) == 0
    r = post_form(browser, f"/credits/adjust/{ada}", {"amount": "15.00", "effective_on": "2026-01-10",
                                                      "reason": "Opening balance"})
    assert "Balance of Ada Lovelace adjusted by +£15.00 (owes more)" in landed(browser, r)
    assert balance(app, ada) == D("15.00")


def test_a_double_submitted_credit_form_records_once_and_answers_409(app, login, ada):
    browser = login("finance")
    page = browser.get(f"/credits/add-credit/{ada}").get_data(as_text=True)
    data = {"form_key": form_key(page), "amount": "5.00", "received_on": "2026-01-10", "reason": "Goodwill"}
    first = browser.post(f"/credits/add-credit/{ada}", data)
    second = browser.post(f"/credits/add-credit/{ada}", data)
    assert first.status_code == 302 and second.status_code == 409
    assert "already recorded" in second.get_data(as_text=True)
    assert count(app, Payment) == 1 and balance(app, ada) == D("-5.00")


# ---- refund and edit -----------------------------------------------------------------------------

@pytest.fixture
def credit(app, ada):
    with app.app_context():
        return payments.record_external(db.session, f.user("admin"), ada,
                                        {"amount": "40.00", "method_id": cash(), "reference": "R1",
                                         "received_on": "2026-01-05"}, key()).id


def test_a_refund_above_what_remains_is_refused_and_one_within_it_recorded(app, login, ada, credit):
    browser = login("finance")
    html = browser.get(f"/credits/{credit}/refund").get_data(as_text=True)
    assert 'value="40.00"' in html  # prefilled with what remains
    with app.app_context():
        method = cash()
    r = post_form(browser, f"/credits/{credit}/refund", {"amount": "40.01", "released_on": "2026-01-10",
                                                         "method_id": method})
    assert r.status_code == 422 and "At most £40.00 can be refunded" in unescape(r.get_data(as_text=True))
    assert count(app, Release) == 0
    r = post_form(browser, f"/credits/{credit}/refund", {"amount": "15.00", "released_on": "2026-01-10",
                                                         "method_id": method, "reason": "Moved away"})
    assert r.headers["Location"] == f"/credits/show/{credit}"
    assert f"£15.00 refunded from credit #{credit} of Ada Lovelace" in landed(browser, r)
    assert balance(app, ada) == D("-25.00")
    # The Payments sub-tab shows the refund under its payment.
    html = unescape(browser.get(f"/customers/show/{ada}?tab=finances&sub=payments").get_data(as_text=True))
    assert 'class="release text-muted" data-payment="%d"' % credit in html and "Moved away" in html


def test_editing_a_credit_changes_only_its_reference_and_notes(app, login, credit):
    browser = login("finance")
    html = browser.get(f"/credits/edit/{credit}").get_data(as_text=True)
    assert 'name="reference"' in html and 'name="notes"' in html and 'name="amount"' not in html
    r = browser.post(f"/credits/edit/{credit}", {"reference": "R2", "notes": "Called", "amount": "999.00",
                                                 "unallocated": "0", "customer_id": "1", "kind": "credit"})
    assert f"Credit #{credit}: reference and notes updated" in landed(browser, r)
    with app.app_context():
        row = db.session.get(Payment, credit)
        assert (row.reference, row.notes, row.amount, row.unallocated, row.kind) == (
            "R2", "Called", D("40.00"), D("40.00"), "external")


def test_a_credit_is_never_deleted_and_has_no_add_route(app, login, credit):
    browser = login("admin")
    assert browser.post(f"/credits/delete/{credit}").status_code in (404, 405)
    assert browser.get(f"/credits/delete/{credit}").status_code == 404
    assert browser.get("/credits/add").status_code == 404
    assert count(app, Payment) == 1


# ---- bulk actions --------------------------------------------------------------------------------

def test_bulk_apply_to_oldest_pays_the_oldest_invoice_first(app, login, ada, credit):
    today = date.today()
    with app.app_context():
        new = issued(ada, "30.00", today - timedelta(days=5), today + timedelta(days=10))
        old = issued(ada, "30.00", today - timedelta(days=60), today - timedelta(days=30))
    browser = login("finance")
    r = browser.post("/credits/action_post", {"action": "apply_to_oldest", "rowid": [str(credit)]})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Apply to oldest invoices" in html and "£40.00" in html
    r = browser.post("/credits/bulk/apply_to_oldest", {"rowid": [str(credit)], "form_key": form_key(html)})
    assert "Applied £40.00 from 1 credit to the oldest invoices" in landed(browser, r)
    with app.app_context():
        old_inv, new_inv = db.session.get(Invoice, old), db.session.get(Invoice, new)
        assert (old_inv.status, old_inv.outstanding) == ("paid", D("0.00"))
        assert (new_inv.status, new_inv.outstanding) == ("part_paid", D("20.00"))
    assert balance(app, ada) == D("20.00")


def test_bulk_void_needs_a_reason_then_withdraws_what_remains_once(app, login, ada, credit):
    browser = login("finance")
    html = browser.post("/credits/action_post", {"action": "void_credit", "rowid": [str(credit)]}).get_data(
        as_text=True)
    assert 'name="reason"' in html
    data = {"rowid": [str(credit)], "form_key": form_key(html)}
    r = browser.post("/credits/bulk/void_credit", {**data, "reason": " "})
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    assert count(app, Release) == 0
    r = browser.post("/credits/bulk/void_credit", {**data, "reason": "Customer left"})
    assert "Voided £40.00 of 1 credit: Customer left" in landed(browser, r)
    again = browser.post("/credits/bulk/void_credit", {**data, "reason": "Customer left"})
    assert again.status_code == 409
    assert count(app, Release) == 1 and balance(app, ada) == D("0.00")


# ---- the Credits list and its CSV ----------------------------------------------------------------

def test_the_credits_list_shows_kinds_in_words_and_filters_by_remaining(app, login, ada, credit):
    with app.app_context():
        inv = issued(ada, "10.00")
        payments.record_payment(db.session, f.user("admin"), inv, {"amount": "25.00", "method_id": cash()}, key())
        spent = payments.add_credit(db.session, f.user("admin"), ada, {"amount": "3.00", "reason": "Sorry"}, key())
        payments.void_credit(db.session, f.user("admin"), spent.id, "Mistake", key())
        plain = issued(ada, "10.00")
        payments.record_payment(db.session, f.user("admin"), plain, {"amount": "10.00", "method_id": cash()}, key())
    browser = login("readonly")
    html = unescape(browser.get("/credits/list/").get_data(as_text=True))
    assert "Overpayment" in html and "External payment" in html and "Manual credit" in html
    assert 'id="record-count">3<' in html  # the exact payment is no credit
    html = unescape(browser.get("/credits/list/?_flt_0_unallocated=0").get_data(as_text=True))
    assert 'id="record-count">2<' in html and "Manual credit" not in table(html)
    html = unescape(browser.get("/credits/list/?_flt_0_kind=payment").get_data(as_text=True))
    assert 'id="record-count">1<' in html and "£15.00" in table(html) and "Overpayment" in table(html)
    assert "Apply to oldest invoices" not in html  # read-only: no posting actions


def test_the_csv_is_scoped_filtered_and_escapes_formulas(app, login, resellers, ada):
    with app.app_context():
        theirs = f.customer(first_name="Bob", surname="Other", reseller_id=resellers["Reseller B"]).id
        admin = f.user("admin")
        payments.add_credit(db.session, admin, ada, {"amount": "5.00", "reason": '=HYPERLINK("http://x.example")',
                                                     "reference": "@ref"}, key())
        payments.add_credit(db.session, admin, theirs, {"amount": "7.00", "reason": "Theirs"}, key())
    r = login("reseller_a").get("/credits/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert "Lovelace" in text and "Theirs" not in text and "Other" not in text
    assert "'=HYPERLINK" in text and ",'@ref," in text and ",5.00,0.00,5.00,GBP," in text
    text = login("admin").get("/credits/export.csv?_flt_0_customer=Other").get_data(as_text=True)
    assert "Theirs" in text and "HYPERLINK" not in text
    assert login("admin").get("/credits/export.csv?_flt_9_kind=x").status_code == 400


# ---- the Finances tab ----------------------------------------------------------------------------

def test_the_finances_tab_shows_each_sub_tab_and_pages(app, login, ada, monkeypatch):
    with app.app_context():
        first = issued(ada, "100.00")
        payments.record_payment(db.session, f.user("admin"), first, {"amount": "30.00", "method_id": cash()}, key())
        payments.add_credit(db.session, f.user("admin"), ada, {"amount": "5.00", "reason": "Goodwill"}, key())
        payments.adjust_balance(db.session, f.user("admin"), ada, {"amount": "-2.00", "reason": "Rounding"}, key())
        number = db.session.get(Invoice, first).number
    browser = login("staff")
    html = unescape(browser.get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True))
    assert 'id="finance-invoices"' in html and number in html and "Part-paid" in html and "PDF" in html and "Record payment" not in html and "£70.00" in html
    assert f"/invoices/{first}/pay" in login("finance").get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True)
    assert f'/invoices/show/{first}?next=/customers/show/{ada}?tab%3Dfinances%26sub%3Dinvoices' in html.replace(
        "%2F", "/")
    assert 'id="add-credit"' not in html and 'id="finance-buttons"' not in html  # staff posts no money
    assert "Owes £70.00" in html and "Credit £5.00" in html
    html = unescape(browser.get(f"/customers/show/{ada}?tab=finances&sub=payments").get_data(as_text=True))
    assert "Payment" in html and "Cash" in html and "£30.00" in html and "Goodwill" in html
    html = unescape(browser.get(f"/customers/show/{ada}?tab=finances&sub=credits").get_data(as_text=True))
    assert "Goodwill" in html and "£30.00" not in html
    html = unescape(browser.get(f"/customers/show/{ada}?tab=finances&sub=ledger").get_data(as_text=True))
    rows = re.findall(r'<tr class="ledger-entry".*?</tr>', html, re.S)
    assert [("Balance adjustment" in r, "Manual credit" in r, "Payment" in r, "Invoice" in r) for r in rows] == [
        (True, False, False, False), (False, True, False, False), (False, False, True, False),
        (False, False, False, True)]
    assert "Rounding" in rows[0] and "£63.00" in rows[0] and "£100.00" in rows[-1]  # the running balance
    assert number in rows[-1]
    monkeypatch.setattr(finances, "PAGE", 2)
    html = unescape(browser.get(f"/customers/show/{ada}?tab=finances&sub=ledger").get_data(as_text=True))
    older = re.search(r'id="older-finances" href="([^"]+)"', html).group(1)
    html = unescape(browser.get(older).get_data(as_text=True))
    rows = re.findall(r'<tr class="ledger-entry".*?</tr>', html, re.S)
    assert len(rows) == 2 and "£100.00" in rows[-1] and 'id="older-finances"' not in html


def test_who_may_post_money_sees_the_buttons_each_leading_back_to_the_tab(app, login, ada):
    html = unescape(login("finance").get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True))
    for element in ("add-external-payment", "add-credit", "edit-balance"):
        url = re.search(rf'id="{element}" href="([^"]+)"', html).group(1)
        assert url.endswith(f"next=/customers/show/{ada}?tab%3Dfinances%26sub%3Dinvoices") or \
            f"next=%2Fcustomers%2Fshow%2F{ada}" in url
    assert 'id="new-invoice"' in html or "InvoiceView.new" not in app.view_functions
    assert 'id="charge-customer"' in html or "InvoiceView.charge" not in app.view_functions


# ---- scope and permissions -----------------------------------------------------------------------

def test_another_resellers_customer_or_credit_is_404(app, login, ada, credit):
    browser = login("reseller_b")
    for url in (f"/credits/show/{credit}", f"/customers/show/{ada}?tab=finances"):
        assert browser.get(url).status_code == 404, url
    finance = login("finance")
    assert finance.get("/credits/add-credit/999999").status_code == 404
    assert finance.get("/credits/999999/refund").status_code == 404
    html = browser.get("/credits/list/").get_data(as_text=True)
    assert 'id="record-count">0<' in html


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_who_may_not_post_money_sees_the_tab_and_list_and_is_refused_403(app, login, ada, credit, username):
    browser = login(username)
    assert browser.get(f"/customers/show/{ada}?tab=finances").status_code == 200
    html = browser.get("/credits/list/").get_data(as_text=True)
    assert "Ada Lovelace" in html and "Void" not in html
    with app.app_context():
        method = cash()
    for url, data in ((f"/credits/add-credit/{ada}", {"amount": "1.00", "reason": "x"}),
                      (f"/credits/external/{ada}", {"amount": "1.00", "method_id": method}),
                      (f"/credits/adjust/{ada}", {"amount": "1.00", "reason": "x"}),
                      (f"/credits/{credit}/refund", {"amount": "1.00", "method_id": method}),
                      (f"/credits/edit/{credit}", {"reference": "hack"}),
                      ("/credits/action_post", {"action": "void_credit", "rowid": str(credit)}),
                      ("/credits/bulk/void_credit", {"rowid": str(credit), "reason": "x", "form_key": key()})):
        assert browser.post(url, {**data, "form_key": data.get("form_key", key())}).status_code == 403, url
        assert browser.get(url).status_code in (403, 405), url
    assert count(app, Release) == 0 and count(app, Adjustment) == 0 and count(app, Payment) == 1
    with app.app_context():
        assert db.session.get(Payment, credit).reference == "R1"


def test_the_header_says_what_is_owed_from_the_invoices_and_how_long_overdue(app, login, ada):
    today = date.today()
    with app.app_context():
        issued(ada, "42.50", today - timedelta(days=40), today - timedelta(days=10))
        payments.add_credit(db.session, f.user("admin"), ada, {"amount": "2.50", "reason": "Goodwill"}, key())
    html = unescape(login("readonly").get(f"/customers/show/{ada}").get_data(as_text=True))
    assert "Owes £42.50, 10 days overdue" in html  # the invoices' outstanding, not the balance (£40.00)
    assert "Credit £2.50" in html and 'id="balance">£40.00' in html
