"""Text with a NUL byte (\\x00), wherever a user or a webhook can send it, is refused with a 400 and
a message before any view runs: PostgreSQL cannot store or compare it (a 500 before)."""
import prison
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Message, Tag, User
from tests import factories as f
from tests.conftest import csrf_from

NUL = "a\x00b"


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _refused(r):
    assert r.status_code == 400, r.status_code
    assert "NUL" in r.get_data(as_text=True)


@pytest.mark.parametrize("url", [
    "/customers/list/?_flt_0_name=" + NUL,
    "/customers/list/?_flt_0_surname=" + NUL,
    "/contacts/list/?_flt_0_surname=" + NUL,
    "/users/list/?_flt_0_username=" + NUL,
    "/roles/list/?_flt_0_name=" + NUL,
    "/customers/export.csv?_flt_0_name=" + NUL,
    "/customers/list/?" + NUL + "=1",
    "/customers/show/1%00",
    "/customers/edit/1%00",
])
def test_a_nul_byte_in_a_query_string_or_path_is_refused(app, login, url):
    _refused(login("admin").get(url))


def test_a_nul_byte_in_an_html_form_is_refused_and_saves_nothing(app, login):
    browser = login("admin")
    browser.get("/customers/add")
    _refused(browser.post("/customers/add", {"customer_type": "private", "surname": NUL, "currency": "GBP"}))
    assert _count(app, Customer) == 0
    users = _count(app, User)
    _refused(browser.post("/users/add", {"first_name": NUL, "last_name": "x", "username": "nul_user",
                                         "email": "nul@example.com", "password": "Corr3ct-Horse-Battery-99",
                                         "conf_password": "Corr3ct-Horse-Battery-99"}))
    assert _count(app, User) == users


def test_a_nul_byte_in_the_login_form_is_refused(app):
    client = app.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    _refused(client.post("/login/", data={"username": "ad\x00min", "password": "x", "csrf_token": token}))


def test_a_nul_byte_in_a_rest_body_or_rison_is_refused_with_json(app, api):
    client = api("admin")
    r = client.post("/api/v1/customers/", json={"surname": NUL})
    assert r.status_code == 400 and "NUL" in r.get_json()["message"]
    assert _count(app, Customer) == 0
    with app.app_context():
        tag = f.tag("plain")
        tag_id = tag.id
    r = client.put(f"/api/v1/tags/{tag_id}", json={"name": "ok", "colour": None, "extra": {"deep": [NUL]}})
    assert r.status_code == 400 and "NUL" in r.get_json()["message"]
    with app.app_context():
        assert db.session.get(Tag, tag_id).name == "plain"
    q = prison.dumps({"filters": [{"col": "name", "opr": "search", "value": NUL}]})
    r = client.get("/api/v1/customers/", query_string={"q": q})
    assert r.status_code == 400 and "NUL" in r.get_json()["message"]


def test_a_nul_byte_sent_to_the_inbound_message_webhook_is_refused_and_kept_nowhere(app, monkeypatch):
    monkeypatch.setitem(app.config, "INBOUND_MESSAGE_TOKEN", "inbound-secret")
    with app.app_context():
        f.customer(surname="Texter", mobile="07911 123456")
    client = app.test_client()
    headers = {"Authorization": "Bearer inbound-secret"}
    r = client.post("/messages/inbound/sms", json={"from": "07911 123456", "body": NUL}, headers=headers)
    assert r.status_code == 400 and "NUL" in r.get_json()["message"]
    r = client.post("/messages/inbound/sms", data={"From": "07911 123456", "Body": NUL}, headers=headers)
    assert r.status_code == 400
    assert _count(app, Message) == 0


@pytest.mark.parametrize("path", ["/customers/action_post", "/customers/bulk/disable", "/customers/compose/send_email"])
def test_a_nul_byte_hidden_in_the_select_all_matching_query_is_refused(app, login, path):
    """The list's query string travels in a form field, percent-encoded: the NUL appears only
    when it is decoded, past the check of the request's own fields."""
    with app.app_context():
        f.customer(surname="Okafor")
    browser = login("admin")
    token = csrf_from(browser.get("/customers/list/").get_data(as_text=True))
    r = browser.post(path, data={"csrf_token": token, "action": "disable", "all_matching": "1",
                                 "query": "_flt_0_name=a%00b", "form_key": "00000000-0000-4000-8000-000000000001",
                                 "subject": "Hello", "body": "Hi"})
    _refused(r)
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(Customer.status == "disabled")) == 0

