"""The customer list in a real browser: login, columns, search, show page, CSV export,
sorting and the reseller's scope.

What a page should show is worked out from the database with plain Python (not with
the app's own queries), so a wrong filter or sort in the app shows up as a difference.
"""
import csv
import io
import random
import re
import string

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import login

pytestmark = pytest.mark.e2e

LIST = "/customers/list/"
COLUMNS = ["Customer ID", "Name", "Phone", "E-mail", "Date joined", "Balance", "Services", "Tags", "Status",
           "Reseller"]
SEARCH_PLACEHOLDER = "Search name, e-mail, phone or customer ID"
PAGE_SIZE = 25
# The list's own table (FAB's filter form has a table-hover table too, without the wrapper).
LIST_TABLE = "div.table-responsive > table.table-hover"


# ---- reading the page ---------------------------------------------------------------

def headers(page, table=LIST_TABLE):
    return [t.strip() for t in page.locator(f"{table} thead th").all_inner_texts()]


def column(page, label, table=LIST_TABLE):
    """The texts of one column, top to bottom (the first, unlabelled column holds the buttons)."""
    index = headers(page, table).index(label) + 1
    return [t.strip() for t in page.locator(f"{table} tbody tr td:nth-child({index})").all_inner_texts()]


def shown_ids(page):
    if not page.locator(LIST_TABLE).count():  # FAB shows no table when nothing matches
        return []
    return [int(i) for i in column(page, "Customer ID")]


def record_count(page, scope=None):
    """The count above a list (#record-count, "1,234"), or above a related list on a show page
    (scope: that panel)."""
    counts = page.locator(scope).locator("#record-count") if scope else page.locator("#record-count")
    return int(counts.first.inner_text().replace(",", ""))


def search(page, text):
    box = page.get_by_placeholder(SEARCH_PLACEHOLDER)
    box.fill(text)
    with page.expect_navigation():
        box.press("Enter")


def read_download(download):
    raw = open(download.path(), "rb").read()
    text = raw.decode("utf-8-sig")  # the export starts with a BOM for spreadsheets
    return raw, list(csv.reader(io.StringIO(text)))


# ---- what the page should show, from the database -----------------------------------

def customers(live_server):
    """Every customer as a plain dict."""
    def rows(session):
        from app.models import Customer
        return [dict(id=c.id, name=c.name, email=c.email, status=c.status, sort_name=c.sort_name,
                     reseller=c.reseller.name if c.reseller else None)
                for c in session.query(Customer)]
    return live_server.query(rows)


def listed(rows):
    """The list hides archived customers unless asked for."""
    return [r for r in rows if r["status"] != "archived"]


def by_name(rows, descending=False):
    return sorted(rows, key=lambda r: (r["sort_name"], r["id"]), reverse=descending)


def matching(rows, text):
    needle = text.lower()
    return [r for r in rows if needle in r["name"].lower() or needle in (r["email"] or "").lower()]


def customer_with_most_children(live_server):
    """A listed customer with two contacts and two addresses, with what its page should show."""
    def pick(session):
        from app.models import Address, Contact, Customer
        for c in session.query(Customer).filter(Customer.status != "archived").order_by(Customer.id):
            contacts = session.query(Contact).filter_by(customer_id=c.id).order_by(Contact.id).all()
            addresses = session.query(Address).filter_by(customer_id=c.id).order_by(Address.id).all()
            if len(contacts) >= 2 and len(addresses) >= 2:
                return dict(id=c.id, name=c.name,
                            contacts=[(k.first_name, k.surname, k.email) for k in contacts],
                            addresses=[(a.kind, a.line1, a.town, a.postcode) for a in addresses])
        raise AssertionError("the demo data has no customer with two contacts and two addresses")
    return live_server.query(pick)


# ---- the tests ------------------------------------------------------------------------

def test_an_admin_logs_in_through_the_login_form(page):
    page.goto("/login/")
    page.get_by_label("Username:").fill("admin")
    page.get_by_label("Password:").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign In").click()

    assert "/login" not in page.url
    expect(page.locator("#dashboard-statuses")).to_contain_text("All customers")  # the home page: a dashboard
    expect(page.locator(".navbar-right")).to_contain_text("admin Test")
    page.goto(LIST)
    expect(page.locator(".panel-title").first).to_have_text("Customers")


def test_a_wrong_password_keeps_the_user_on_the_login_page(page):
    login(page, "admin", password="not-the-password")
    assert "/login/" in page.url
    expect(page.get_by_text("Invalid login. Please try again.")).to_be_visible()
    page.goto(LIST)
    assert "/login/" in page.url  # still not allowed in


