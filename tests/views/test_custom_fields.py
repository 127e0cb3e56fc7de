"""Custom fields on screen: admins define them at /custom-fields; anyone who may edit a
customer fills them in on the Details tab; read-only users and other resellers cannot."""
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.custom_fields import CustomField, CustomValue
from app.services import custom_fields as cf
from tests import factories as f
from tests.roles import make_role_user, remove_role_user


@pytest.fixture
def defined(app):
    """A field of each kind, defined by the admin; returns name -> id."""
    with app.app_context():
        admin = f.user("admin")
        specs = [("Gate code", "text", {}), ("Budget", "number", {}), ("Contract ends", "date", {}),
                 ("Size", "choice", {"choices": "Small\nLarge"}), ("Account code", "text", {"required": True})]
        return {name: cf.create_field(db.session, admin, {"name": name, "kind": kind, "position": i, **extra}).id
                for i, (name, kind, extra) in enumerate(specs)}


@pytest.fixture
def customers(app, resellers):
    with app.app_context():
        return {"a": f.customer(reseller_id=resellers["Reseller A"]).id,
                "b": f.customer(reseller_id=resellers["Reseller B"]).id}


def values(app, customer_id):
    with app.app_context():
        return {field_id: value for field_id, value in db.session.execute(
            select(CustomValue.field_id, CustomValue.value).where(CustomValue.customer_id == customer_id))}


