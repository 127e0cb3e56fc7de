"""Error pages (issue 12): 403, 404, 405, 500 and the service errors' 400/409/422 are the app's
page, in the layout with the menu, a plain message and a way back; the API's answers stay JSON."""
import logging

from app.services.customers import notes, profile
from app.services.errors import AlreadyDone, Invalid
from app.views import errors
from app.views.lists import NUL_MESSAGE

SITE = "http://localhost"


def in_the_layout(html: str) -> bool:
    """The app's menu (FAB's navbar with the customer list) and the error page's way home."""
    return 'class="navbar' in html and 'href="/customers/list/"' in html and 'id="error-home"' in html


def test_an_unknown_address_is_the_apps_404_page_with_the_menu_and_a_way_home(app, login):
    r = login("staff").get("/no/such/page")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert in_the_layout(html) and "Page not found" in html
    assert 'id="error-back"' not in html  # no Referer: Home is the way back
    assert "The requested URL was not found on the server" not in html  # werkzeug's words are not ours


def test_the_way_back_is_the_page_the_user_came_from_on_this_site_only(app, login):
    browser = login("staff")
    html = browser.get("/no/such/page", headers={"Referer": f"{SITE}/customers/list/?psize_CustomerView=25"}) \
        .get_data(as_text=True)
    assert 'id="error-back" href="http://localhost/customers/list/?psize_CustomerView=25"' in html
    for elsewhere in ("https://evil.example/customers/list/", "javascript:alert(1)", f"{SITE}/no/such/page"):
        html = browser.get("/no/such/page", headers={"Referer": elsewhere}).get_data(as_text=True)
        assert 'id="error-back"' not in html and "evil.example" not in html, elsewhere


def test_a_missing_customer_is_the_same_404_page(app, login):
    r = login("admin").get("/customers/show/987654")
    assert r.status_code == 404 and in_the_layout(r.get_data(as_text=True))


def test_a_logged_in_user_without_the_permission_gets_the_403_page_not_a_redirect(app, login):
    r = login("readonly").get("/customers/add", headers={"Referer": f"{SITE}/customers/list/"})
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and "Location" not in r.headers
    assert in_the_layout(html) and "You may not open this page" in html and "ask an administrator" in html
    assert 'id="error-back" href="http://localhost/customers/list/"' in html


def test_an_anonymous_visitor_is_still_sent_to_the_login_page(app):
    r = app.test_client().get("/customers/add")
    assert r.status_code == 302 and "/login/" in r.headers["Location"]


def test_a_wrong_method_is_a_405_page_that_keeps_its_allow_header(app, login):
    r = login("staff").get("/customers/show/1/notes")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    html = r.get_data(as_text=True)
    assert in_the_layout(html) and "This page cannot be used that way" in html


def test_a_service_error_a_page_lets_through_shows_its_message_in_the_layout(app, login, monkeypatch):
    browser = login("staff")
    r = browser.get("/customers/list/?_flt_0_name=a%00b")  # a NUL byte: ServiceError, 400
    assert r.status_code == 400 and in_the_layout(r.get_data(as_text=True))

    def already(*args, **kwargs):
        raise AlreadyDone("This form was sent before.")
    monkeypatch.setattr(notes, "set_important", already)
    r = browser.post("/customers/notes/1/pin", {"important": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and in_the_layout(html) and "This form was sent before." in html

    def invalid(*args, **kwargs):
        raise Invalid({"body": "Write the note."})
    monkeypatch.setattr(notes, "set_important", invalid)
    r = browser.post("/customers/notes/1/pin", {"important": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and in_the_layout(html) and "Write the note." in html


def test_a_missing_csrf_token_is_a_400_page_that_says_so(app, login):
    r = login("staff").client.post("/customers/notes/1/pin", data={"important": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and in_the_layout(html) and "CSRF" in html


def test_an_unhandled_exception_is_the_500_page_without_its_text_and_is_logged(app, login, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # as in production
    monkeypatch.setattr(app.logger, "disabled", False)  # another test's Alembic logging set-up turns it off

    def breaks(*args, **kwargs):
        raise RuntimeError("secret detail: connection to 10.0.0.7 refused")
    monkeypatch.setattr(profile, "summary", breaks)
    with caplog.at_level(logging.ERROR):
        r = login("staff").get("/customers/show/1", headers={"Referer": f"{SITE}/customers/list/"})
    html = r.get_data(as_text=True)
    assert r.status_code == 500
    assert in_the_layout(html) and "Something went wrong" in html and 'id="error-back"' in html
    assert "secret detail" not in html and "RuntimeError" not in html and "Traceback" not in html
    assert any("secret detail" in (rec.exc_text or "") or (rec.exc_info and "secret detail" in str(rec.exc_info[1]))
               for rec in caplog.records)


def test_when_the_layout_cannot_be_drawn_a_bare_page_keeps_the_status(app, login, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setattr(app.logger, "disabled", False)

    def cannot(*args, **kwargs):
        raise RuntimeError("database gone")
    browser = login("staff")
    monkeypatch.setattr(errors, "render_template", cannot)
    with caplog.at_level(logging.ERROR):
        r = browser.get("/no/such/page")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "Page not found" in html and 'href="/"' in html and "database gone" not in html
    assert any("could not be drawn" in rec.getMessage() for rec in caplog.records)


def test_the_api_keeps_its_json_answers(app, api):
    client = api("admin")
    r = client.get("/api/v1/customers/987654")
    assert r.status_code == 404 and r.is_json
    r = client.get("/api/v1/customers/?q=(filters:!((col:name,opr:ct,value:'a%00b')))")
    assert r.status_code == 400 and r.get_json() == {"message": NUL_MESSAGE}
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and 'class="navbar' not in r.get_data(as_text=True)
