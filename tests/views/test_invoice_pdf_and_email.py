"""The invoice's PDF and its e-mail form over HTTP: GET /invoices/<id>/pdf (can_pdf on InvoiceView:
every role that sees invoices), GET/POST /invoices/<id>/email (can_post_money); another reseller's
invoice is 404 on both; e-mail is not offered without an address; one form sends once."""
import uuid

import pytest
from sqlalchemy import func, select

import app.views as views
from app.extensions import db
from app.models import Message, TaxRate
from app.services.billing import invoices
from app.views.documents import InvoiceDocumentView
from tests import factories as f
from tests.conftest import Browser, make_app


@pytest.fixture(scope="module")
def doc_app(app, tmp_path_factory):
    """The app with InvoiceDocumentView registered (views/__init__.py registers it once it is
    added there; until then an app of its own, on the same database, with its permissions made)."""
    if "InvoiceDocumentView" in app.blueprints:
        yield app
        return
    real = views.register

    def register(appbuilder):
        real(appbuilder)
        appbuilder.add_view_no_menu(InvoiceDocumentView)
    views.register = register
    try:
        other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], FILES_FOLDER=str(tmp_path_factory.mktemp("files")))
    finally:
        views.register = real
    with other.app_context():
        other.appbuilder.sm.create_roles_and_permissions()
    yield other
    with other.app_context():
        db.session.remove()


@pytest.fixture
def browse(doc_app):
    def _login(username):
        browser = Browser(doc_app.test_client(), username)
        assert browser.login().status_code == 302
        return browser
    return _login


def issued_invoice(doc_app, actor="admin", email="ada@example.com", issue=True):
    with doc_app.app_context():
        customer = f.customer(actor=actor, first_name="Ada", surname="Lovelace", email=email)
        user = f.user("admin")
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        draft = invoices.create_draft(db.session, user, customer.id, {"lines": [
            {"description": "Work", "quantity": 1, "unit_price": "25.00", "tax_rate_id": zero}]}, str(uuid.uuid4()))
        invoice = invoices.issue(db.session, user, draft.id, str(uuid.uuid4())) if issue else draft
        return invoice.id, invoice.number, customer.id


def test_every_role_that_sees_invoices_downloads_the_pdf_inline(doc_app, browse):
    pk, number, _ = issued_invoice(doc_app, actor="reseller_a")
    for user in ("admin", "finance", "staff", "readonly", "reseller_a"):
        r = browse(user).get(f"/invoices/{pk}/pdf")
        assert r.status_code == 200, user
        assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF")
        assert r.headers["Content-Disposition"] == f'inline; filename="invoice-{number}.pdf"'
    assert browse("reseller_b").get(f"/invoices/{pk}/pdf").status_code == 404
    assert browse("reseller_b").get(f"/invoices/{pk}/email").status_code in (403, 404)
    assert browse("finance").get("/invoices/999999999/pdf").status_code == 404


def test_the_routes_ask_the_invoices_permissions(doc_app):
    rules = {r.endpoint: r for r in doc_app.url_map.iter_rules() if r.endpoint.startswith("InvoiceDocumentView.")}
    assert set(rules) == {"InvoiceDocumentView.pdf", "InvoiceDocumentView.email"}
    view = next(v for v in doc_app.appbuilder.baseviews if isinstance(v, InvoiceDocumentView))
    assert view.class_permission_name == "InvoiceView"
    assert {view.get_method_permission("pdf"), view.get_method_permission("email")} == {"pdf", "post_money"}
    # InvoiceView's own permissions stay: FAB's update deletes what a view under that name does not list.
    assert {"can_list", "can_show", "can_post_money", "can_pdf"} <= set(view.base_permissions)
    with doc_app.app_context():
        sm = doc_app.appbuilder.sm
        for permission in ("can_list", "can_show", "can_post_money", "can_pdf"):
            assert sm.find_permission_view_menu(permission, "InvoiceView") is not None, permission


def test_the_form_e_mails_the_invoice_once_and_says_so(doc_app, browse):
    pk, number, customer_id = issued_invoice(doc_app)
    finance = browse("finance")
    page = finance.get(f"/invoices/{pk}/email")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert '<option value="ada@example.com" selected>Ada Lovelace &lt;ada@example.com&gt;</option>' in html
    assert f'value="Invoice {number}' in html and "£25.00" in html
    form_key = html.split('name="form_key" value="', 1)[1].split('"', 1)[0]
    data = {"to": "ada@example.com", "subject": f"Invoice {number}", "body": "Please pay.", "form_key": form_key}
    r = finance.post(f"/invoices/{pk}/email", data)
    assert r.status_code == 302
    back = r.headers["Location"]
    assert back.endswith(f"/invoices/show/{pk}") or back.endswith(f"/customers/show/{customer_id}")
    # The flash shows on the next page (the customer's: the invoice's own page is another branch's work).
    shown = finance.get(f"/customers/show/{customer_id}").get_data(as_text=True)
    assert f"Invoice {number} e-mailed to ada@example.com" in shown
    again = finance.post(f"/invoices/{pk}/email", data)
    assert again.status_code == 302
    with doc_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message)
                                 .where(Message.customer_id == customer_id)) == 1


def test_a_bad_recipient_comes_back_to_the_form_with_the_error(doc_app, browse):
    pk, _, _ = issued_invoice(doc_app)
    finance = browse("finance")
    finance.get(f"/invoices/{pk}/email")
    r = finance.post(f"/invoices/{pk}/email", {"to": "eve@example.com", "subject": "x", "body": "y",
                                               "form_key": str(uuid.uuid4())})
    assert r.status_code == 422 and "Choose one of the customer&#39;s e-mail addresses." in r.get_data(as_text=True)


def test_e_mail_is_not_offered_without_an_address_nor_for_a_draft(doc_app, browse):
    pk, _, _ = issued_invoice(doc_app, email=None)
    html = browse("finance").get(f"/invoices/{pk}/email").get_data(as_text=True)
    assert 'id="email-none"' in html and "invoice-email-form" not in html
    draft, _, _ = issued_invoice(doc_app, issue=False)
    html = browse("finance").get(f"/invoices/{draft}/email").get_data(as_text=True)
    assert 'id="email-draft"' in html and "invoice-email-form" not in html


def test_who_may_not_post_money_may_not_open_the_e_mail_form(doc_app, browse):
    pk, _, _ = issued_invoice(doc_app)
    for user in ("staff", "readonly"):
        assert browse(user).get(f"/invoices/{pk}/email").status_code == 403
