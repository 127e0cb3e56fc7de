"""The contact form takes the contact's phone numbers (rows of type and number) and saves them
with the contact in one command: every error next to its field or row, nothing written on
error, back to the customer's Contacts tab with the contact's name; "primary" is a tick box
and every screen says yes or no."""
import re
from html import unescape

from sqlalchemy import func, select

from app.extensions import db
from app.models import Contact, ContactPhone
from app.services.customers import contacts
from tests import factories as f


def acme(app, **fields) -> int:
    with app.app_context():
        return f.customer(customer_type="company", company_name="Acme Hotel Ltd", **fields).id


def add_link(browser, pk) -> str:
    html = browser.get(f"/customers/show/{pk}?tab=contacts").get_data(as_text=True)
    return unescape(re.search(r'id="add-contact" href="([^"]+)"', html).group(1))


def form_key(html: str) -> str:
    return re.search(r'name="form_key" type="hidden" value="([^"]+)"', html).group(1)


def rows(*phones, blank=1) -> dict:
    """The phone rows as the form sends them: each (kind, number), then blank rows."""
    data = {}
    for i, (kind, number) in enumerate([*phones, *[("mobile", "")] * blank]):
        data.update({f"phone_rows-{i}-id": "", f"phone_rows-{i}-kind": kind, f"phone_rows-{i}-number": number})
    return data


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Contact)),
                db.session.scalar(select(func.count()).select_from(ContactPhone)))


def row_html(html: str, i: int) -> str:
    """The markup of phone row i (up to the next row)."""
    start = html.index(f'id="phone-row-{i}"')
    end = html.find('id="phone-row-', start + 10)
    return html[start:end if end > 0 else None]


def test_the_add_form_has_three_phone_rows_and_a_primary_tick_box(app, login):
    pk = acme(app)
    browser = login("staff")
    html = browser.get(add_link(browser, pk)).get_data(as_text=True)
    assert re.search(r'<input id="is_primary" name="is_primary" type="checkbox"', html)
    for i in range(3):
        assert f'name="phone_rows-{i}-number"' in html and f'name="phone_rows-{i}-kind"' in html
    assert 'name="phone_rows-3-number"' not in html
    assert "True" not in html and "False" not in html


def test_a_contact_is_added_with_two_phones_and_primary_ticked_back_on_the_tab(app, login):
    pk = acme(app)
    browser = login("staff")
    add = add_link(browser, pk)
    data = {"first_name": "Ada", "surname": "Okafor", "is_primary": "y",
            "form_key": form_key(browser.get(add).get_data(as_text=True)),
            **rows(("mobile", "07911 123456"), ("office", "020 7946 0000"))}
    r = browser.post(add, data)
    assert r.status_code == 302 and r.headers["Location"] == f"/customers/show/{pk}?tab=contacts"
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "Contact Ada Okafor added" in page
    assert 'href="tel:+447911123456"' in page and 'href="tel:+442079460000"' in page
    with app.app_context():
        contact = db.session.scalars(select(Contact)).one()
        assert contact.is_primary and [(p.kind, p.number) for p in contact.phones] == [
            ("mobile", "+447911123456"), ("office", "+442079460000")]


def test_an_invalid_phone_in_row_two_writes_nothing_and_is_shown_next_to_that_row(app, login):
    pk = acme(app)
    browser = login("staff")
    add = add_link(browser, pk)
    html = browser.get(add).get_data(as_text=True)
    data = {"first_name": "Ada", "surname": "", "form_key": form_key(html),
            **rows(("mobile", "07911 123456"), ("office", "12345"))}
    r = browser.post(add, data)
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Surname is required." in html
    assert "Enter a valid phone number" in row_html(html, 1)
    assert "Enter a valid phone number" not in row_html(html, 0)
    assert 'value="12345"' in row_html(html, 1) and 'value="07911 123456"' in row_html(html, 0)  # kept as typed
    assert counts(app) == (0, 0)
    # corrected, the same form (its key unused) saves
    data.update({"surname": "Okafor", "phone_rows-1-number": "020 7946 0000"})
    assert browser.post(add, data).status_code == 302
    assert counts(app) == (1, 2)


