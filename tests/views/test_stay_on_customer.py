"""Issue 12, "stay where the work is": a form or an action opened from the customer's page goes
back to that page's tab with a message naming what changed; `?next=` leads only to a page of
this app; contact tick boxes read Yes or No."""
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Address, Contact, Customer, Job
from app.services.customers import addresses, contacts
from tests import factories as f


def acme(app) -> int:
    with app.app_context():
        return f.customer(customer_type="company", company_name="Acme Hotel Ltd").id


def link(browser, url: str, element_id: str) -> str:
    """The href of the link `element_id` on the page at `url`."""
    html = browser.get(url).get_data(as_text=True)
    return unescape(re.search(rf'id="{element_id}" href="([^"]+)"', html).group(1))


def form_key(html: str) -> str:
    return re.search(r'name="form_key" type="hidden" value="([^"]+)"', html).group(1)


def landed(browser, response) -> str:
    """The page a redirect leads to, with its flashed messages."""
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return browser.get(response.headers["Location"]).get_data(as_text=True)


def test_a_contact_added_from_the_customer_page_goes_back_to_its_contacts_tab(app, login):
    pk = acme(app)
    browser = login("staff")
    add = link(browser, f"/customers/show/{pk}?tab=contacts", "add-contact")
    assert "next=%2Fcustomers%2Fshow%2F" in add or "next=/customers/show/" in add
    html = browser.get(add).get_data(as_text=True)
    assert re.search(r'<input id="is_primary" name="is_primary" type="checkbox"', html)  # a tick box
    r = browser.post(add, {"first_name": "Ada", "surname": "Okafor", "is_primary": "y", "form_key": form_key(html)})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=contacts"
    page = landed(browser, r)
    assert "Contact Ada Okafor added" in page and "Added Row" not in page
    with app.app_context():
        assert db.session.scalars(select(Contact.is_primary)).one() is True


