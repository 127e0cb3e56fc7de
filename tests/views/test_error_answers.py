"""The typed service errors a view lets through are answered in one place (app/views/errors.py)."""
import pytest
from flask import Blueprint

from app.services.errors import Forbidden, Invalid, NotFound
from tests.conftest import make_app

ERRORS = {"missing": lambda: NotFound(), "forbidden": lambda: Forbidden("Not yours."),
          "invalid": lambda: Invalid({"name": "Enter a name."})}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('errors') / 'e.db'}")
    bp = Blueprint("raises", __name__)

    @bp.route("/raises/<kind>")
    @bp.route("/api/raises/<kind>")
    def raises(kind):
        raise ERRORS[kind]()
    app.register_blueprint(bp)
    return app.test_client()


@pytest.mark.parametrize("kind,status", [("missing", 404), ("forbidden", 403), ("invalid", 422)])
def test_a_page_that_lets_a_service_error_through_answers_its_status(client, kind, status):
    response = client.get(f"/raises/{kind}")
    assert response.status_code == status


def test_an_api_answers_a_service_error_as_json_with_the_field_errors(client):
    assert client.get("/api/raises/invalid").get_json() == {"message": {"name": ["Enter a name."]}}
    assert client.get("/api/raises/missing").get_json() == {"message": "Not found"}
    assert client.get("/api/raises/forbidden").get_json() == {"message": "Not yours."}
