"""The invoice screens through HTTP: a draft with its lines, a bad row's error next to it with
nothing written, issue, the same form sent twice recording once, void with a reason, deleting a
draft (never an issued one), part and over payments (account credit said), a payment form whose
invoice changed meanwhile, Charge customer; another reseller's ids are 404, and who may not post
money sees no buttons and is refused (403)."""
import re
import uuid
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Invoice, Payment, PaymentMethod, TaxRate
from app.services.billing import invoices, payments
from app.services.customers import addresses
from tests import factories as f
from tests.roles import role_user

D = Decimal


# ---- helpers --------------------------------------------------------------------------------
def a_customer(app, **fields) -> int:
    with app.app_context():
        customer = f.customer(**{"first_name": "Ada", "surname": "Lovelace", **fields})
        addresses.create_address(db.session, f.user("admin"), customer.id,
                                 {"kind": "billing", "line1": "12 Analytical Row", "town": "London",
                                  "postcode": "SW1A 1AA"})
        return customer.id


def rate(name) -> str:
    return str(db.session.scalar(select(TaxRate.id).where(TaxRate.name == name)))


def cash() -> str:
    return str(db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash")))


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def lines(app, *rows) -> dict:
    """The form's line fields: each row (description, quantity, unit price[, rate name])."""
    data = {}
    with app.app_context():
        for i, row in enumerate(rows):
            description, quantity, price, *named = row
            data.update({f"lines-{i}-description": description, f"lines-{i}-category": "labour",
                         f"lines-{i}-quantity": quantity, f"lines-{i}-unit_price": price,
                         f"lines-{i}-tax_rate_id": rate(named[0] if named else "Standard rate")})
    return data


def new_draft(app, browser, customer_id, *rows, save="draft", **extra):
    """Open the new-invoice form and send it; the response."""
    html = browser.get(f"/invoices/new/{customer_id}").get_data(as_text=True)
    data = {"issue_date": "2026-03-02", "due_date": "", "notes": "", "save": save, "form_key": form_key(html),
            **lines(app, *rows), **extra}
    return browser.post(f"/invoices/new/{customer_id}", data)


def issued_invoice(app, customer_id, amount="100.00") -> int:
    """An issued invoice of `amount` (zero rate), made through the services."""
    with app.app_context():
        admin = f.user("admin")
        draft = invoices.create_draft(db.session, admin, customer_id, {"lines": [
            {"description": "Window cleaning", "quantity": 1, "unit_price": amount, "tax_rate_id": rate("Zero rate")}]},
            str(uuid.uuid4()))
        return invoices.issue(db.session, admin, draft.id, str(uuid.uuid4())).id


def invoice(app, pk) -> Invoice:
    with app.app_context():
        found = db.session.get(Invoice, pk)
        db.session.expunge(found) if found else None
        return found


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def page(browser, response) -> str:
    assert response.status_code in (302, 303), response.status_code
    return unescape(browser.get(response.headers["Location"]).get_data(as_text=True)).replace("\xa0", " ")


# ---- drafts ---------------------------------------------------------------------------------
def test_a_draft_with_two_lines_is_saved_and_shown_on_its_page(app, login):
    pk = a_customer(app, creditor_days=14)
    browser = login("finance")
    form = browser.get(f"/invoices/new/{pk}").get_data(as_text=True)
    assert 'name="due_date" id="due_date" value="' in form and "creditor days (14)" in form
    r = new_draft(app, browser, pk, ("Labour", "2", "40.00"), ("Parts", "1", "20.00", "Zero rate"),
                  notes="Thank you")
    with app.app_context():
        draft = db.session.scalars(select(Invoice)).one()
        assert (draft.status, draft.number, draft.net_total, draft.tax_total, draft.total) == \
               ("draft", None, D("100.00"), D("16.00"), D("116.00"))
        assert str(draft.due_date) == "2026-03-16"
    assert r.headers["Location"] == f"/invoices/show/{draft.id}"
    html = page(browser, r)
    assert "Draft invoice saved: £116.00" in html
    assert "As the customer's invoice settings say now; kept as it is when the invoice is issued." in html
    assert "Labour" in html and "Standard rate 20%" in html and "Zero rate 0%" in html
    for shown in ("£100.00", "£16.00", "£116.00", "Thank you", 'id="action-issue"', 'id="action-edit"'):
        assert shown in html


def test_a_bad_row_is_shown_next_to_its_field_and_nothing_is_written(app, login):
    pk = a_customer(app)
    browser = login("finance")
    r = new_draft(app, browser, pk, ("Labour", "2", "40.00"), ("Parts", "1", "12.345"), ("", "", ""))
    assert r.status_code == 422
    html = unescape(r.get_data(as_text=True))
    row = html[html.index('id="line-1"'):html.index('id="line-2"')]
    assert "Unit price can have at most 2 decimals in GBP." in row
    assert "decimals" not in html[html.index('id="line-0"'):html.index('id="line-1"')]
    assert 'value="12.345"' in row  # what was typed stays
    assert count(app, Invoice) == 0


def test_a_draft_is_edited_and_then_issued_with_the_billing_address_it_had(app, login):
    pk = a_customer(app)
    browser = login("admin")
    new_draft(app, browser, pk, ("Labour", "1", "10.00"))
    with app.app_context():
        draft_id = db.session.scalar(select(Invoice.id))
    html = browser.get(f"/invoices/{draft_id}/edit-draft").get_data(as_text=True)
    assert 'value="Labour"' in html and 'value="10.00"' in html
    data = {"issue_date": "2026-03-02", "due_date": "2026-04-01", "notes": "", "save": "issue",
            "form_key": form_key(html), **lines(app, ("Labour", "3", "10.00"))}
    r = browser.post(f"/invoices/{draft_id}/edit-draft", data)
    shown = page(browser, r)
    number = invoice(app, draft_id).number
    assert number and f"Invoice {number} issued: £36.00" in shown
    assert "12 Analytical Row" in shown and "Issued" in shown and 'id="action-pay"' in shown
    assert browser.get(f"/invoices/{draft_id}/edit-draft").status_code == 302  # issued: no edit form


def test_issuing_a_draft_from_its_page_numbers_it_and_says_so_once(app, login):
    pk = a_customer(app)
    browser = login("finance")
    new_draft(app, browser, pk, ("Labour", "1", "100.00"))
    with app.app_context():
        draft_id = db.session.scalar(select(Invoice.id))
    key = form_key(browser.get(f"/invoices/show/{draft_id}").get_data(as_text=True))
    first = browser.post(f"/invoices/{draft_id}/issue", {"form_key": key})
    number = invoice(app, draft_id).number
    assert f"Invoice {number} issued: £120.00" in page(browser, first)
    second = browser.post(f"/invoices/{draft_id}/issue", {"form_key": key})
    assert "already recorded" in page(browser, second)
    with app.app_context():
        assert db.session.get(Invoice, draft_id).total == D("120.00")


def test_the_same_new_invoice_form_sent_twice_writes_one_invoice(app, login):
    pk = a_customer(app)
    browser = login("finance")
    html = browser.get(f"/invoices/new/{pk}").get_data(as_text=True)
    data = {"issue_date": "2026-03-02", "save": "issue", "form_key": form_key(html),
            **lines(app, ("Labour", "1", "50.00"))}
    first = browser.post(f"/invoices/new/{pk}", data)
    assert "issued: £60.00" in page(browser, first)
    second = browser.post(f"/invoices/new/{pk}", data)
    assert second.headers["Location"] == f"/customers/show/{pk}?tab=finances"
    assert "already recorded" in page(browser, second)
    assert count(app, Invoice) == 1
    with app.app_context():
        assert db.session.scalar(select(Invoice.status)) == "issued"


def test_a_draft_is_deleted_but_an_issued_invoice_never(app, login):
    pk = a_customer(app)
    browser = login("finance")
    new_draft(app, browser, pk, ("Labour", "1", "10.00"))
    with app.app_context():
        draft_id = db.session.scalar(select(Invoice.id))
    r = browser.post(f"/invoices/{draft_id}/delete-draft")
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=finances"
    assert invoice(app, draft_id) is None
    issued = issued_invoice(app, pk)
    html = browser.get(f"/invoices/show/{issued}").get_data(as_text=True)
    assert 'id="action-delete"' not in html
    r = browser.post(f"/invoices/{issued}/delete-draft")
    assert "it is never deleted. Void it instead." in page(browser, r)
    assert invoice(app, issued).status == "issued"


# ---- void -----------------------------------------------------------------------------------
def test_voiding_needs_a_reason_then_reverses_the_invoice_and_paid_money_becomes_credit(app, login):
    pk = a_customer(app)
    issued = issued_invoice(app, pk)
    browser = login("finance")
    html = browser.get(f"/invoices/{issued}/pay").get_data(as_text=True)
    browser.post(f"/invoices/{issued}/pay", {"form_key": form_key(html), "received_on": "2026-03-03",
                                             "method_id": _cash(app), "amount": "40.00",
                                             "seen_outstanding": "100.0000"})
    html = browser.get(f"/invoices/{issued}/void").get_data(as_text=True)
    assert "£40.00 was paid on it" in html
    key = form_key(html)
    r = browser.post(f"/invoices/{issued}/void", {"form_key": key, "reason": "  "})
    assert r.status_code == 422 and "Reason is required." in r.get_data(as_text=True)
    assert invoice(app, issued).status == "part_paid"
    r = browser.post(f"/invoices/{issued}/void", {"form_key": key, "reason": "Billed the wrong customer"})
    number = invoice(app, issued).number
    shown = page(browser, r)
    assert f"Invoice {number} voided: £100.00 reversed" in shown
    assert "Billed the wrong customer" in shown and "Given back as account credit" in shown
    assert 'id="action-void"' not in shown and 'id="action-pay"' not in shown
    with app.app_context():
        assert db.session.scalar(select(Payment.unallocated)) == D("40.00")


def _cash(app) -> str:
    with app.app_context():
        return cash()


# ---- payments -------------------------------------------------------------------------------
def test_a_part_payment_then_an_overpayment_says_what_became_account_credit(app, login):
    pk = a_customer(app)
    issued = issued_invoice(app, pk, "120.00")
    browser = login("finance")
    html = browser.get(f"/invoices/{issued}/pay").get_data(as_text=True)
    assert 'name="amount" id="amount" value="120.00"' in html
    assert 'name="seen_outstanding" value="120' in html
    number = invoice(app, issued).number
    r = browser.post(f"/invoices/{issued}/pay", {"form_key": form_key(html), "received_on": "2026-03-03",
                                                 "method_id": _cash(app), "amount": "30.00", "reference": "CHQ 1",
                                                 "seen_outstanding": re.search(r'name="seen_outstanding" value="([^"]+)"', html).group(1)})
    shown = page(browser, r)
    assert f"Payment of £30.00 recorded on {number}" in shown and "account credit" not in shown.split("Payment of")[1][:80]
    assert "Part-paid" in shown and "CHQ 1" in shown
    html = browser.get(f"/invoices/{issued}/pay").get_data(as_text=True)
    r = browser.post(f"/invoices/{issued}/pay", {"form_key": form_key(html), "received_on": "2026-03-04",
                                                 "method_id": _cash(app), "amount": "100.00",
                                                 "seen_outstanding": "90.0000"})
    assert f"Payment of £100.00 recorded on {number}; £10.00 became account credit" in page(browser, r)
    found = invoice(app, issued)
    assert (found.status, found.outstanding) == ("paid", D("0"))


def test_the_same_payment_form_sent_twice_records_one_payment(app, login):
    pk = a_customer(app)
    issued = issued_invoice(app, pk)
    browser = login("finance")
    html = browser.get(f"/invoices/{issued}/pay").get_data(as_text=True)
    data = {"form_key": form_key(html), "received_on": "2026-03-03", "method_id": _cash(app), "amount": "25.00",
            "seen_outstanding": "100.00"}
    first = browser.post(f"/invoices/{issued}/pay", data)
    assert "Payment of £25.00 recorded" in page(browser, first)
    second = browser.post(f"/invoices/{issued}/pay", data)
    assert "already recorded" in page(browser, second)
    assert count(app, Payment) == 1
    assert invoice(app, issued).outstanding == D("75.00")


def test_a_payment_form_whose_invoice_changed_meanwhile_writes_nothing_and_says_so(app, login):
    pk = a_customer(app)
    issued = issued_invoice(app, pk)
    browser = login("finance")
    html = browser.get(f"/invoices/{issued}/pay").get_data(as_text=True)
    with app.app_context():  # someone else records a payment while the form is open
        payments.record_payment(db.session, f.user("admin"), issued, {"amount": "60.00", "method_id": cash()},
                                str(uuid.uuid4()))
    data = {"form_key": form_key(html), "received_on": "2026-03-03", "method_id": _cash(app), "amount": "100.00",
            "seen_outstanding": re.search(r'name="seen_outstanding" value="([^"]+)"', html).group(1)}
    r = browser.post(f"/invoices/{issued}/pay", data)
    assert r.status_code == 422
    html = unescape(r.get_data(as_text=True)).replace("\xa0", " ")
    assert re.search(r'id="changed-meanwhile">[^<]*changed meanwhile: £40.00 is outstanding now', html)
    assert 'name="seen_outstanding" value="40' in html and "£60.00 becomes account credit." in html
    assert count(app, Payment) == 1
    # Sent again as it now stands, it is recorded.
    data["seen_outstanding"] = re.search(r'name="seen_outstanding" value="([^"]+)"', html).group(1)
    r = browser.post(f"/invoices/{issued}/pay", data)
    assert "£60.00 became account credit" in page(browser, r)


def test_a_bad_amount_is_shown_next_to_it(app, login):
    pk = a_customer(app)
    issued = issued_invoice(app, pk)
    browser = login("finance")
    html = browser.get(f"/invoices/{issued}/pay").get_data(as_text=True)
    r = browser.post(f"/invoices/{issued}/pay", {"form_key": form_key(html), "amount": "ten", "method_id": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    field = html[html.index('id="field-amount"'):html.index('id="field-notes"')]
    assert "Amount must be an amount" in field
    assert "Pick how it was paid." in html
    assert count(app, Payment) == 0


# ---- Charge customer ------------------------------------------------------------------------
def test_charge_customer_issues_a_one_line_invoice(app, login):
    pk = a_customer(app)
    browser = login("finance")
    html = browser.get(f"/invoices/charge/{pk}").get_data(as_text=True)
    with app.app_context():
        standard = rate("Standard rate")
    assert f'<option value="{standard}" selected>' in html
    r = browser.post(f"/invoices/charge/{pk}", {"form_key": form_key(html), "description": "Call-out fee",
                                                "amount": "", "tax_rate_id": standard, "issue_date": "2026-03-02"})
    assert r.status_code == 422 and "is required" in r.get_data(as_text=True)
    assert count(app, Invoice) == 0
    r = browser.post(f"/invoices/charge/{pk}?next=/customers/show/{pk}?tab=finances",
                     {"form_key": form_key(html), "description": "Call-out fee", "amount": "50.00",
                      "tax_rate_id": standard, "issue_date": "2026-03-02", "category": "labour"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=finances"
    with app.app_context():
        charged = db.session.scalars(select(Invoice)).one()
        assert (charged.status, charged.total, charged.lines[0].description) == ("issued", D("60.00"), "Call-out fee")
    assert f"Invoice {charged.number} issued: £60.00" in page(browser, r)


# ---- account credit offered on issuing ("ask") ----------------------------------------------
def a_customer_with_credit(app, setting="ask", credit="25.00") -> int:
    pk = a_customer(app)
    with app.app_context():
        db.session.get(Customer, pk).use_credit = setting
        db.session.commit()
        payments.record_external(db.session, f.user("finance"), pk, {"amount": credit, "method_id": cash()},
                                 str(uuid.uuid4()))
    return pk


def test_ask_shows_the_credit_on_each_way_of_issuing_and_uses_it_when_ticked(app, login):
    pk = a_customer_with_credit(app)
    browser = login("finance")
    form = browser.get(f"/invoices/new/{pk}").get_data(as_text=True)
    assert 'id="credit-offer"' in form and "£25.00" in form and 'name="use_credit"' in form
    assert 'id="credit-offer"' in browser.get(f"/invoices/charge/{pk}").get_data(as_text=True)
    # Not ticked: the credit stays.
    data = {"issue_date": "2026-03-02", "save": "issue", "form_key": form_key(form),
            **lines(app, ("Labour", "1", "10.00", "Zero rate"))}
    shown = page(browser, browser.post(f"/invoices/new/{pk}", data))
    assert "issued: £10.00" in shown and "paid from account credit" not in shown
    # A draft's page offers it beside Issue; ticked, the invoice is paid from the credit.
    new_draft(app, browser, pk, ("Labour", "1", "10.00", "Zero rate"))
    with app.app_context():
        draft_id = db.session.scalar(select(Invoice.id).where(Invoice.status == "draft"))
    html = browser.get(f"/invoices/show/{draft_id}").get_data(as_text=True)
    assert 'form="issue-form"' in html and "£25.00" in html
    shown = page(browser, browser.post(f"/invoices/{draft_id}/issue", {"form_key": form_key(html), "use_credit": "1"}))
    assert "issued: £10.00; £10.00 paid from account credit" in shown
    assert invoice(app, draft_id).status == "paid"
    # Charge customer, ticked: part of the 15.00 left pays it.
    html = browser.get(f"/invoices/charge/{pk}").get_data(as_text=True)
    assert "£15.00" in html
    with app.app_context():
        zero = rate("Zero rate")
    shown = page(browser, browser.post(f"/invoices/charge/{pk}", {
        "form_key": form_key(html), "description": "Call-out", "amount": "40.00", "tax_rate_id": zero,
        "issue_date": "2026-03-02", "use_credit": "1"}))
    assert "issued: £40.00; £15.00 paid from account credit" in shown
    # No credit left: nothing is offered.
    assert 'id="credit-offer"' not in browser.get(f"/invoices/new/{pk}").get_data(as_text=True)


@pytest.mark.parametrize("setting", ["off", "automatic"])
def test_only_ask_offers_the_credit(app, login, setting):
    pk = a_customer_with_credit(app, setting)
    browser = login("finance")
    form = browser.get(f"/invoices/new/{pk}").get_data(as_text=True)
    assert 'id="credit-offer"' not in form
    data = {"issue_date": "2026-03-02", "save": "issue", "form_key": form_key(form),
            **lines(app, ("Labour", "1", "10.00", "Zero rate"))}
    shown = page(browser, browser.post(f"/invoices/new/{pk}", data))
    assert ("£10.00 paid from account credit" in shown) == (setting == "automatic")


# ---- the list -------------------------------------------------------------------------------
def test_the_list_links_numbers_shows_amounts_in_the_customers_currency_and_status_in_words(app, login):
    pk = a_customer(app)
    yen = a_customer(app, surname="Babbage", currency="JPY", email="yen@example.com")
    part = issued_invoice(app, pk, "100.00")
    issued_invoice(app, yen, "1200")
    with app.app_context():
        payments.record_payment(db.session, f.user("admin"), part, {"amount": "10.00", "method_id": cash()},
                                str(uuid.uuid4()))
    html = unescape(login("staff").get("/invoices/list/").get_data(as_text=True)).replace("\xa0", "")
    number = invoice(app, part).number
    assert f'href="/invoices/show/{part}">{number}</a>' in html
    assert "Part-paid" in html and "£90.00" in html and "JP¥1,200" in html
    filtered = login("staff").get("/invoices/list/?_flt_0_status=part_paid").get_data(as_text=True)
    assert number in filtered and "JP¥" not in filtered.replace("\xa0", "")
    by_customer = login("staff").get(f"/invoices/list/?_flt_0_customer_id={yen}").get_data(as_text=True)
    assert "JP¥" in by_customer.replace("\xa0", "") and number not in by_customer
    with app.app_context():
        name = db.session.get(Customer, pk).name
    by_name = login("staff").get(f"/invoices/list/?_flt_0_customer={name}").get_data(as_text=True)
    assert number in by_name and "JP¥" not in by_name.replace("\xa0", "")


def test_fabs_own_add_edit_and_delete_routes_are_gone(app, login):
    pk = a_customer(app)
    issued = issued_invoice(app, pk)
    browser = login("admin")
    for url in ("/invoices/add", f"/invoices/edit/{issued}", f"/invoices/delete/{issued}"):
        assert browser.get(url).status_code == 404
        assert browser.post(url, {"notes": "x"}).status_code in (404, 405)
    assert invoice(app, issued).status == "issued"


# ---- who may do what ------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_who_may_not_post_money_sees_the_invoice_without_buttons_and_is_refused(app, login, username, resellers):
    with app.app_context():
        customer = f.customer(reseller_id=resellers["Reseller A"])
        pk = customer.id
    issued = issued_invoice(app, pk)
    browser = login(username)
    html = browser.get(f"/invoices/show/{issued}").get_data(as_text=True)
    assert "Window cleaning" in html and 'id="action-pdf"' in html  # the PDF is for everyone who sees it
    assert not re.findall(r'id="action-(?!pdf")', html)  # nothing that posts money
    for url, data in ((f"/invoices/{issued}/pay", {"amount": "1.00", "method_id": _cash(app)}),
                      (f"/invoices/{issued}/void", {"reason": "x"}), (f"/invoices/{issued}/issue", {}),
                      (f"/invoices/{issued}/delete-draft", {}), (f"/invoices/new/{pk}", lines(app, ("X", "1", "1"))),
                      (f"/invoices/charge/{pk}", {"description": "X", "amount": "1.00"})):
        assert browser.post(url, {"form_key": str(uuid.uuid4()), **data}).status_code == 403, url
        assert browser.get(url).status_code in (403, 405), url
    assert count(app, Payment) == 0 and count(app, Invoice) == 1
    assert invoice(app, issued).status == "issued"


def test_another_resellers_invoice_and_customer_are_404_even_to_who_may_post(app, resellers):
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
        mine = f.customer(reseller_id=resellers["Reseller A"]).id
    issued = issued_invoice(app, theirs)
    with app.app_context():
        with role_user(app, db.session, "FinanceA", like="Finance", reseller_id=resellers["Reseller A"]):
            from tests.conftest import Browser
            browser = Browser(app.test_client(), "financea")
            assert browser.login().status_code == 302
            assert browser.get(f"/invoices/new/{mine}").status_code == 200
            for url in (f"/invoices/show/{issued}", f"/invoices/{issued}/pay", f"/invoices/{issued}/void",
                        f"/invoices/{issued}/edit-draft", f"/invoices/new/{theirs}", f"/invoices/charge/{theirs}"):
                assert browser.get(url).status_code == 404, url
            for url in (f"/invoices/{issued}/pay", f"/invoices/{issued}/void", f"/invoices/{issued}/issue",
                        f"/invoices/{issued}/delete-draft", f"/invoices/charge/{theirs}"):
                r = browser.post(url, {"form_key": str(uuid.uuid4()), "reason": "x", "amount": "1.00",
                                       "description": "x", "method_id": cash()})
                assert r.status_code == 404, url
            listed = browser.get("/invoices/list/").get_data(as_text=True)
            assert invoice(app, issued).number not in listed
    assert count(app, Payment) == 0 and invoice(app, issued).status == "issued"