def test_a_double_submitted_contact_form_saves_once_and_stays_on_the_tab(app, login):
    pk = acme(app)
    browser = login("staff")
    add = link(browser, f"/customers/show/{pk}?tab=contacts", "add-contact")
    data = {"surname": "Okafor", "form_key": form_key(browser.get(add).get_data(as_text=True))}
    first, second = browser.post(add, data), browser.post(add, data)
    assert first.headers["Location"] == second.headers["Location"] == f"/customers/show/{pk}?tab=contacts"
    assert "This form was already saved" in landed(browser, second)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_contact_edited_from_the_customer_page_goes_back_with_its_name(app, login):
    pk = acme(app)
    with app.app_context():
        contact = contacts.create_contact(db.session, f.user("admin"), pk, {"first_name": "Ada", "surname": "Okafor"})
        contact_id = contact.id
    browser = login("staff")
    html = browser.get(f"/customers/show/{pk}?tab=contacts").get_data(as_text=True)
    edit = unescape(re.search(rf'href="(/contacts/edit/{contact_id}[^"]*)"', html).group(1))
    browser.get(edit)
    r = browser.post(edit, {"first_name": "Ada", "surname": "Okafor-Lee", "is_primary": "y"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=contacts"
    assert "Contact Ada Okafor-Lee updated" in landed(browser, r)


def test_an_address_added_and_edited_from_the_customer_page_goes_back_to_its_tab(app, login):
    pk = acme(app)
    browser = login("staff")
    add = link(browser, f"/customers/show/{pk}?tab=addresses", "add-address")
    html = browser.get(add).get_data(as_text=True)
    r = browser.post(add, {"kind": "billing", "line1": "1 High St", "postcode": "LS1 1AA", "form_key": form_key(html)})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=addresses"
    assert "Address 1 High St added" in landed(browser, r)
    with app.app_context():
        address_id = db.session.scalars(select(Address.id)).one()
    html = browser.get(f"/customers/show/{pk}?tab=addresses").get_data(as_text=True)
    edit = unescape(re.search(rf'href="(/addresses/edit/{address_id}[^"]*)"', html).group(1))
    browser.get(edit)
    r = browser.post(edit, {"kind": "billing", "line1": "1 High St", "town": "Leeds", "postcode": "LS1 1AB"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=addresses"
    assert "Address 1 High St updated" in landed(browser, r)


def test_the_customer_edited_from_its_page_goes_back_to_the_tab_it_was_on(app, login):
    pk = acme(app)
    browser = login("staff")
    edit = link(browser, f"/customers/show/{pk}?tab=notes", "edit-customer")
    browser.get(edit)
    r = browser.post(edit, {"customer_type": "company", "company_name": "Acme Hotel Ltd", "status": "active",
                            "currency": "GBP", "email": "desk@acme.example"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=notes"
    page = landed(browser, r)
    assert "Acme Hotel Ltd updated" in page and "Changed Row" not in page
    with app.app_context():
        assert db.session.get(Customer, pk).email == "desk@acme.example"


def test_a_note_added_goes_back_to_the_notes_tab(app, login):
    pk = acme(app)
    browser = login("staff")
    r = browser.post(f"/customers/show/{pk}/notes", {"body": "Called about the invoice"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=notes"
    page = landed(browser, r)
    assert "Note added" in page and "Called about the invoice" in page


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "/%5Cevil.example",
    "javascript:alert(1)", "/customers/show/1\t/", "/%09/evil.example", "/no/such/page", "http:/evil.example",
    " /customers/list/",
])
def test_a_next_that_is_not_a_page_of_this_app_is_refused(app, login, target):
    from urllib.parse import quote
    pk = acme(app)
    browser = login("staff")
    url = f"/contacts/add?_flt_0_customer={pk}&next={quote(target, safe='')}"
    html = browser.get(url).get_data(as_text=True)
    r = browser.post(url, {"surname": "Okafor", "form_key": form_key(html)})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert "evil" not in location and "no/such" not in location and location != target
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 1  # saved all the same


def test_the_return_target_is_a_path_of_this_app(app):
    from app.views.return_to import local_target
    with app.test_request_context("/"):
        assert local_target("/customers/show/5?tab=contacts") == "/customers/show/5?tab=contacts"
        assert local_target("/customers/list/?_flt_0_name=a%2Fb") == "/customers/list/?_flt_0_name=a%2Fb"
        for bad in ("https://evil.example/", "//evil.example", "/\\evil.example", "/customers\\show/5",
                    "///evil.example", "", None, "/customers/show/5\r\nX: y", "/" + "a" * 3000):
            assert local_target(bad) is None, bad


def test_contact_tick_boxes_read_yes_or_no(app, login):
    pk = acme(app)
    with app.app_context():
        contact_id = contacts.create_contact(db.session, f.user("admin"), pk,
                                             {"first_name": "Ada", "surname": "Okafor"}).id
    browser = login("staff")
    show = browser.get(f"/contacts/show/{contact_id}").get_data(as_text=True)
    listing = browser.get("/contacts/list/").get_data(as_text=True)
    for html in (show, listing):
        assert not re.search(r">\s*(True|False)\s*<", html)
    assert re.search(r"Primary contact</th>\s*<td><span[^>]*>Yes</span>", show)
    assert re.search(r"Marketing by e-mail</th>\s*<td><span[^>]*>No</span>", show)
    assert "<td>Yes</td>" in listing
    with app.app_context():
        addresses.create_address(db.session, f.user("admin"), pk, {"line1": "1 High St", "postcode": "LS1 1AA"})
    assert not re.search(r">\s*(True|False)\s*<", browser.get("/addresses/list/").get_data(as_text=True))


# ---- one customer's action from its page ------------------------------------------------------
def confirmation(browser, pk, name: str) -> str:
    html = browser.get(f"/customers/show/{pk}").get_data(as_text=True)
    menu_link = unescape(re.search(rf'<a href="([^"]+)" class="profile-action-{name}"', html).group(1))
    page = browser.get(menu_link)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def confirm(browser, pk, name: str, html: str, **form):
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    return browser.post(f"/customers/bulk/{name}", {"rowid": str(pk), "next": "profile", "form_key": key, **form})


def test_one_customers_action_from_its_page_is_done_at_once_and_goes_back_to_it(app, login):
    pk = acme(app)
    browser = login("staff")
    html = confirmation(browser, pk, "disable")
    assert f"Disable Acme Hotel Ltd (#{pk})?" in html
    assert re.search(rf'id="bulk-confirm"\s+data-once="1">Disable Acme Hotel Ltd \(#{pk}\)</button>', html)
    r = confirm(browser, pk, "disable", html)
    assert r.headers["Location"] == f"/customers/show/{pk}"
    assert f"Acme Hotel Ltd (#{pk}) disabled" in landed(browser, r)
    html = confirmation(browser, pk, "make_dormant")
    assert f"Acme Hotel Ltd (#{pk}) made dormant" in landed(browser, confirm(browser, pk, "make_dormant", html))
    with app.app_context():
        assert db.session.get(Customer, pk).status == "dormant"


def test_one_customers_action_sent_twice_is_done_once_and_stays_on_its_page(app, login):
    pk = acme(app)
    browser = login("staff")
    html = confirmation(browser, pk, "disable")
    first, second = confirm(browser, pk, "disable", html), confirm(browser, pk, "disable", html)
    assert first.headers["Location"] == second.headers["Location"] == f"/customers/show/{pk}"
    assert "already started" in landed(browser, second)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1


def test_one_customers_action_that_does_not_apply_says_so_on_its_page(app, login):
    pk = acme(app)
    with app.app_context():
        db.session.get(Customer, pk).status = "disabled"
        db.session.commit()
    browser = login("staff")
    html = browser.get(f"/customers/action/disable/{pk}?next=profile").get_data(as_text=True)
    page = landed(browser, confirm(browser, pk, "disable", html))
    assert f"Acme Hotel Ltd (#{pk}) was not changed: already disabled" in page


def test_deleting_one_customer_from_its_page_goes_to_the_list(app, login):
    pk = acme(app)
    browser = login("admin")
    html = confirmation(browser, pk, "bulk_delete")
    assert f"Delete Acme Hotel Ltd (#{pk})?" in html
    r = confirm(browser, pk, "bulk_delete", html, confirm="delete")
    assert r.headers["Location"] == "/customers/list/"
    assert f"Acme Hotel Ltd (#{pk}) deleted" in landed(browser, r)


def test_many_customers_still_go_to_the_job_page(app, login):
    with app.app_context():
        ids = [f.customer().id for _ in range(2)]
    browser = login("staff")
    html = browser.post("/customers/action_post", {"action": "disable", "rowid": [str(i) for i in ids]}) \
        .get_data(as_text=True)
    assert "Disable customers" in html
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    r = browser.post("/customers/bulk/disable", {"rowid": [str(i) for i in ids], "form_key": key})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