def test_the_customer_list_shows_customers_with_the_agreed_columns(admin_page, live_server, screenshots):
    page = admin_page
    page.goto(LIST)

    assert [h for h in headers(page) if h] == COLUMNS
    expected = listed(customers(live_server))
    assert record_count(page) == len(expected)
    assert len(shown_ids(page)) == PAGE_SIZE
    # The default order is by name (surname, then first name).
    assert shown_ids(page) == [r["id"] for r in by_name(expected)[:PAGE_SIZE]]
    assert all(column(page, "Name")), "every row has a name"
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in column(page, "Date joined"))
    # each balance in its customer's currency: "£12.50", "-€3.00", "JP¥1,235", "BHD7.250"
    assert all(re.fullmatch(r"-?[^\d\s-]+[\d,]+(\.\d+)?", b.replace("\xa0", "")) for b in column(page, "Balance"))
    assert set(column(page, "Status")) <= {"Active", "Disabled", "Dormant", "Blocked"}
    page.screenshot(path=str(screenshots / "customer-list.png"), full_page=True)


@pytest.mark.parametrize("surname", ["Doyle", "O'Brien"])
def test_searching_a_surname_shows_only_the_customers_with_that_name(admin_page, live_server, surname):
    page = admin_page
    page.goto(LIST)
    expected = matching(listed(customers(live_server)), surname)
    assert 0 < len(expected) < PAGE_SIZE, "pick a surname with a handful of customers"

    search(page, surname)

    assert sorted(shown_ids(page)) == sorted(r["id"] for r in expected)
    assert all(surname.lower() in n.lower() for n in column(page, "Name"))
    assert record_count(page) == len(expected)
    expect(page.get_by_placeholder(SEARCH_PLACEHOLDER)).to_have_value(surname)


def test_opening_a_customer_shows_its_contacts_and_addresses(admin_page, live_server, screenshots):
    page = admin_page
    customer = customer_with_most_children(live_server)
    page.goto(LIST)
    search(page, str(customer["id"]))
    assert customer["id"] in shown_ids(page)

    with page.expect_navigation():
        page.locator(f'{LIST_TABLE} a[href="/customers/show/{customer["id"]}"]').click()

    assert page.url.endswith(f"/customers/show/{customer['id']}")
    expect(page.locator(".profile-name")).to_contain_text(customer["name"])

    page.locator("#tab-contacts").click()
    rows = page.locator("#contacts tr.contact")
    expect(rows).to_have_count(len(customer["contacts"]))
    names = rows.locator("td:first-child").all_inner_texts()
    for first, last, _ in customer["contacts"]:
        assert any(f"{first} {last}" in name for name in names)
    for _, _, email in customer["contacts"]:
        expect(page.locator("#contacts").get_by_role("link", name=email)).to_be_visible()

    page.locator("#tab-addresses").click()
    rows = page.locator("#addresses tr.address")
    expect(rows).to_have_count(len(customer["addresses"]))
    shown = rows.locator("td:nth-child(2)").all_inner_texts()
    for _, line1, _, postcode in customer["addresses"]:
        assert any(text.startswith(line1) for text in shown)
        expect(page.locator("#addresses")).to_contain_text(postcode)
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring
    page.screenshot(path=str(screenshots / "customer-show.png"), full_page=True)


def test_export_csv_downloads_the_rows_of_the_current_search_in_the_list_order(admin_page, live_server):
    page = admin_page
    surname = "Doyle"
    page.goto(LIST)
    search(page, surname)
    for direction in ("asc", "desc"):
        with page.expect_navigation():
            page.locator(f"{LIST_TABLE} thead").get_by_role("link", name="Name").click()
        assert f"_od_CustomerView={direction}" in page.url
    assert f"_flt_0_name={surname}" in page.url  # sorting kept the search
    listed_ids = shown_ids(page)
    assert len(listed_ids) > 1

    with page.expect_download() as info:
        page.locator("#export-csv").click()
    download = info.value

    assert download.suggested_filename.endswith(".csv")
    raw, rows = read_download(download)
    assert raw.decode("utf-8-sig").startswith("Customer ID")
    header, body = rows[0], rows[1:]
    assert header[0] == "Customer ID"
    assert [int(r[header.index("Customer ID")]) for r in body] == listed_ids
    assert all(surname in r[header.index("Name")] for r in body)
    assert all(r[header.index("Status")] != "archived" for r in body)


def test_export_csv_without_a_search_holds_every_listed_customer(admin_page, live_server):
    page = admin_page
    page.goto(LIST)
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    _, rows = read_download(info.value)

    body = rows[1:]
    expected = by_name(listed(customers(live_server)))
    assert [int(r[0]) for r in body] == [r["id"] for r in expected]
    assert len(body) == record_count(page)


