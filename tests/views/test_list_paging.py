"""Every list pages through the one list machinery (app.views.datamodel.ListInterface):
each row once, in the list's order, whether a page is reached by number (read from the
nearer end) or through the pager's links (a cursor); no link leads to an empty page."""
import html as html_lib
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from app.extensions import db
from app.models import Address, AuditEntry, Contact, ContactPhone, CustomerService

# list -> (route base, view name, model, default order as (column, direction))
LISTS = {
    "contacts": ("/contacts", "ContactView", Contact, ("is_primary", "desc")),
    "addresses": ("/addresses", "AddressView", Address, ("kind", "asc")),
    "services": ("/services", "ServiceView", CustomerService, ("id", "asc")),
    "phones": ("/contact-phones", "ContactPhoneView", ContactPhone, ("id", "asc")),
    "audit": ("/audit", "AuditView", AuditEntry, ("at", "desc")),
}
PAGER = re.compile(r'<ul class="pagination[^"]*"[^>]*>(.*?)</ul>', re.S)
LINK = re.compile(r'<a href="([^"#][^"]*)">([^<]*)</a>')


@pytest.fixture
def data(app):
    with app.app_context():
        from app.services.demo_data import generate
        generate(db.session, 60, resellers=2, tags=3, seed=5)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        # Several entries at the same moment: the order must still be total (at, then id).
        db.session.add_all([AuditEntry(at=start + timedelta(minutes=i // 3), username="admin", action="update",
                                       entity="customer", entity_id=i, customer_id=None, changes={})
                            for i in range(70)])
        db.session.commit()


def expected(model, column: str, direction: str, where=None) -> list[int]:
    key = getattr(model, column)
    order = (key.desc(), model.id.desc()) if direction == "desc" else (key.asc(), model.id.asc())
    query = db.session.query(model.id)
    if where is not None:
        query = query.filter(where)
    return [row[0] for row in query.order_by(*order)]


def shown(base: str, page: str) -> list[int]:
    return [int(pk) for pk in re.findall(rf'href="{re.escape(base)}/show/(\d+)', page)]


def pager_links(page: str) -> dict[str, str]:
    """The pager's links by their text ("&gt;", "3", "&raquo;"...), unescaped."""
    found = PAGER.search(page)
    return {text: html_lib.unescape(href) for href, text in LINK.findall(found.group(1))} if found else {}


def walk_by_links(browser, base: str, url: str) -> list[list[int]]:
    """Page 1, then each "next" link of the pager until there is none."""
    pages = []
    while url:
        page = browser.get(url).get_data(as_text=True)
        pages.append(shown(base, page))
        url = pager_links(page).get("&gt;")
        assert len(pages) < 100
    return pages


def walk_by_number(browser, base: str, url: str, view: str, count: int, size: int) -> list[list[int]]:
    return [shown(base, browser.get(f"{url}&page_{view}={n}").get_data(as_text=True))
            for n in range(-(-count // size))]


@pytest.mark.parametrize("name", list(LISTS))
def test_every_list_shows_every_row_once_in_its_order_by_number_and_through_the_pagers_links(app, login, data, name):
    base, view, model, (column, direction) = LISTS[name]
    with app.app_context():
        ids = expected(model, column, direction)
    assert len(ids) > 50
    browser = login("admin")
    url = f"{base}/list/?psize_{view}=10"
    by_link = walk_by_links(browser, base, url)
    assert all(by_link) and sum(by_link, []) == ids
    by_number = walk_by_number(browser, base, url, view, len(ids), 10)
    assert by_number == by_link  # the back half, read backwards from the end, is the same rows


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("name,columns", [
    ("contacts", ["is_primary", "title", "first_name", "surname", "position", "email"]),
    ("addresses", ["kind", "line1", "town", "postcode", "country"]),
    ("audit", ["at", "username", "action", "entity", "entity_id"]),
])
def test_sorted_by_each_column_the_pages_by_number_and_by_link_are_the_sorted_rows(app, login, data, name, columns,
                                                                                  direction):
    base, view, model, _ = LISTS[name]
    browser = login("admin")
    for column in columns:
        with app.app_context():
            ids = expected(model, column, direction)
        url = f"{base}/list/?psize_{view}=20&_oc_{view}={column}&_od_{view}={direction}"
        by_link = walk_by_links(browser, base, url)
        assert sum(by_link, []) == ids, column
        assert walk_by_number(browser, base, url, view, len(ids), 20) == by_link, column


def filter_index(app, view_name: str, column: str, filter_name: str) -> int:
    view = next(v for v in app.appbuilder.baseviews if type(v).__name__ == view_name)
    return [f.name for f in view._filters.get_search_filters()[column]].index(filter_name)


def test_a_filtered_list_pages_through_its_matches_only(app, login, data):
    with app.app_context():
        ids = expected(Address, "kind", "asc", Address.town == "London")
        everyone = expected(Address, "kind", "asc")
    assert 0 < len(ids) < len(everyone)
    index = filter_index(app, "AddressView", "town", "Equal to")
    url = f"/addresses/list/?psize_AddressView=5&_flt_{index}_town=London"
    browser = login("admin")
    by_link = walk_by_links(browser, "/addresses", url)
    assert all(by_link) and sum(by_link, []) == ids
    assert walk_by_number(browser, "/addresses", url, "AddressView", len(ids), 5) == by_link


def test_every_page_the_pager_links_to_has_rows_and_the_last_pages_previous_is_full(app, login, data):
    browser = login("admin")
    start = "/contacts/list/?psize_ContactView=10"
    seen, todo = set(), [start]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        page = browser.get(url).get_data(as_text=True)
        assert shown("/contacts", page), url
        todo.extend(href for href in pager_links(page).values() if href not in seen)
    last = browser.get(pager_links(browser.get(start).get_data(as_text=True))["&raquo;"]).get_data(as_text=True)
    before_last = browser.get(pager_links(last)["&lt;"]).get_data(as_text=True)
    assert len(shown("/contacts", before_last)) == 10


def test_a_page_asked_for_past_the_end_shows_the_last_page(app, login, data):
    with app.app_context():
        ids = expected(Contact, "is_primary", "desc")
    page = login("admin").get("/contacts/list/?psize_ContactView=10&page_ContactView=5000").get_data(as_text=True)
    assert shown("/contacts", page) == ids[(len(ids) - 1) // 10 * 10:]


def test_a_cursor_that_does_not_fit_the_list_is_ignored(app, login, data):
    with app.app_context():
        ids = expected(Contact, "is_primary", "desc")
        by_email = expected(Contact, "email", "asc")
    browser = login("admin")
    page = browser.get("/contacts/list/?psize_ContactView=10").get_data(as_text=True)
    next_link = pager_links(page)["&gt;"]
    assert "_cur_ContactView=" in next_link
    cursor = re.search(r"_cur_ContactView=([^&]+)", next_link).group(1)
    for url in ("/contacts/list/?psize_ContactView=10&page_ContactView=3&_cur_ContactView=not-a-cursor",
                f"/contacts/list/?psize_ContactView=10&page_ContactView=3&_cur_ContactView={cursor}x",
                # made for the default order, sent with another sort and page size
                f"/contacts/list/?psize_ContactView=10&page_ContactView=3&_cur_ContactView={cursor}"
                "&_oc_ContactView=email&_od_ContactView=asc"):
        got = shown("/contacts", browser.get(url).get_data(as_text=True))
        assert got == (by_email if "email" in url else ids)[30:40], url


def test_a_forged_cursor_is_ignored_never_a_500(app, login, data):
    """A cursor's id, sort key or page rewritten by hand (too large for the database, a NUL, a
    string where a number sorts) is not the cursor the list made: the page is read without it."""
    import base64
    import json
    with app.app_context():
        ids = expected(Contact, "is_primary", "desc")
    browser = login("admin")
    page = browser.get("/contacts/list/?psize_ContactView=10").get_data(as_text=True)
    token = re.search(r"_cur_ContactView=([^&]+)", pager_links(page)["&gt;"]).group(1)
    anchor, side, key, pk, mac = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))

    def forged(*body):
        return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    for cursor, sort in ((forged(anchor, side, key, 2**70, mac), ""),
                         (forged(anchor, side, "a\x00b", pk, mac), "&_oc_ContactView=email&_od_ContactView=asc"),
                         (forged(anchor, side, 2**70, pk, mac), "&_oc_ContactView=id&_od_ContactView=asc"),
                         (forged(2**70, side, key, pk, mac), ""),
                         (forged(anchor, side, key, pk), "")):
        response = browser.get(f"/contacts/list/?psize_ContactView=10&page_ContactView=1{sort}&_cur_ContactView={cursor}")
        assert response.status_code == 200, cursor
        if not sort:
            assert shown("/contacts", response.get_data(as_text=True)) == ids[10:20]


def test_the_customer_lists_surname_starts_with_goes_through_the_surname_lexicon(app, login):
    with app.app_context():
        from tests import factories as f
        smith, smithers = f.customer(surname="Smith").id, f.customer(surname="smithers").id
        f.customer(surname="Blacksmith")
        literal = f.customer(surname="Sm_th").id
    index = filter_index(app, "CustomerView", "surname", "Starts with")
    statements = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = login("admin").get(f"/customers/list/?_flt_{index}_surname=SMITH").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sorted(int(i) for i in re.findall(r'href="/customers/show/(\d+)"', page)) == sorted({smith, smithers})
    paging = [s for s in statements if "customer_surname" in s]
    assert paging, "the search does not read the surname lexicon"
    page = login("admin").get(f"/customers/list/?_flt_{index}_surname=Sm_").get_data(as_text=True)
    assert re.findall(r'href="/customers/show/(\d+)"', page) == [str(literal)]  # "_" is no wildcard


def test_the_list_of_a_customers_contacts_pages_within_that_customer(app, login, data):
    with app.app_context():
        customer_id = db.session.query(Contact.customer_id).filter(Contact.is_primary.is_(False)).first()[0]
        ids = expected(Contact, "is_primary", "desc", Contact.customer_id == customer_id)
    page = login("admin").get(f"/customers/edit/{customer_id}").get_data(as_text=True)  # its related lists
    assert shown("/contacts", page) == ids and len(ids) == 2


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_customers_sorted_by_balance_page_through_every_customer_by_number_by_link_in_the_csv_and_the_api(
        app, login, api, data, direction):
    """The sort by balance walks customer_balance (customer.balance has no index): every customer has its
    row there, demo data's (COPY) as the service's, moved by the ledger with customer.balance."""
    import csv
    import io
    import uuid

    import prison

    from app.models import Customer
    from app.services.billing import payments
    from tests import factories
    with app.app_context():
        made = factories.customer(surname="Owing").id
        payments.adjust_balance(db.session, factories.user("admin"), made, {"amount": "123.45", "reason": "Opening"},
                                str(uuid.uuid4()))
        creditor = factories.customer(surname="Creditor").id
        payments.adjust_balance(db.session, factories.user("admin"), creditor, {"amount": "-7", "reason": "Opening"},
                                str(uuid.uuid4()))
        ids = expected(Customer, "balance", direction, Customer.status != "archived")
        everyone = expected(Customer, "balance", direction)  # the API hides no archived customer
        balances = set(db.session.scalars(db.select(Customer.balance)))
    assert {made, creditor} <= set(ids) and len(ids) > 50 and len(balances) > 10
    browser = login("admin")
    url = f"/customers/list/?psize_CustomerView=10&_oc_CustomerView=balance&_od_CustomerView={direction}"
    by_link = walk_by_links(browser, "/customers", url)
    assert sum(by_link, []) == ids
    assert walk_by_number(browser, "/customers", url, "CustomerView", len(ids), 10) == by_link
    export = browser.get(f"/customers/export.csv?_oc_CustomerView=balance&_od_CustomerView={direction}")
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"), newline="")))
    assert [int(row[0]) for row in rows[1:]] == ids
    client, from_api = api("admin"), []
    for page in range(-(-len(everyone) // 25)):
        q = prison.dumps({"order_column": "balance", "order_direction": direction, "page": page, "page_size": 25})
        from_api += [row["id"] for row in client.get(f"/api/v1/customers/?q={q}").json["result"]]
    assert from_api == everyone


@pytest.mark.parametrize("column,direction", [("balance", "asc"), ("balance", "desc"), ("name", "asc")])
def test_customers_filtered_by_balance_page_through_their_matches_sorted_by_balance_or_name(
        app, login, data, column, direction):
    """A balance filter compares customer_balance: through a semi-join, and sorted by balance on the
    row the walk reads (ListInterface.walked_ids); the pages are the matches either way."""
    from app.models import Customer, CustomerBalance
    with app.app_context():
        key = Customer.sort_name if column == "name" else CustomerBalance.balance
        order = (key.desc(), Customer.id.desc()) if direction == "desc" else (key.asc(), Customer.id.asc())
        ids = [row[0] for row in db.session.query(Customer.id).join(CustomerBalance).filter(
            CustomerBalance.balance >= 1, Customer.status != "archived").order_by(*order)]
        everyone = db.session.query(Customer.id).filter(Customer.status != "archived").count()
    assert 20 < len(ids) < everyone
    browser = login("admin")
    url = (f"/customers/list/?psize_CustomerView=10&_flt_0_balance=1"
           f"&_oc_CustomerView={column}&_od_CustomerView={direction}")
    by_link = walk_by_links(browser, "/customers", url)
    assert sum(by_link, []) == ids
    assert walk_by_number(browser, "/customers", url, "CustomerView", len(ids), 10) == by_link
