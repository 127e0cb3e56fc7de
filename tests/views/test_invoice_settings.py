"""A customer's Invoice settings screen over HTTP: the address format (saved, refused next to the box with
the valid tags and nothing written), its JSON preview (rendered text; bad template 422; another reseller's
customer 404), the additional invoice addresses (add, edit, choose, back to the customer's own, delete
saying what uses it; another reseller's address refused), the billing settings form, double submits
acting once, read-only for the roles that see money and 404 across resellers."""
import re
import uuid
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, InvoiceAddress, TaxRate
from app.services.billing import invoice_addresses, invoices
from app.services.customers.addresses import create_address
from tests import factories as f

INSURER = {"name": "Acme Insurance", "contact_name": "Claims Dept", "line1": "1 Policy Road", "town": "York",
           "postcode": "YO1 1AA", "country": "GB", "email": "", "phone": "", "line2": "", "line3": "", "county": ""}
EMPTY_BILLING = {"creditor_days": "", "currency": "GBP", "tax_rate_id": "", "price_book_id": "",
                 "payment_reminders": ""}


def make_customer(app, reseller=None, **fields):
    with app.app_context():
        reseller_id = f.reseller_id(reseller) if reseller else None
        c = f.customer(first_name="Ada", surname="Lovelace", reseller_id=reseller_id, **fields)
        create_address(db.session, f.user("admin"), c.id, {"kind": "billing", "line1": "9 Home Lane",
                                                            "town": "Leeds", "postcode": "LS1 1AA"})
        return c.id


def customer_row(app, pk):
    with app.app_context():
        c = db.session.get(Customer, pk)
        db.session.expunge(c)
        return c


def address_id(app, reseller=None, **fields):
    with app.app_context():
        data = {**INSURER, **fields}
        if reseller:
            data["reseller_id"] = f.reseller_id(reseller)
        return invoice_addresses.add(db.session, f.user("admin"), data).id


