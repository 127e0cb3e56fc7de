"""The customer list shows what it is filtered by: a removable chip per filter, the filter
panel open while any is set, drop-downs of real statuses and resellers, names that link to
the customer's page."""
import json
import re
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.extensions import db
from tests import factories as f

LIST = "/customers/list/"


@pytest.fixture
def people(app):
    with app.app_context():
        vip = f.tag("vip", "#ff0000")
        ada = f.customer(first_name="Ada", surname="Lovelace", tag_ids=[vip.id], status="dormant",
                         reseller_id=f.reseller_id("Reseller A"))
        bob = f.customer(first_name="Bob", surname="Acme", reseller_id=f.reseller_id("Reseller B"))
        db.session.commit()
        return {"ada": ada.id, "bob": bob.id, "vip": vip.id,
                "reseller_a": f.reseller_id("Reseller A"), "reseller_b": f.reseller_id("Reseller B")}


def page(browser, url):
    response = browser.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def chips(html):
    """(text, remove link) of each filter chip, the text as the user reads it ("Status: Dormant ×")."""
    found = []
    for body in re.findall(r'<span class="filter-chip">(.*?&times;</a>)</span>', html, re.S):
        link = re.search(r'<a class="filter-chip-remove" href="([^"]*)"', body).group(1)
        text = unescape(re.sub(r"<[^>]+>", "", body))
        found.append((" ".join(text.split()), unescape(link)))
    return found