def test_clicking_the_name_header_sorts_by_name_and_again_reverses_it(admin_page, live_server):
    page = admin_page
    rows = listed(customers(live_server))
    page.goto(LIST + "?_oc_CustomerView=id&_od_CustomerView=desc")  # start from another order
    assert shown_ids(page) == sorted((r["id"] for r in rows), reverse=True)[:PAGE_SIZE]

    name_header = page.locator(f"{LIST_TABLE} thead").get_by_role("link", name="Name")
    with page.expect_navigation():
        name_header.click()
    assert "_oc_CustomerView=name" in page.url
    direction = re.search(r"_od_CustomerView=(asc|desc)", page.url).group(1)
    assert shown_ids(page) == [r["id"] for r in by_name(rows, direction == "desc")[:PAGE_SIZE]]

    with page.expect_navigation():
        name_header.click()
    again = re.search(r"_od_CustomerView=(asc|desc)", page.url).group(1)
    assert again != direction
    assert shown_ids(page) == [r["id"] for r in by_name(rows, again == "desc")[:PAGE_SIZE]]


def test_a_reseller_sees_only_the_customers_of_their_own_reseller(page_as, live_server):
    page = page_as("reseller_a")
    page.goto(LIST + "?psize_CustomerView=100")
    own = listed([r for r in customers(live_server) if r["reseller"] == "Reseller A"])
    assert own, "the fixture gives Reseller A some customers"

    assert sorted(shown_ids(page)) == sorted(r["id"] for r in own)
    assert set(column(page, "Reseller")) == {"Reseller A"}
    assert record_count(page) == len(own)

    with page.expect_download() as info:
        page.locator("#export-csv").click()
    _, rows = read_download(info.value)
    header, body = rows[0], rows[1:]
    assert sorted(int(r[0]) for r in body) == sorted(r["id"] for r in own)
    assert {r[header.index("Reseller")] for r in body} == {"Reseller A"}


def test_a_reseller_gets_404_for_a_customer_of_another_reseller(page_as, live_server):
    page = page_as("reseller_a")
    rows = listed(customers(live_server))
    own = next(r for r in rows if r["reseller"] == "Reseller A")
    others = [next(r for r in rows if r["reseller"] == "Reseller B"),
              next(r for r in rows if r["reseller"] not in ("Reseller A", "Reseller B", None)),
              next(r for r in rows if r["reseller"] is None)]

    assert page.goto(f"/customers/show/{own['id']}").status == 200
    expect(page.locator(".profile-name")).to_contain_text(own["name"])
    for other in others:
        response = page.goto(f"/customers/show/{other['id']}")
        assert response.status == 404, (other, response.status)
        assert other["name"] not in page.content()


def test_searching_a_surname_with_an_accented_capital_finds_the_customer(admin_page, live_server):
    """SQLite's own lower() folds A-Z only; the app replaces it so "Ó'Súilleabháin" is found."""
    page = admin_page
    surname = "Ó'Súilleabháin"
    expected = matching(listed(customers(live_server)), surname)
    assert expected, "the demo data (seed 3) has customers with this surname"
    page.goto(LIST)

    search(page, surname)

    assert sorted(shown_ids(page)) == sorted(r["id"] for r in expected)


def test_the_trash_button_asks_then_deletes_the_customer(admin_page, live_server):
    def add(session):
        from app.models import User
        from app.services.customers.create import create_customer
        admin = session.query(User).filter_by(username="admin").one()
        return create_customer(session, admin, {"surname": surname, "first_name": "Please"}).id
    # Found by a surname of its own: a number also finds other tests' customers whose names hold its digits.
    surname = "Deleteme" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    cid = live_server.query(add)
    page = admin_page
    page.goto(LIST)
    search(page, surname)
    assert shown_ids(page) == [cid]
    page.locator(f'a.row-delete[data-delete$="/customers/delete/{cid}"]').click()
    with page.expect_navigation():
        page.locator("#modal-confirm-ok").click()
    search(page, surname)
    assert shown_ids(page) == []


# ---- what the list is filtered by, and its width ----------------------------------------

FOLDED_AT_1024 = ["Date joined", "Services", "Reseller"]


def visible_headers(page):
    return [t.strip() for t, shown in zip(page.locator(f"{LIST_TABLE} thead th").all_inner_texts(),
                                          page.locator(f"{LIST_TABLE} thead th").evaluate_all(
                                              "ths => ths.map(th => th.offsetParent !== null)"))
            if shown and t.strip()]


