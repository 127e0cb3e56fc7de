"""Add and edit forms: errors next to the field, nothing half-saved, a double submit saves once."""
import re

from app.extensions import db
from app.models import Address, AuditEntry, Contact, Customer
from tests import factories as f


def field_error(html, field):
    """The error text FAB renders under a form field."""
    m = re.search(rf'id="{field}".*?<span class="help-block">\s*(.*?)\s*</span>', html, re.S)
    return m.group(1) if m else ""


def count(app, model):
    with app.app_context():
        return db.session.query(model).count()


def test_bad_customer_shows_each_error_next_to_its_field_and_saves_nothing(app, login):
    browser = login("admin")
    r = browser.form("/customers/add", {"customer_type": "private", "first_name": "x" * 81, "email": "nope",
                                        "phone": "12", "currency": "GBP"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Surname is required for a private customer." in html
    assert "First name must be at most 80 characters." in html
    assert "Enter a valid e-mail address" in html
    assert "Enter a valid phone number" in html
    assert count(app, Customer) == 0
    with app.app_context():
        assert db.session.query(AuditEntry).filter_by(entity="customer").count() == 0


def test_company_without_company_name_is_refused(app, login):
    r = login("admin").form("/customers/add", {"customer_type": "company", "surname": "Smith", "currency": "GBP"})
    assert "Company name is required for a company." in r.get_data(as_text=True)


def test_duplicate_email_is_refused_in_the_form(app, login):
    with app.app_context():
        f.customer(email="taken@example.com")
    r = login("staff").form("/customers/add", {"customer_type": "private", "surname": "X",
                                               "email": "Taken@Example.com", "currency": "GBP"})
    assert "Another customer already uses this e-mail address." in r.get_data(as_text=True)
    assert count(app, Customer) == 1


def test_script_and_formula_text_is_stored_as_typed_and_shown_escaped(app, login):
    browser = login("admin")
    r = browser.form("/customers/add", {"customer_type": "private", "first_name": "<script>alert(1)</script>",
                                        "surname": "=HYPERLINK(\"http://x\")", "currency": "GBP"})
    assert r.status_code == 302
    html = browser.get("/customers/list/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_double_submitted_add_form_saves_once(app, login):
    browser = login("admin")
    page = browser.get("/customers/add").get_data(as_text=True)
    key = re.search(r'name="form_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {"customer_type": "private", "surname": "Once", "currency": "GBP", "form_key": key}
    first = browser.post("/customers/add", data)
    second = browser.post("/customers/add", data)
    assert first.status_code == 302 and second.status_code == 302
    assert count(app, Customer) == 1
    html = browser.get("/customers/list/").get_data(as_text=True)
    assert "This form was already saved" in html


def test_edit_changes_fields_and_keeps_errors_next_to_fields(app, login):
    with app.app_context():
        c = f.customer(first_name="Ada", surname="Lovelace")
        cid = c.id
    browser = login("admin")
    r = browser.form(f"/customers/edit/{cid}", {"customer_type": "private", "first_name": "Ada", "surname": "King",
                                                "status": "dormant", "currency": "GBP", "creditor_days": "30"})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    with app.app_context():
        c = db.session.get(Customer, cid)
        assert (c.surname, c.status, c.creditor_days) == ("King", "dormant", 30)
    r = browser.form(f"/customers/edit/{cid}", {"customer_type": "private", "surname": "", "status": "active",
                                                "currency": "GBP"})
    assert "Surname is required for a private customer." in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Customer, cid).surname == "King"


def test_edit_of_a_missing_customer_is_404(app, login):
    assert login("admin").get("/customers/edit/999999").status_code == 404


def test_contacts_and_addresses_are_added_from_the_customer_page(app, login):
    with app.app_context():
        cid = f.customer().id
    browser = login("staff")
    r = browser.form(f"/contacts/add?_flt_0_customer={cid}", {"surname": "Tenant", "email": "t@example.com"})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    r = browser.form(f"/addresses/add?_flt_0_customer={cid}", {"kind": "site", "line1": "1 High Street",
                                                               "postcode": "LS1 1AA", "access_name": "Key Holder",
                                                               "access_relationship": "key holder"})
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]
    with app.app_context():
        contact = db.session.query(Contact).one()
        address = db.session.query(Address).one()
        assert (contact.customer_id, contact.is_primary) == (cid, True)
        assert (address.customer_id, address.kind, address.access_relationship) == (cid, "billing", "key holder")
    html = browser.get(f"/customers/show/{cid}").get_data(as_text=True)
    assert "Tenant" in html and "1 High Street" in html


def test_contact_form_errors_are_shown_and_nothing_is_saved(app, login):
    with app.app_context():
        cid = f.customer().id
    r = login("admin").form(f"/contacts/add?_flt_0_customer={cid}", {"first_name": "No surname", "email": "x"})
    html = r.get_data(as_text=True)
    assert "Surname is required." in html and "Enter a valid e-mail address" in html
    assert count(app, Contact) == 0


def test_contact_for_a_customer_id_that_does_not_exist_is_404(app, login):
    r = login("admin").form("/contacts/add", {"customer_id": "424242", "surname": "Ghost"})
    assert r.status_code == 404
    assert count(app, Contact) == 0


def test_billing_address_cannot_be_deleted_while_sites_remain(app, login):
    with app.app_context():
        from app.services.customers.addresses import create_address
        c = f.customer()
        billing = create_address(db.session, f.user("admin"), c.id, {"line1": "1 A St", "postcode": "LS1 1AA"})
        create_address(db.session, f.user("admin"), c.id, {"line1": "2 B St", "postcode": "LS1 1AB"})
        bid = billing.id
    browser = login("admin")
    browser.get("/addresses/list/")
    r = browser.post(f"/addresses/delete/{bid}")
    assert r.status_code == 302
    assert count(app, Address) == 2
    assert "make another address the billing address" in browser.get("/addresses/list/").get_data(as_text=True)


def test_tag_and_reseller_screens_save_through_their_rules(app, login):
    browser = login("admin")
    assert browser.form("/tags/add", {"name": "vip", "colour": "#ff0000"}).status_code == 302
    r = browser.form("/tags/add", {"name": "VIP", "colour": "red"})
    html = r.get_data(as_text=True)
    assert "A tag with this name already exists." in html and "Enter a colour as #rrggbb." in html
    assert browser.form("/resellers/add", {"name": "Gamma Fibre", "email": "ops@gamma.example"}).status_code == 302
    assert "A reseller with this name already exists." in browser.form(
        "/resellers/add", {"name": "gamma fibre"}).get_data(as_text=True)
