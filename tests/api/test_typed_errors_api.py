"""The REST API lets the services' typed errors through to app/views/errors.py: NotFound 404,
Forbidden 403, Invalid 422 with the field errors, each as JSON (a Forbidden was FAB's 500)."""
import pytest

from app.models import Tag
from app.services.errors import Forbidden, Invalid, NotFound
from app.views.api import ServiceApi
from app.views.datamodel import LookupInterface
from tests.conftest import PASSWORD, _create_users, make_app

RAISES = {"1": lambda: NotFound(), "2": lambda: Forbidden("Not yours."),
          "3": lambda: Invalid({"name": "Enter a name."})}


class RaisingApi(ServiceApi):
    resource_name = "raising"
    datamodel = LookupInterface(Tag)
    list_columns = show_columns = add_columns = edit_columns = ["name"]

    def create(self, data):
        raise RAISES[str(data.get("kind"))]()

    def update(self, pk, data):
        raise RAISES[pk]()

    def remove(self, pk):
        raise RAISES[pk]()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('typed') / 't.db'}")
    with app.app_context():
        from flask_migrate import upgrade
        app.appbuilder.add_api(RaisingApi)
        upgrade()
        app.appbuilder.sm.create_roles_and_permissions()
        _create_users(app)
    client = app.test_client()
    token = client.post("/api/v1/security/login", json={"username": "admin", "password": PASSWORD,
                                                        "provider": "db"}).json["access_token"]
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.mark.parametrize("kind,status,body", [
    ("1", 404, {"message": "Not found"}),
    ("2", 403, {"message": "Not yours."}),
    ("3", 422, {"message": {"name": ["Enter a name."]}}),
])
def test_a_service_error_in_a_rest_write_answers_its_status_as_json(client, kind, status, body):
    for response in (client.post("/api/v1/raising/", json={"kind": kind}),
                     client.put(f"/api/v1/raising/{kind}", json={"name": "x"}),
                     client.delete(f"/api/v1/raising/{kind}")):
        assert (response.status_code, response.get_json()) == (status, body)