def details(browser, pk):
    r = browser.get(f"/customers/show/{pk}?tab=details")
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def test_an_admin_defines_fields_through_the_screen(app, login):
    browser = login("admin")
    r = browser.form("/custom-fields/add", {"name": "Size", "kind": "choice", "choices": "Small\r\nLarge\r\nsmall",
                                            "position": "2", "required": "y", "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = browser.form("/custom-fields/add", {"name": "SIZE", "kind": "choice", "choices": "", "position": "x",
                                            "active": "y"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "A custom field with this name already exists." in html
    assert "Enter the choices, one per line." in html and "Position must be a whole number." in html
    with app.app_context():
        fields = db.session.scalars(select(CustomField)).all()
        assert [(x.name, x.kind, x.choices, x.required, x.position, x.active) for x in fields] == [
            ("Size", "choice", "Small\nLarge", True, 2, True)]
        pk = fields[0].id
    assert "Size" in browser.get("/custom-fields/list/").get_data(as_text=True)
    assert browser.get(f"/custom-fields/show/{pk}").status_code == 200
    assert browser.get(f"/custom-fields/edit/{pk}").status_code == 200
    r = browser.post(f"/custom-fields/edit/{pk}", {"name": "Size", "kind": "choice", "choices": "S\nM\nL",
                                                    "position": "2", "active": ""})
    assert r.status_code == 302
    with app.app_context():
        field = db.session.get(CustomField, pk)
        assert (field.choice_list, field.active, field.required) == (["S", "M", "L"], False, False)
    assert browser.post(f"/custom-fields/delete/{pk}").status_code == 302
    with app.app_context():
        assert db.session.get(CustomField, pk) is None


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_only_admins_reach_the_definitions_screen(app, login, username, defined):
    browser = login(username)
    for url in ("/custom-fields/list/", "/custom-fields/add", f"/custom-fields/edit/{defined['Size']}"):
        assert browser.get(url).status_code in (302, 403), url
    r = browser.post("/custom-fields/add", {"name": "Sneaky", "kind": "text"})
    assert r.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(CustomField.id).where(CustomField.name == "Sneaky")) is None
    assert "/custom-fields/list/" not in browser.get("/customers/list/").get_data(as_text=True)


def test_staff_set_values_and_see_them_on_the_details_tab(app, login, defined, customers):
    browser = login("staff")
    pk = customers["a"]
    html = details(browser, pk)
    assert "Custom fields" in html and 'id="custom-fields-form"' in html
    assert f'name="cf_{defined["Budget"]}"' in html and 'type="date"' in html and 'inputmode="decimal"' in html
    r = browser.post(f"/customers/show/{pk}/custom-fields", {
        f"cf_{defined['Gate code']}": "<script>alert(1)</script>", f"cf_{defined['Budget']}": "1,200.50",
        f"cf_{defined['Contract ends']}": "28/02/2026", f"cf_{defined['Size']}": "Large",
        f"cf_{defined['Account code']}": "AC-1"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/customers/show/{pk}?tab=details")
    assert values(app, pk) == {defined["Gate code"]: "<script>alert(1)</script>", defined["Budget"]: "1200.5",
                               defined["Contract ends"]: "2026-02-28", defined["Size"]: "Large",
                               defined["Account code"]: "AC-1"}
    html = details(browser, pk)
    assert "Custom fields saved." in html
    assert 'value="1200.5"' in html and 'value="2026-02-28"' in html
    assert re.search(r'<option value="Large"\s+selected>', html)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bad_values_are_flashed_with_their_field_names_and_nothing_is_saved(app, login, defined, customers):
    browser = login("staff")
    pk = customers["a"]
    r = browser.post(f"/customers/show/{pk}/custom-fields", {
        f"cf_{defined['Gate code']}": "fine", f"cf_{defined['Budget']}": "12abc",
        f"cf_{defined['Contract ends']}": "2026-02-30", f"cf_{defined['Size']}": "Huge",
        f"cf_{defined['Account code']}": ""}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Budget must be a number" in html and "2026-02-30 is not a real date" in html
    assert "Size must be one of: Small, Large." in html and "Account code is required." in html
    assert values(app, pk) == {}


def test_read_only_users_see_the_values_but_cannot_set_them(app, login, defined, customers):
    pk = customers["a"]
    with app.app_context():
        cf.set_values(db.session, f.user("staff"), pk, {f"cf_{defined['Gate code']}": "1234#"})
    browser = login("readonly")
    html = details(browser, pk)
    assert "Custom fields" in html and 'id="custom-fields-form"' not in html
    table = html[html.index('id="custom-fields"'):]
    assert "Gate code" in table and "1234#" in table
    r = browser.post(f"/customers/show/{pk}/custom-fields", {f"cf_{defined['Gate code']}": "changed"})
    assert r.status_code in (302, 403)
    assert values(app, pk) == {defined["Gate code"]: "1234#"}


def test_nothing_is_shown_while_no_field_is_defined(app, login, customers):
    html = details(login("staff"), customers["a"])
    assert "Custom fields" not in html and "custom-fields-form" not in html


def test_a_reseller_cannot_reach_another_resellers_customer(app, login, defined, customers):
    browser = login("reseller_a")
    theirs, ours = customers["b"], customers["a"]
    r = browser.post(f"/customers/show/{theirs}/custom-fields", {f"cf_{defined['Gate code']}": "mine"})
    assert r.status_code == 404
    assert browser.get(f"/customers/show/{theirs}?tab=details").status_code == 404
    assert values(app, theirs) == {}
    r = browser.post(f"/customers/show/{ours}/custom-fields", {f"cf_{defined['Gate code']}": "ours",
                                                               f"cf_{defined['Account code']}": "AC-9"})
    assert r.status_code == 302
    assert values(app, ours) == {defined["Gate code"]: "ours", defined["Account code"]: "AC-9"}


def test_a_role_an_admin_gave_the_custom_field_screens_defines_fields_and_staff_still_cannot(app, login):
    grants = [("can_list", "CustomFieldView"), ("can_add", "CustomFieldView"), ("menu_access", "Custom fields")]
    with app.app_context():
        make_role_user(app, db.session, "Office", like="Staff", grants=grants)
    try:
        office = login("office")
        assert office.get("/custom-fields/list/").status_code == 200
        r = office.form("/custom-fields/add", {"name": "Meter", "kind": "text", "position": "1"})
        assert r.status_code == 302, r.get_data(as_text=True)[-800:]
        assert login("staff").post("/custom-fields/add", {"name": "Sneaky", "kind": "text"}).status_code == 403
    finally:
        with app.app_context():
            remove_role_user(app, db.session, "Office")
    with app.app_context():
        assert set(db.session.scalars(select(CustomField.name))) == {"Meter"}