def test_empty_and_huge_input_is_answered_next_to_the_fields(app, login):
    pk = acme(app)
    browser = login("staff")
    add = add_link(browser, pk)
    html = browser.post(add, {"form_key": form_key(browser.get(add).get_data(as_text=True)), **rows(blank=3)}) \
        .get_data(as_text=True)
    assert "Surname is required." in html
    huge = {"first_name": "A" * 100_000, "surname": "B" * 81, "phone_rows-0-number": "7" * 5000,
            "phone_rows-0-kind": "mobile", "form_key": form_key(html)}
    html = browser.post(add, huge).get_data(as_text=True)
    assert "First name must be at most 80 characters." in html and "Surname must be at most 80 characters." in html
    assert "Phone must be at most 40 characters." in row_html(html, 0)
    assert counts(app) == (0, 0)


def test_a_script_in_a_name_is_shown_as_text_everywhere(app, login):
    pk = acme(app)
    browser = login("staff")
    add = add_link(browser, pk)
    r = browser.post(add, {"first_name": "<script>alert(1)</script>", "surname": "Ōkafor-李",
                           "form_key": form_key(browser.get(add).get_data(as_text=True)),
                           **rows(("mobile", "07911 123456"))})
    tab = browser.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        contact_id = db.session.scalar(select(Contact.id))
    pages = [tab, browser.get(f"/contacts/show/{contact_id}").get_data(as_text=True),
             browser.get("/contacts/list/").get_data(as_text=True),
             browser.get(f"/contacts/edit/{contact_id}").get_data(as_text=True)]
    for html in pages:
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Contact &lt;script&gt;alert(1)&lt;/script&gt; Ōkafor-李 added" in tab


def test_another_resellers_customer_in_customer_id_is_not_found(app, login, resellers):
    theirs = acme(app, reseller_id=resellers["Reseller B"])
    ours = acme(app, reseller_id=resellers["Reseller A"])
    browser = login("reseller_a")
    html = browser.get("/contacts/add").get_data(as_text=True)
    r = browser.post("/contacts/add", {"customer_id": str(theirs), "surname": "Okafor", "form_key": form_key(html),
                                       **rows(("mobile", "07911 123456"))})
    assert r.status_code == 404
    add = add_link(browser, ours)  # from our customer's page, but theirs typed in the form
    html = browser.get(add).get_data(as_text=True)
    r = browser.post(add, {"customer_id": str(theirs), "surname": "Okafor", "form_key": form_key(html)})
    assert r.status_code == 404
    assert counts(app) == (0, 0)


def test_a_double_clicked_contact_form_saves_one_contact_with_its_phones(app, login):
    pk = acme(app)
    browser = login("staff")
    add = add_link(browser, pk)
    data = {"surname": "Okafor", "form_key": form_key(browser.get(add).get_data(as_text=True)),
            **rows(("mobile", "07911 123456"))}
    first, second = browser.post(add, data), browser.post(add, data)
    assert first.headers["Location"] == second.headers["Location"] == f"/customers/show/{pk}?tab=contacts"
    assert "This form was already saved" in browser.get(second.headers["Location"]).get_data(as_text=True)
    assert counts(app) == (1, 1)