def form_key(page: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def landed(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return unescape(browser.get(response.headers["Location"]).get_data(as_text=True))


def screen(browser, pk) -> str:
    page = browser.get(f"/invoice-settings/{pk}")
    assert page.status_code == 200
    return unescape(page.get_data(as_text=True))


def post(browser, url, data, pk):
    """POST a form of the screen with a fresh key (from the screen)."""
    return browser.post(url, {"form_key": form_key(screen(browser, pk)), **data})


@pytest.fixture
def ada(app):
    return make_customer(app)


@pytest.mark.parametrize("username", ["admin", "finance"])
def test_finance_and_admin_save_the_format_and_see_it_named(app, login, ada, username):
    browser = login(username)
    page = screen(browser, ada)
    assert 'id="format-form"' in page and "[contact_name]" in page and "Ada Lovelace\n9 Home Lane" in page
    page = landed(browser, post(browser, f"/invoice-settings/{ada}/format",
                                {"format": "[customer_name], [address_line_1], [town]"}, ada))
    assert "Invoice address format saved" in page and "Ada Lovelace, 9 Home Lane, Leeds" in page
    assert customer_row(app, ada).invoice_address_format == "[customer_name], [address_line_1], [town]"


@pytest.mark.parametrize("template, said", [
    ("[customer_name] [nope]", "[nope] is not a tag."),
    ("<script>alert(1)</script>[customer_name]", None),
    ("{{ config }} [town]", "Curly braces are not part of a template"),
    ("[customer_name." + "x" * 2000, "1000"),
    ("[__class__]", "is not a tag"),
])
def test_a_bad_format_is_refused_next_to_the_box_with_the_tags_and_nothing_is_saved(app, login, ada, template,
                                                                                   said):
    browser = login("finance")
    response = post(browser, f"/invoice-settings/{ada}/format", {"format": template}, ada)
    if said is None:  # markup is plain text (templates never evaluate anything): saved, and shown escaped
        assert response.status_code == 302
        raw = browser.get(f"/invoice-settings/{ada}").get_data(as_text=True)
        assert "<script>alert" not in raw and "&lt;script&gt;alert(1)&lt;/script&gt;Ada Lovelace" in raw
        return
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    error = page[page.index('id="group-format"'):page.index('id="save-format"')]
    assert "has-error" in page and said in error and "Valid tags: [customer_name]" in error
    assert customer_row(app, ada).invoice_address_format is None


def test_the_preview_answers_the_rendered_text_and_refuses_bad_templates(app, login, ada, resellers):
    browser = login("finance")
    answer = browser.get(f"/invoice-settings/{ada}/preview", query_string={"template": "[town] / [postcode]"})
    assert answer.status_code == 200 and answer.json == {"text": "Leeds / LS1 1AA"}
    empty = browser.get(f"/invoice-settings/{ada}/preview", query_string={"template": ""})
    assert empty.json["text"].startswith("Ada Lovelace\n9 Home Lane")  # the company's format
    bad = browser.get(f"/invoice-settings/{ada}/preview", query_string={"template": "[town] [oops]"})
    assert bad.status_code == 422 and bad.is_json
    assert "[oops] is not a tag." in bad.json["errors"]["invoice_address_format"]
    other = make_customer(app, "Reseller B")
    assert login("reseller_a").get(f"/invoice-settings/{other}/preview?template=[town]").status_code == 404
    assert login("readonly").get(f"/invoice-settings/{ada}/preview?template=[town]").json == {"text": "Leeds"}


def test_addresses_are_added_edited_chosen_and_unchosen(app, login, ada):
    browser = login("finance")
    add_url = f"/invoice-settings/{ada}/addresses/add"
    page = landed(browser, browser.post(add_url, {"form_key": form_key(browser.get(add_url).get_data(as_text=True)),
                                                  **INSURER}))
    assert "Invoice address Acme Insurance added" in page and "1 Policy Road, York, YO1 1AA" in page
    with app.app_context():
        acme = db.session.scalar(select(InvoiceAddress.id).where(InvoiceAddress.name == "Acme Insurance"))
    edit_url = f"/invoice-settings/{ada}/addresses/{acme}/edit"
    key = form_key(browser.get(edit_url).get_data(as_text=True))
    page = landed(browser, browser.post(edit_url, {"form_key": key, **INSURER, "town": "Selby"}))
    assert "Invoice address Acme Insurance saved: town changed." in page
    page = landed(browser, post(browser, f"/invoice-settings/{ada}/choose", {"address_id": str(acme)}, ada))
    assert "are made out to Acme Insurance now" in page and customer_row(app, ada).invoice_address_id == acme
    page = landed(browser, post(browser, f"/invoice-settings/{ada}/choose", {"address_id": ""}, ada))
    assert "made out to its own address now" in page and customer_row(app, ada).invoice_address_id is None


def test_a_bad_address_is_refused_next_to_its_fields(app, login, ada):
    browser = login("admin")
    add_url = f"/invoice-settings/{ada}/addresses/add"
    before = count_addresses(app)
    response = browser.post(add_url, {"form_key": form_key(browser.get(add_url).get_data(as_text=True)),
                                      **INSURER, "name": "", "email": "not an e-mail", "line1": "x" * 500})
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    for field in ("name", "email", "line1"):
        group = page[page.index(f'id="group-{field}"'):]
        assert group.index("field-error") < group.index("</div>\n      </div>")
    assert count_addresses(app) == before


def count_addresses(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(InvoiceAddress))


def test_the_search_is_scoped_and_another_resellers_address_is_refused(app, login):
    mine = make_customer(app, "Reseller A")
    own = address_id(app, "Reseller A", name="Alpha Lettings")
    theirs = address_id(app, "Reseller B", name="Beta Lettings")
    browser = login("reseller_a")
    page = screen(browser, mine)
    assert "Alpha Lettings" in page and "Beta Lettings" not in page
    assert 'id="format-form"' not in page and "choose-address" not in page  # Reseller users read
    finance = login("finance")
    page = unescape(finance.get(f"/invoice-settings/{mine}?q=lettings").get_data(as_text=True))
    assert "Alpha Lettings" in page and "Beta Lettings" not in page  # only what this customer may use
    response = post(finance, f"/invoice-settings/{mine}/choose", {"address_id": str(theirs)}, mine)
    page = landed(finance, response)
    assert "This customer cannot use that invoice address" in page
    assert customer_row(app, mine).invoice_address_id is None
    assert finance.get(f"/invoice-settings/{mine}/addresses/{own}/edit").status_code == 200
    assert login("reseller_a").get(f"/invoice-settings/{mine}/addresses/{theirs}/edit").status_code in (403, 404)


def test_delete_says_what_uses_it_and_is_refused_while_an_open_invoice_does(app, login, ada):
    acme = address_id(app)
    browser = login("finance")
    post(browser, f"/invoice-settings/{ada}/choose", {"address_id": str(acme)}, ada)
    url = f"/invoice-settings/{ada}/addresses/{acme}/delete"
    page = unescape(browser.get(url).get_data(as_text=True))
    assert "Used by 1 customer." in page and 'id="confirm-delete"' in page
    with app.app_context():
        rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        draft = invoices.create_draft(db.session, f.user("finance"), ada, {"lines": [
            {"description": "Repair", "quantity": "1", "unit_price": "10", "tax_rate_id": rate,
             "category": "labour"}]}, str(uuid.uuid4())).id
    page = unescape(browser.get(url).get_data(as_text=True))
    assert "1 open invoice uses it" in page and 'id="confirm-delete"' not in page
    page = landed(browser, browser.post(url, {"form_key": str(uuid.uuid4())}))
    assert "cannot be deleted" in page and count_addresses(app) == 1
    with app.app_context():
        invoices.delete_draft(db.session, f.user("finance"), draft)
    page = landed(browser, browser.post(url, {"form_key": form_key(browser.get(url).get_data(as_text=True))}))
    assert "Invoice address Acme Insurance deleted (used by 1 customer" in page
    assert count_addresses(app) == 0 and customer_row(app, ada).invoice_address_id is None


def test_the_billing_settings_are_saved_and_named(app, login, ada):
    browser = login("finance")
    with app.app_context():
        rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    page = landed(browser, post(browser, f"/invoice-settings/{ada}/billing", {
        **EMPTY_BILLING, "creditor_days": "30", "currency": "EUR", "tax_rate_id": str(rate),
        "payment_reminders": "manual", "do_not_suspend": "1", "attach_invoices_to_statements": "1"}, ada))
    assert ("Billing settings saved: creditor days, currency, special tax rate, do not suspend for late payment, "
            "payment reminders, invoices attached to statements changed.") in page
    c = customer_row(app, ada)
    assert (c.creditor_days, c.currency, c.tax_rate_id, c.payment_reminders, c.do_not_suspend,
            c.attach_invoices_to_statements, c.group_statements_by_contact) == (30, "EUR", rate, "manual", True, True,
                                                                                 False)
    page = landed(browser, post(browser, f"/invoice-settings/{ada}/billing", {
        **EMPTY_BILLING, "creditor_days": "30", "currency": "EUR", "tax_rate_id": str(rate),
        "payment_reminders": "manual", "attach_invoices_to_statements": "1"}, ada))
    assert "Billing settings saved: do not suspend for late payment changed." in page


def test_account_credit_on_issue_is_chosen_with_the_billing_settings(app, login, ada):
    browser = login("finance")
    page = browser.get(f"/invoice-settings/{ada}").get_data(as_text=True)
    assert 'id="use_credit"' in page and "Company default (off)" in page
    page = landed(browser, post(browser, f"/invoice-settings/{ada}/billing", {**EMPTY_BILLING, "use_credit": "automatic"},
                                ada))
    assert "account credit used on a new invoice changed." in page
    assert customer_row(app, ada).use_credit == "automatic"
    r = post(browser, f"/invoice-settings/{ada}/billing", {**EMPTY_BILLING, "use_credit": "always"}, ada)
    assert r.status_code == 422 and "Use account credit must be one of" in r.get_data(as_text=True)
    assert customer_row(app, ada).use_credit == "automatic"
    assert "Automatic" in login("staff").get(f"/invoice-settings/{ada}").get_data(as_text=True)


def test_bad_billing_settings_are_refused_next_to_their_fields(app, login, ada):
    browser = login("admin")
    response = post(browser, f"/invoice-settings/{ada}/billing", {
        **EMPTY_BILLING, "creditor_days": "13", "currency": "XXQ", "price_book_id": "999999"}, ada)
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    billing = page[page.index('id="billing-form"'):]
    assert billing.count("field-error") >= 3
    c = customer_row(app, ada)
    assert (c.creditor_days, c.currency, c.price_book_id) == (None, "GBP", None)


def test_a_double_submit_acts_once(app, login, ada):
    browser = login("finance")
    add_url = f"/invoice-settings/{ada}/addresses/add"
    key = form_key(browser.get(add_url).get_data(as_text=True))
    before = count_addresses(app)
    assert browser.post(add_url, {"form_key": key, **INSURER}).status_code == 302
    page = landed(browser, browser.post(add_url, {"form_key": key, **INSURER}))
    assert "already sent" in page and count_addresses(app) == before + 1
    key = form_key(screen(browser, ada))
    browser.post(f"/invoice-settings/{ada}/format", {"form_key": key, "format": "[town]"})
    page = landed(browser, browser.post(f"/invoice-settings/{ada}/format", {"form_key": key, "format": "[county]"}))
    assert "already sent" in page and customer_row(app, ada).invoice_address_format == "[town]"


@pytest.mark.parametrize("username", ["staff", "readonly"])
def test_roles_that_see_money_read_the_screen_without_forms(app, login, ada, username):
    browser = login(username)
    page = screen(browser, ada)
    assert "Ada Lovelace" in page and 'id="billing-read"' in page
    for form in ("format-form", "billing-form", "add-address", "choose-address", "save-format"):
        assert form not in page
    acme = address_id(app)
    for url in (f"/invoice-settings/{ada}/format", f"/invoice-settings/{ada}/billing",
                f"/invoice-settings/{ada}/choose", f"/invoice-settings/{ada}/addresses/{acme}/delete"):
        assert browser.post(url, {"form_key": str(uuid.uuid4()), "format": "[town]", "address_id": str(acme),
                                  "creditor_days": "30"}).status_code == 403
    assert browser.get(f"/invoice-settings/{ada}/addresses/add").status_code == 403
    c = customer_row(app, ada)
    assert (c.invoice_address_format, c.creditor_days, c.invoice_address_id) == (None, None, None)


def test_another_resellers_customer_is_404_and_the_finances_tab_links_the_screen(app, login):
    theirs = make_customer(app, "Reseller B")
    mine = make_customer(app, "Reseller A")
    browser = login("reseller_a")
    assert browser.get(f"/invoice-settings/{theirs}").status_code == 404
    assert browser.get(f"/invoice-settings/{mine}").status_code == 200
    page = browser.get(f"/customers/show/{mine}?tab=finances").get_data(as_text=True)
    assert f'href="/invoice-settings/{mine}"' in page
    finance = login("finance")
    assert f'href="/invoice-settings/{theirs}"' in finance.get(
        f"/customers/show/{theirs}?tab=finances").get_data(as_text=True)


def test_a_draft_is_made_out_to_an_address_from_its_page_and_shows_it(app, login, ada):
    acme = address_id(app)
    theirs = address_id(app, "Reseller B", name="Beta Lettings")
    with app.app_context():
        rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        draft = invoices.create_draft(db.session, f.user("finance"), ada, {"lines": [
            {"description": "Repair", "quantity": "1", "unit_price": "10", "tax_rate_id": rate,
             "category": "labour"}]}, str(uuid.uuid4())).id
    browser = login("finance")
    page = unescape(browser.get(f"/invoices/show/{draft}").get_data(as_text=True))
    assert "Ada Lovelace\n9 Home Lane" in page and f'<option value="{acme}"' in page and "Beta Lettings" not in page
    url = f"/invoice-settings/invoice/{draft}/address"
    page = landed(browser, browser.post(url, {"form_key": form_key(page), "address_id": str(acme)}))
    assert "This draft is made out to Acme Insurance now." in page
    assert "Acme Insurance\nClaims Dept\n1 Policy Road" in page
    page = landed(browser, browser.post(url, {"form_key": str(uuid.uuid4()), "address_id": str(theirs)}))
    assert "This customer cannot use that invoice address" in page
    with app.app_context():
        from app.models import Invoice
        assert db.session.get(Invoice, draft).invoice_address_id == acme
    assert login("staff").post(url, {"form_key": str(uuid.uuid4()), "address_id": ""}).status_code == 403
    assert 'id="invoice-address-form"' not in login("readonly").get(f"/invoices/show/{draft}").get_data(as_text=True)


def test_the_company_format_and_reminders_are_set_on_the_company_settings(app, login, ada):
    browser = login("admin")
    page = browser.get("/company/").get_data(as_text=True)
    assert 'id="invoice_address_format"' in page and 'id="default_payment_reminders"' in page
    response = browser.post("/company/", {"invoice_address_format": "[customer_name] [oops]"})
    assert response.status_code == 200 and "[oops] is not a tag." in unescape(response.get_data(as_text=True))
    page = landed(browser, browser.post("/company/", {"invoice_address_format": "[customer_name], [postcode]",
                                                       "default_payment_reminders": "manual"}))
    assert "invoice address format, payment reminders changed" in page
    page = screen(login("finance"), ada)
    assert "Ada Lovelace, LS1 1AA" in page and "Company default (manual)" in page
    landed(browser, browser.post("/company/", {"invoice_address_format": "", "default_payment_reminders": ""}))
