"""FAB's security model API (users, roles, permissions... under /api/v1/security/) is not served:
admins manage users and roles in the browser screens, which set a user's reseller and check their
input; the API answered 500 ("Fatal error") to a duplicate role name, a body that is not JSON, a
PUT on _info. Logging in through the API (a bearer token for the customer APIs) stays."""
import pytest

from app.extensions import db
from app.models import User

MODELS = ["users", "roles", "groups", "permissions", "resources", "permissions-resources"]


@pytest.mark.parametrize("model", MODELS)
def test_the_security_model_api_is_gone(app, api, model):
    admin = api("admin")
    base = f"/api/v1/security/{model}/"
    assert admin.get(base).status_code == 404
    assert admin.get(base + "1").status_code == 404
    assert admin.get(base + "_info").status_code == 404
    assert admin.post(base, json={"name": "Admin"}).status_code in (404, 405)
    assert admin.post(base, data="not json", content_type="text/plain").status_code in (404, 405)
    assert admin.put(base + "_info", json={}).status_code in (404, 405)
    assert admin.delete(base + "1").status_code in (404, 405)


def test_no_route_of_the_app_is_under_the_security_api_but_login_and_refresh(app):
    rules = sorted(r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/security/"))
    assert rules == ["/api/v1/security/login", "/api/v1/security/refresh"]


def test_a_user_cannot_be_made_through_the_api_even_by_an_admin(app, api):
    r = api("admin").post("/api/v1/security/users/", json={
        "first_name": "Api", "last_name": "Made", "username": "api_made", "email": "api_made@example.com",
        "active": True, "roles": [1], "password": "Corr3ct-Horse-Battery-99"})
    assert r.status_code in (404, 405)
    with app.app_context():
        assert db.session.query(User).filter_by(username="api_made").count() == 0


@pytest.mark.parametrize("url", ["/users/list/", "/roles/list/", "/groups/list/", "/permissions/list/"])
def test_admins_manage_security_in_the_browser_screens(app, login, url):
    assert login("admin").get(url).status_code == 200


def test_the_api_login_still_gives_a_token_that_reads_customers(app, api):
    assert api("staff").get("/api/v1/customers/").status_code == 200