def args_of(url):
    return sorted(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def panel_open(html):
    return 'id="accordion1_href" class="panel-collapse collapse in"' in html


def select_options(html, column):
    """The (value, text) options of the filter bar's field for `column` (in FAB's JSON of fields)."""
    fields = re.search(r"new AdminFilters\(\s*'#filter_form',\s*(\{.*?\}),\s*(\{.*?\}),\s*\{", html, re.S).group(2)
    field = json.loads(fields)[column]
    assert field.startswith("<select"), field
    return [(unescape(v), unescape(t)) for v, t in re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', field)]


def test_a_list_without_filters_shows_no_chip_and_a_closed_panel(app, login, people):
    html = page(login("admin"), LIST)
    assert chips(html) == []
    assert not panel_open(html)
    assert 'id="archived-hidden"' in html  # the default filter is said, not silent


def test_each_filter_set_shows_as_a_chip_with_its_value_in_words(app, login, people):
    html = page(login("admin"), f"{LIST}?_flt_0_status=dormant&_flt_0_tags={people['vip']}"
                                f"&_flt_0_name=acme&_flt_0_reseller={people['reseller_a']}")
    texts = sorted(text for text, _ in chips(html))
    assert texts == sorted(["Status: Dormant ×", "Tag: vip ×", "Search: acme ×", "Reseller: Reseller A ×"])
    assert panel_open(html)
    assert 'id="archived-hidden"' not in html  # a status filter is set: nothing is hidden besides it


def test_a_filter_of_another_kind_names_its_comparison(app, login, people):
    html = page(login("admin"), f"{LIST}?_flt_1_status=blocked&_flt_1_tags={people['vip']}&_flt_0_joined_on=2020-01-01")
    texts = sorted(text for text, _ in chips(html))
    assert texts == sorted(["Status is not: Blocked ×", "Without tag: vip ×", "Date joined from: 2020-01-01 ×"])


def test_removing_a_chip_drops_exactly_that_filter_and_keeps_sort_and_page_size(app, login, people):
    browser = login("admin")
    url = (f"{LIST}?_flt_0_status=dormant&_flt_0_tags={people['vip']}&_flt_0_name=lovelace"
           "&_oc_CustomerView=name&_od_CustomerView=desc&psize_CustomerView=50&page_CustomerView=2")
    found = dict(chips(page(browser, url)))
    remove = found["Tag: vip ×"]
    assert urlsplit(remove).path == LIST
    assert args_of(remove) == sorted([("_flt_0_status", "dormant"), ("_flt_0_name", "lovelace"),
                                      ("_oc_CustomerView", "name"), ("_od_CustomerView", "desc"),
                                      ("psize_CustomerView", "50")])  # the page starts again at 1

    after = page(browser, remove)
    assert sorted(t for t, _ in chips(after)) == ["Search: lovelace ×", "Status: Dormant ×"]
    assert "Ada Lovelace" in after


def test_removing_one_of_two_values_of_one_filter_keeps_the_other(app, login, people):
    with app.app_context():
        trade = f.tag("trade").id
        db.session.commit()
    url = f"{LIST}?_flt_0_tags={people['vip']}&_flt_0_tags={trade}"
    found = dict(chips(page(login("admin"), url)))
    assert set(found) == {"Tag: vip ×", "Tag: trade ×"}
    assert args_of(found["Tag: vip ×"]) == [("_flt_0_tags", str(trade))]


def test_the_last_chip_removed_leaves_the_plain_list(app, login, people):
    browser = login("admin")
    [(text, remove)] = chips(page(browser, f"{LIST}?_flt_0_status=archived"))
    assert text == "Status: Archived ×"
    assert args_of(remove) == []
    html = page(browser, remove)
    assert chips(html) == [] and not panel_open(html)


def test_an_empty_search_is_no_filter(app, login, people):
    html = page(login("admin"), f"{LIST}?_flt_0_name=")
    assert chips(html) == []
    assert not panel_open(html)


def test_a_filter_the_list_ignored_shows_no_chip(app, login, people):
    html = page(login("admin"), f"{LIST}?_flt_0_password=x&_flt_7_status=dormant")
    assert chips(html) == []
    assert not panel_open(html)


def test_a_search_with_markup_is_shown_as_text_in_its_chip(app, login, people):
    html = page(login("admin"), LIST + "?_flt_0_name=%3Cscript%3Ealert(1)%3C/script%3E")
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert [t for t, _ in chips(html)] == ["Search: <script>alert(1)</script> ×"]


def test_show_archived_keeps_the_search_and_sort(app, login, people):
    html = page(login("admin"), f"{LIST}?_flt_0_name=acme&_oc_CustomerView=id&_od_CustomerView=asc")
    link = unescape(re.search(r'id="archived-hidden".*?<a[^>]*href="([^"]*)"', html, re.S).group(1))
    assert args_of(link) == sorted([("_flt_0_name", "acme"), ("_flt_0_status", "archived"),
                                    ("_oc_CustomerView", "id"), ("_od_CustomerView", "asc")])


def test_the_status_filter_offers_the_statuses_in_words(app, login, people):
    html = page(login("admin"), LIST)
    assert select_options(html, "status") == [
        ("active", "Active"), ("disabled", "Disabled"), ("dormant", "Dormant"), ("blocked", "Blocked"),
        ("archived", "Archived")]


def test_the_reseller_filter_offers_every_reseller_by_name_to_an_admin(app, login, people):
    options = select_options(page(login("admin"), LIST), "reseller")
    assert options == [(str(people["reseller_a"]), "Reseller A"), (str(people["reseller_b"]), "Reseller B")]


def test_a_resellers_user_is_offered_only_their_own_reseller(app, login, people):
    assert select_options(page(login("reseller_a"), LIST), "reseller") == [(str(people["reseller_a"]), "Reseller A")]
    assert select_options(page(login("reseller_none"), LIST), "reseller") == []


def test_no_filter_drop_down_offers_fabs_none(app, login, people):
    html = page(login("admin"), LIST)
    assert "__None" not in html


def test_each_name_links_to_the_customers_page(app, login, people):
    html = page(login("admin"), LIST)
    assert re.search(rf'<td class="col-name"><a href="/customers/show/{people["ada"]}">Ada Lovelace</a></td>', html)
    assert re.search(rf'<td class="col-name"><a href="/customers/show/{people["bob"]}">Bob Acme</a></td>', html)


def test_every_cell_and_header_carries_its_columns_class(app, login, people):
    html = page(login("admin"), LIST)
    table = html[html.index('<div class="table-responsive customer-table">'):]
    for column in ("id", "name", "phone", "email", "joined_on", "balance", "services_summary", "tags", "status",
                   "reseller"):
        assert f'<th class="col-{column}"' in table, column
        assert f'<td class="col-{column}"' in table, column


def test_chips_and_drop_downs_read_nothing_more_than_the_plain_list(app, login, people):
    """The words on the chips come from the filter bar's options, read once: no query of their own."""
    from sqlalchemy import event
    browser = login("admin")
    with app.app_context():
        engine = db.engine
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def count(url):
        statements.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            page(browser, url)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(statements)

    plain = count(LIST)
    assert count(f"{LIST}?_flt_0_tags={people['vip']}&_flt_0_reseller={people['reseller_a']}"
                 "&_flt_0_status=dormant") == plain
    assert sum("FROM reseller" in s for s in statements) == 1


def test_the_search_box_keeps_the_other_filters_sort_and_page_size(app, login, people):
    html = page(login("admin"), f"{LIST}?_flt_0_status=dormant&_flt_0_name=old&_oc_CustomerView=id"
                                "&_od_CustomerView=asc&psize_CustomerView=50&page_CustomerView=3")
    form = re.search(r'<form method="get" action="/customers/list/" role="search">(.*?)</form>', html, re.S).group(1)
    hidden = sorted(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', form))
    assert hidden == sorted([("_flt_0_status", "dormant"), ("_oc_CustomerView", "id"), ("_od_CustomerView", "asc"),
                             ("psize_CustomerView", "50")])
    assert 'name="_flt_0_name"' in form and 'value="old"' in form