def test_the_edit_form_shows_the_phones_and_changes_removes_and_adds_them(app, login):
    pk = acme(app)
    with app.app_context():
        contact = contacts.create_contact(db.session, f.user("admin"), pk, {
            "first_name": "Ada", "surname": "Okafor",
            "phones": [{"kind": "mobile", "number": "07400 123456"}, {"kind": "office", "number": "020 7946 0000"}]})
        contact_id, (mobile, office) = contact.id, [p.id for p in contact.phones]
    browser = login("staff")
    tab = browser.get(f"/customers/show/{pk}?tab=contacts").get_data(as_text=True)
    edit = unescape(re.search(rf'href="(/contacts/edit/{contact_id}[^"]*)"', tab).group(1))
    html = browser.get(edit).get_data(as_text=True)
    assert f'value="{mobile}"' in row_html(html, 0) and 'value="07400 123456"' in row_html(html, 0)
    assert f'value="{office}"' in row_html(html, 1) and 'value="020 7946 0000"' in row_html(html, 1)
    assert 'name="phone_rows-2-number"' in html  # room for another
    assert re.search(r'<input checked id="is_primary" name="is_primary" type="checkbox"', html)
    r = browser.post(edit, {"first_name": "Ada", "surname": "Okafor", "is_primary": "y",
                            "phone_rows-0-id": str(mobile), "phone_rows-0-kind": "home",
                            "phone_rows-0-number": "07400 123456",
                            "phone_rows-1-id": str(office), "phone_rows-1-kind": "office", "phone_rows-1-number": "",
                            "phone_rows-2-id": "", "phone_rows-2-kind": "other", "phone_rows-2-number": "020 7946 0001"})
    assert r.headers["Location"] == f"/customers/show/{pk}?tab=contacts"
    assert "Contact Ada Okafor updated" in browser.get(r.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert [(p.kind, p.number) for p in db.session.get(Contact, contact_id).phones] == [
            ("home", "+447400123456"), ("other", "+442079460001")]


def test_an_edit_with_an_invalid_phone_keeps_the_rows_and_changes_nothing(app, login):
    pk = acme(app)
    with app.app_context():
        contact = contacts.create_contact(db.session, f.user("admin"), pk, {
            "surname": "Okafor", "phones": [{"kind": "mobile", "number": "07911 123456"}]})
        contact_id, mobile = contact.id, contact.phones[0].id
    browser = login("staff")
    edit = f"/contacts/edit/{contact_id}"
    browser.get(edit)
    html = browser.post(edit, {"surname": "Changed", "is_primary": "y",
                               "phone_rows-0-id": str(mobile), "phone_rows-0-kind": "mobile",
                               "phone_rows-0-number": "",
                               "phone_rows-1-id": "", "phone_rows-1-kind": "mobile",
                               "phone_rows-1-number": "not a number"}).get_data(as_text=True)
    assert "Enter a valid phone number" in row_html(html, 1)
    assert f'value="{mobile}"' in row_html(html, 0)
    with app.app_context():
        saved = db.session.get(Contact, contact_id)
        assert saved.surname == "Okafor" and [p.number for p in saved.phones] == ["+447911123456"]


def test_unticking_the_primary_contact_is_refused_next_to_the_tick_box(app, login):
    pk = acme(app)
    with app.app_context():
        contact_id = contacts.create_contact(db.session, f.user("admin"), pk, {"surname": "Okafor"}).id
    browser = login("staff")
    browser.get(f"/contacts/edit/{contact_id}")
    html = browser.post(f"/contacts/edit/{contact_id}", {"surname": "Okafor"}).get_data(as_text=True)
    assert "stays primary until another contact is made primary" in html
    with app.app_context():
        assert db.session.get(Contact, contact_id).is_primary


def test_every_contact_screen_says_yes_or_no(app, login):
    pk = acme(app)
    with app.app_context():
        admin = f.user("admin")
        first = contacts.create_contact(db.session, admin, pk, {"surname": "One", "phones": [
            {"kind": "mobile", "number": "07911 123456"}]})
        contacts.create_contact(db.session, admin, pk, {"surname": "Two"})
        first_id, phone_id = first.id, first.phones[0].id
    browser = login("staff")
    for url in (f"/customers/show/{pk}?tab=contacts", "/contacts/list/", f"/contacts/show/{first_id}",
                f"/contacts/edit/{first_id}", "/contact-phones/list/", f"/contact-phones/show/{phone_id}",
                f"/customers/show/{pk}?tab=changes"):
        html = browser.get(url).get_data(as_text=True)
        assert not re.search(r">\s*(True|False)\s*<", html), url
        assert not re.search(r'value="(True|False)"', html), url
