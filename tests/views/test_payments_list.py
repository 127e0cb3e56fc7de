"""The Payments list (Money menu): every payment and credit in scope, whatever it paid, read-only,
filtered by kind and customer, and its CSV (scoped, filtered, formula-safe, with nominal codes)."""
from html import unescape

from app.extensions import db
from app.services.billing import payments
from tests import factories as f
from tests.views.test_credits_and_finances import cash, issued, key, table


def test_the_list_shows_every_payment_with_its_kind_and_links_credits_to_their_page(app, login, resellers):
    with app.app_context():
        ada = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id
        admin = f.user("admin")
        exact = issued(ada, "10.00")
        paid = payments.record_payment(db.session, admin, exact, {"amount": "10.00", "method_id": cash()}, key())
        credit = payments.add_credit(db.session, admin, ada, {"amount": "3.00", "reason": "Sorry"}, key())
        payments.record_external(db.session, admin, ada, {"amount": "4.00", "method_id": cash()}, key())
        paid_id, credit_id = paid.id, credit.id
    html = unescape(login("readonly").get("/payments/list/").get_data(as_text=True))
    rows = table(html)
    assert 'id="record-count">3<' in html
    assert "Invoice payment" in rows and "Manual credit" in rows and "External payment" in rows
    assert f'href="/credits/show/{credit_id}"' in rows and f'href="/credits/show/{paid_id}"' not in rows
    html = unescape(login("readonly").get("/payments/list/?_flt_0_kind=payment").get_data(as_text=True))
    assert 'id="record-count">1<' in html and "£10.00" in table(html)
    assert login("readonly").get("/payments/list/?_flt_0_kind=<script>").status_code == 200
    assert "record-count\">0<" in login("readonly").get("/payments/list/?_flt_0_kind=nope").get_data(as_text=True)
    assert login("readonly").get("/payments/add").status_code == 404
    assert login("admin").get(f"/payments/show/{paid_id}").status_code == 200


def test_the_list_and_csv_are_scoped_filtered_and_formula_safe(app, login, resellers):
    with app.app_context():
        ada = f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id
        bob = f.customer(first_name="Bob", surname="Other", reseller_id=resellers["Reseller B"]).id
        admin = f.user("admin")
        payments.record_external(db.session, admin, ada, {"amount": "5.00", "method_id": cash(),
                                                          "reference": '=HYPERLINK("http://x.example")'}, key())
        theirs = payments.record_external(db.session, admin, bob, {"amount": "7.00", "method_id": cash()}, key()).id
    reseller = login("reseller_a")
    assert "Other" not in table(reseller.get("/payments/list/").get_data(as_text=True))
    assert reseller.get(f"/payments/show/{theirs}").status_code == 404
    text = reseller.get("/payments/export.csv").get_data(as_text=True)
    assert "Lovelace" in text and "Other" not in text and "'=HYPERLINK" in text
    assert text.splitlines()[0].lstrip("\ufeff").startswith("Payment ID,Customer ID,Customer,Date,Kind,Amount")
    assert "Nominal code" in text.splitlines()[0]
    text = login("finance").get("/payments/export.csv?_flt_0_customer=Other").get_data(as_text=True)
    assert "Other" in text and "Lovelace" not in text
    assert login("staff").get("/payments/list/").status_code == 200
