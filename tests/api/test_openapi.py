"""The published OpenAPI document (/api/v1/_openapi) is a valid OpenAPI 3 document, so client
generators and fuzzers accept it: every path's template parameters are declared."""
import re

from openapi_spec_validator import validate


def _document(api):
    r = api("admin").get("/api/v1/_openapi")
    assert r.status_code == 200
    return r.get_json()


def test_the_published_openapi_document_is_valid(app, api):
    validate(_document(api))


def test_every_path_parameter_is_declared_on_its_operations(app, api):
    document = _document(api)
    missing = []
    for path, item in document["paths"].items():
        names = set(re.findall(r"{([^}]+)}", path))
        for method, operation in item.items():
            if method == "parameters":
                continue
            declared = {p["name"] for p in operation.get("parameters", []) + item.get("parameters", [])
                        if p.get("in") == "path"}
            if names - declared:
                missing.append((method, path, sorted(names - declared)))
    assert not missing


def test_the_document_describes_the_customer_apis_get_one_route(app, api):
    operation = _document(api)["paths"]["/api/v1/customers/{pk}"]["get"]
    assert {"in": "path", "name": "pk", "required": True, "schema": {"type": "integer"}} in operation["parameters"]