def overflow(page):
    """How far the table sticks out of its box and the page out of the window (px): 0 when it fits."""
    return page.evaluate("""() => {
        const box = document.querySelector('div.table-responsive');
        const table = box.querySelector('table');
        return {table: Math.max(0, table.getBoundingClientRect().right - box.getBoundingClientRect().right,
                                box.scrollWidth - box.clientWidth),
                page: Math.max(0, document.documentElement.scrollWidth - window.innerWidth)};
    }""")


def chip_texts(page):
    return [" ".join(t.split()) for t in page.locator("#filter-chips .filter-chip:not(.filter-chip-default)")
            .all_inner_texts()]


def test_every_column_fits_at_1440_px(admin_page, screenshots):
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(LIST)
    assert visible_headers(page) == COLUMNS
    assert overflow(page) == {"table": 0, "page": 0}
    for label in ("Customer ID", "Date joined"):  # a header on one line
        height = page.locator(f"{LIST_TABLE} thead th", has_text=label).evaluate("th => th.clientHeight")
        assert height < 40, (label, height)
    page.screenshot(path=str(screenshots / "customer-list-1440.png"), full_page=True)


def test_at_1024_px_the_less_needed_columns_fold_away_and_the_rest_fit(admin_page, screenshots):
    page = admin_page
    page.set_viewport_size({"width": 1024, "height": 800})
    page.goto(LIST)
    assert visible_headers(page) == [c for c in COLUMNS if c not in FOLDED_AT_1024]
    assert overflow(page) == {"table": 0, "page": 0}
    page.screenshot(path=str(screenshots / "customer-list-1024.png"), full_page=True)
    # Just above each fold, what is still shown fits too.
    for width, folded in ((1280, []), (992, FOLDED_AT_1024)):
        page.set_viewport_size({"width": width, "height": 800})
        page.reload()
        assert visible_headers(page) == [c for c in COLUMNS if c not in folded], width
        assert overflow(page) == {"table": 0, "page": 0}, width


def test_a_filter_set_shows_as_a_chip_keeps_the_panel_open_and_its_cross_removes_it(admin_page, live_server,
                                                                                     screenshots):
    page = admin_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(LIST)
    expect(page.locator("#accordion1_href")).to_be_hidden()
    expect(page.locator("#archived-hidden")).to_contain_text("Archived customers hidden")

    # The filter bar: add a status filter, pick a status from its drop-down, search.
    page.locator("#accordion1 .accordion-toggle").click()
    page.locator("#filter_form .dropdown-toggle", has_text="Add Filter").click()
    page.locator("#filter_form a.filter[name=status]").click()
    page.locator("#filter_form select.filter_val").select_option("dormant")
    with page.expect_navigation():
        page.locator("#filter_form button[type=submit]").click()

    dormant = [r for r in customers(live_server) if r["status"] == "dormant"]
    assert dormant, "the demo data has dormant customers"
    assert chip_texts(page) == ["Status: Dormant ×"]
    expect(page.locator("#accordion1_href")).to_be_visible()  # the filter in sight, open
    expect(page.locator("#archived-hidden")).to_have_count(0)
    assert sorted(shown_ids(page)) == sorted(r["id"] for r in dormant)[:PAGE_SIZE] or \
        set(column(page, "Status")) == {"Dormant"}

    search(page, "a")  # the search box adds its own chip and keeps the status filter
    assert sorted(chip_texts(page)) == ["Search: a ×", "Status: Dormant ×"]
    assert set(column(page, "Status")) <= {"Dormant"}
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(screenshots / "customer-list-filtered-1440.png"), full_page=True)
    page.set_viewport_size({"width": 1024, "height": 800})
    page.reload()  # as opened on a 1024 px screen (the filter bar's drop-downs take their width once)
    assert overflow(page) == {"table": 0, "page": 0}
    page.screenshot(path=str(screenshots / "customer-list-filtered-1024.png"), full_page=True)

    with page.expect_navigation():
        page.locator("#filter-chips .filter-chip", has_text="Status").locator(".filter-chip-remove").click()
    assert chip_texts(page) == ["Search: a ×"]
    assert "_flt_0_status" not in page.url and "_flt_0_name=a" in page.url
    expect(page.locator("#accordion1_href")).to_be_visible()

    with page.expect_navigation():
        page.locator("#filter-chips .filter-chip-remove").click()
    assert chip_texts(page) == []
    expect(page.locator("#accordion1_href")).to_be_hidden()
    assert record_count(page) == len(listed(customers(live_server)))


def test_a_customers_name_opens_its_page(admin_page, live_server):
    page = admin_page
    page.goto(LIST)
    first = page.locator(f"{LIST_TABLE} tbody td.col-name a").first
    name = first.inner_text()
    with page.expect_navigation():
        first.click()
    assert re.search(r"/customers/show/\d+$", page.url)
    expect(page.locator(".profile-name")).to_contain_text(name)
