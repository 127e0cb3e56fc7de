"""The REST lists refuse rison list arguments they cannot use with a 400 and a message, never a
500, and give at most 100 rows a page."""
import prison
import pytest

from app.extensions import db
from app.models import Tag

APIS = {"customers": "name", "contacts": "customer_id", "addresses": "customer_id",
        "contact-phones": "contact_id", "tags": "name"}

BAD = {
    "page -5": lambda col: {"page": -5},
    "page huge": lambda col: {"page": 99999999999999999999},
    "page not a number": lambda col: {"page": "abc"},
    "page size -5": lambda col: {"page_size": -5},
    "page size 0": lambda col: {"page_size": 0},
    "page size huge": lambda col: {"page_size": 99999999999999999999},
    "page size not a number": lambda col: {"page_size": "abc"},
    "sort column unknown": lambda col: {"order_column": "no_such_column", "order_direction": "asc"},
    "sort direction unknown": lambda col: {"order_column": col, "order_direction": "sideways"},
    "filter column unknown": lambda col: {"filters": [{"col": "no_such_column", "opr": "eq", "value": 1}]},
    "filter operation unknown": lambda col: {"filters": [{"col": col, "opr": "no_such_opr", "value": "x"}]},
    "filter without its value": lambda col: {"filters": [{"col": col, "opr": "eq"}]},
    "filter not an object": lambda col: {"filters": ["x"]},
    "filter value huge": lambda col: {"filters": [{"col": col, "opr": "eq", "value": 99999999999999999999}]},
    "filter value a list": lambda col: {"filters": [{"col": col, "opr": "eq", "value": [1, 2]}]},
}


@pytest.mark.parametrize("kind", list(BAD))
def test_every_rest_list_refuses_an_argument_it_cannot_use_with_a_400(app, api, kind):
    client = api("admin")
    failures = []
    for resource, column in APIS.items():
        q = prison.dumps(BAD[kind](column))
        try:  # the test app lets an unhandled error through instead of answering 500
            r = client.get(f"/api/v1/{resource}/", query_string={"q": q})
        except Exception as e:  # noqa: BLE001
            failures.append((resource, q, repr(e)[:80]))
            continue
        if r.status_code != 400 or not (r.get_json() or {}).get("message"):
            failures.append((resource, q, r.status_code))
    assert not failures


def test_a_rest_page_gives_at_most_100_rows(app, api):
    with app.app_context():
        db.session.add_all(Tag(name=f"tag {i:03}") for i in range(130))
        db.session.commit()
    r = api("admin").get("/api/v1/tags/", query_string={"q": prison.dumps({"page_size": 1000})})
    assert r.status_code == 200
    assert len(r.json["result"]) == 100 and r.json["count"] == 130


def test_valid_rest_list_arguments_still_answer(app, api):
    client = api("admin")
    for resource, column in APIS.items():
        q = prison.dumps({"page": 0, "page_size": 100, "order_column": "id", "order_direction": "desc"})
        r = client.get(f"/api/v1/{resource}/", query_string={"q": q})
        assert r.status_code == 200, (resource, r.get_json())
