"""Every list refuses list arguments it cannot use: a page, page size, sort column or filter that
is not valid is ignored with a message (the list as without it), never a 500; a page shows at
most 100 rows; FAB's file-download routes, which the app does not use, are gone."""
import pytest

from app.extensions import db
from app.models import AuditEntry, Tag
from tests import factories as f


def list_views(app):
    """(url, view) of every FAB list the app serves, found in its URL map."""
    views = {v.endpoint: v for v in app.appbuilder.baseviews}
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith(".list") and not rule.arguments:
            found.append((rule.rule, views[rule.endpoint.rsplit(".", 1)[0]]))
    return sorted(found, key=lambda item: item[0])


def test_the_walk_finds_every_list_the_issue_names(app):
    urls = {url for url, _ in list_views(app)}
    for url in ("/customers/list/", "/contacts/list/", "/addresses/list/", "/services/list/",
                "/contact-phones/list/", "/messages/list/", "/audit/list/", "/users/list/", "/roles/list/"):
        assert url in urls


def _past_the_list(view):
    """A filter index past a searchable column's list of filters (FAB reads one digit)."""
    filters = view._filters.get_search_filters()
    column = min(filters, key=lambda c: len(filters[c]), default=None)
    if column is None or len(filters[column]) > 9:
        return None
    return {f"_flt_{len(filters[column])}_{column}": "x"}


def _not_searchable(view):
    """A column FAB could filter on that the view does not offer in its search."""
    everything = view.datamodel.get_filters(view.datamodel.get_columns_list())._all_filters
    searchable = view._filters.get_search_filters()
    return next((c for c in everything if c not in searchable), None)


BAD = {
    "page abc": lambda name, view: {f"page_{name}": "abc"},
    "page -5": lambda name, view: {f"page_{name}": "-5"},
    "page huge": lambda name, view: {f"page_{name}": "99999999999999999999"},
    "page ٣": lambda name, view: {f"page_{name}": "٣"},
    "page size abc": lambda name, view: {f"psize_{name}": "abc"},
    "page size -5": lambda name, view: {f"psize_{name}": "-5"},
    "page size 0": lambda name, view: {f"psize_{name}": "0"},
    "page size huge": lambda name, view: {f"psize_{name}": "99999999999999999999"},
    "sort column unknown": lambda name, view: {f"_oc_{name}": "no_such_column", f"_od_{name}": "asc"},
    "sort direction unknown": lambda name, view: {f"_oc_{name}": (view.order_columns or ["id"])[0],
                                                  f"_od_{name}": "sideways"},
    "filter index past the list": lambda name, view: _past_the_list(view),
    "filter column unknown": lambda name, view: {"_flt_0_no_such_column": "x"},
    "filter column not searchable": lambda name, view: (
        {f"_flt_0_{_not_searchable(view)}": "x"} if _not_searchable(view) else {"_flt_0_zzz": "x"}),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_every_list_ignores_an_argument_it_cannot_use_with_a_message(app, login, kind):
    with app.app_context():
        f.customer(surname="Listed")
    browser = login("admin")
    failures = []
    for url, view in list_views(app):
        args = BAD[kind](view.__class__.__name__, view)
        if args is None:
            continue
        try:  # the test app lets an unhandled error through instead of answering 500
            r = browser.get(url, query_string=args)
        except Exception as e:  # noqa: BLE001
            failures.append((url, args, repr(e)[:80]))
            continue
        if r.status_code != 200 or "Ignored" not in r.get_data(as_text=True):
            failures.append((url, args, r.status_code))
    assert not failures


def _typed_stock_filters(view):
    """(column, filter index) of FAB's own filters on a number or flag column of the view."""
    datamodel = view.datamodel
    for column, filters in view._filters.get_search_filters().items():
        if datamodel.is_relation(column) or not (datamodel.is_integer(column) or datamodel.is_boolean(column)
                                                  or datamodel.is_numeric(column) or datamodel.is_float(column)):
            continue
        for index, flt in enumerate(filters[:10]):
            if type(flt).__module__ == "flask_appbuilder.models.sqla.filters":
                yield column, index


def test_fabs_filters_on_numbers_and_flags_ignore_a_value_the_column_cannot_hold(app, login):
    browser = login("admin")
    failures, tried = [], 0
    for url, view in list_views(app):
        for column, index in _typed_stock_filters(view):
            for value in ("x", "99999999999999999999"):
                tried += 1
                try:
                    r = browser.get(url, query_string={f"_flt_{index}_{column}": value})
                except Exception as e:  # noqa: BLE001
                    failures.append((url, column, index, value, repr(e)[:80]))
                    continue
                if r.status_code != 200 or "Ignored" not in r.get_data(as_text=True):
                    failures.append((url, column, index, value, r.status_code))
    assert tried and not failures


def test_a_list_without_bad_arguments_says_nothing_was_ignored(app, login):
    browser = login("admin")
    for url, _view in list_views(app):
        r = browser.get(url)
        assert r.status_code == 200 and "Ignored" not in r.get_data(as_text=True), url


def test_a_related_list_on_a_customers_page_ignores_a_bad_page_of_its_own(app, login):
    with app.app_context():
        pk = f.customer(surname="Parent").id
    browser = login("admin")
    r = browser.get(f"/customers/edit/{pk}", query_string={"page_ContactView": "-5", "psize_AddressView": "abc"})
    assert r.status_code == 200
    assert "Ignored" in r.get_data(as_text=True)


def _rows(html):
    return html.count('name="rowid"')


def test_a_page_shows_at_most_100_rows(app, login):
    with app.app_context():
        db.session.add_all(Tag(name=f"tag {i:03}") for i in range(130))
        db.session.commit()
    browser = login("admin")
    html = browser.get("/tags/list/", query_string={"psize_TagView": "1000"}).get_data(as_text=True)
    assert html.count("tag 0") + html.count("tag 1") == 100
    html = browser.get("/tags/list/", query_string={"psize_TagView": "-1"}).get_data(as_text=True)
    assert html.count("tag 0") + html.count("tag 1") < 130


def test_a_negative_page_size_does_not_return_every_row(app, login):
    with app.app_context():
        for i in range(30):
            db.session.add(AuditEntry(entity="customer", entity_id=i, action="update", changes={}))
        db.session.commit()
        shown = db.session.query(AuditEntry).count()
    assert shown >= 30
    browser = login("admin")
    html = browser.get("/audit/list/", query_string={"psize_AuditView": "-1"}).get_data(as_text=True)
    assert html.count("/audit/show/") <= 25


@pytest.mark.parametrize("url", ["/users/download/x.txt", "/roles/download/x.txt", "/customers/download/x.txt",
                                 "/contacts/download/x.txt", "/groups/download/x.txt",
                                 "/permissions/download/x.txt"])
def test_fabs_file_download_routes_are_gone(app, login, url):
    assert login("admin").get(url).status_code == 404


def test_no_route_is_fabs_file_download(app):
    assert [r.rule for r in app.url_map.iter_rules() if r.endpoint.endswith(".download")] == []
