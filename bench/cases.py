"""What the benchmark times: each request of ours beside the same request of stock FAB
(bench/stock_fab.py), with the rows it must return (checked against plain SQL)."""
import html as html_lib
import math
import re
import sys
from urllib.parse import quote

from bench.harness import ADMIN, PAGE_SIZE, RESELLER_USER, Case, Target, api_token, html_login, last_page


def filter_index(app, view_cls, column: str, filter_classes) -> int:
    """The position of the first filter of one of `filter_classes` among the view's filters on `column`."""
    view = next(v for v in app.appbuilder.baseviews if isinstance(v, view_cls))
    flts = view._filters.get_search_filters()[column]
    for i, f in enumerate(flts):
        if isinstance(f, filter_classes) and type(f).__name__ not in ("FilterNotContains",):
            return i
    sys.exit(f"no {filter_classes} filter on {view_cls.__name__}.{column}: {flts}")


def rison(**kw) -> str:
    parts = []
    for k, v in kw.items():
        parts.append(f"{k}:{v}")
    return quote("(" + ",".join(parts) + ")", safe="():,!'")


def build_cases(app, info) -> tuple[list[Case], dict]:
    from flask_appbuilder.models.sqla.filters import (
        FilterContains,
        FilterEqual,
        FilterNotEqual,
        FilterRelationManyToManyEqual,
        FilterStartsWith,
    )
    from sqlalchemy import exists, func, select

    from app.extensions import db
    from app.models import Customer, Tag, customer_tag
    from app.views.customers import CustomerView
    from app.views.filters import FilterHasTag, FilterTextStartsWith, FilterValueEqual
    from bench.stock_fab import StockAddressView, StockCustomerView

    with app.app_context():
        tag_id = db.session.scalar(select(Tag.id).order_by(Tag.id).limit(1))
        tag_name = db.session.scalar(select(Tag.name).where(Tag.id == tag_id))

    ours_ct = filter_index(app, CustomerView, "surname", FilterContains)
    stock_ct = filter_index(app, StockCustomerView, "surname", FilterContains)
    ours_tag = filter_index(app, CustomerView, "tags", (FilterHasTag,))
    stock_tag = filter_index(app, StockCustomerView, "tags", (FilterRelationManyToManyEqual,))
    ours_status_ne = filter_index(app, CustomerView, "status", FilterNotEqual)
    ours_id_eq = filter_index(app, CustomerView, "id", (FilterValueEqual,))
    stock_id_eq = filter_index(app, StockCustomerView, "id", (FilterEqual,))
    ours_date_eq = filter_index(app, CustomerView, "joined_on", (FilterValueEqual,))
    stock_date_eq = filter_index(app, StockCustomerView, "joined_on", (FilterEqual,))
    ours_sw = filter_index(app, CustomerView, "surname", (FilterTextStartsWith,))
    stock_sw = filter_index(app, StockCustomerView, "surname", (FilterStartsWith,))
    facts = {"ours_startswith_index": ours_sw, "stock_startswith_index": stock_sw, "tag_id": tag_id, "tag_name": tag_name, "ours_contains_index": ours_ct,
             "stock_contains_index": stock_ct, "ours_tag_index": ours_tag, "stock_tag_index": stock_tag,
             "ours_status_ne_index": ours_status_ne}

    admin = html_login(app, ADMIN)
    reseller = html_login(app, RESELLER_USER)
    bearer = api_token(app, ADMIN)

    def q_ids(*where, offset=0, limit=PAGE_SIZE, last=False, archived=False):
        # The list hides archived customers unless a status filter is given; the REST API does not.
        def run():
            with app.app_context():
                stmt = select(Customer.id).where(*where)
                if not archived:
                    stmt = stmt.where(Customer.status != "archived")
                if last:
                    stmt = stmt.order_by(Customer.sort_name.desc(), Customer.id.desc()).limit(1)
                    return db.session.scalars(stmt).all()
                stmt = stmt.order_by(Customer.sort_name, Customer.id).offset(offset).limit(limit)
                return db.session.scalars(stmt).all()
        return run

    srt_o = "_oc_CustomerView=name&_od_CustomerView=asc"
    srt_s = "_oc_StockCustomerView=name&_od_StockCustomerView=asc"
    ours_last, ours_count = last_page(admin, f"/customers/list/?{srt_o}", "CustomerView")
    stock_last, stock_count = last_page(admin, f"/stock/customers/list/?{srt_s}", "StockCustomerView")
    facts.update(ours_count=ours_count, stock_count=stock_count, ours_last=ours_last, stock_last=stock_last)
    with app.app_context():
        facts["visible"] = db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.status != "archived"))
        facts["reseller_visible"] = db.session.scalar(
            select(func.count()).select_from(Customer).where(
                Customer.status != "archived", Customer.reseller_id == info["reseller_id"]))

    deep = 2000
    s_ours = Target(admin, "", show_prefix="/customers/show/")
    s_stock = Target(admin, "", show_prefix="/stock/customers/show/")

    def o(url, **kw):
        return Target(admin, url, show_prefix="/customers/show/", **kw)

    def s(url, **kw):
        return Target(admin, url, show_prefix="/stock/customers/show/", **kw)

    has_tag = exists().where(customer_tag.c.customer_id == Customer.id, customer_tag.c.tag_id == tag_id)
    api = "/api/v1/customers/"
    sapi = "/api/v1/stock-customers/"
    order = dict(order_column="name", order_direction="asc")
    reseller_deep = max(min(1000, math.ceil(facts["reseller_visible"] / PAGE_SIZE) - 2), 1)
    facts["reseller_deep"] = reseller_deep
    _, reseller_count = last_page(reseller, f"/customers/list/?{srt_o}", "CustomerView")
    del s_ours, s_stock

    with app.app_context():
        some_id = db.session.scalar(select(func.min(Customer.id)).where(
            Customer.id >= info["customers"] // 2, Customer.status != "archived"))
    facts["some_id"] = some_id
    cases = [
        # joined_on = 1900-01-01 matches nothing through an index: the page without rows, i.e. the
        # cost of FAB's page chrome (menu, search form, permissions) alone.
        Case("empty result (page chrome only)", o(f"/customers/list/?_flt_{ours_date_eq}_joined_on=1900-01-01"),
             s(f"/stock/customers/list/?_flt_{stock_date_eq}_joined_on=1900-01-01"), list,
             kinds=("floor",)),
        Case(f"filter: customer ID = {some_id}", o(f"/customers/list/?_flt_{ours_id_eq}_id={some_id}"),
             s(f"/stock/customers/list/?_flt_{stock_id_eq}_id={some_id}"), lambda: [some_id],
             kinds=("list", "filter")),
        Case("list page 1", o("/customers/list/"), s("/stock/customers/list/"), q_ids(), kinds=("list",)),
        Case("sorted by name, page 1", o(f"/customers/list/?{srt_o}"),
             s(f"/stock/customers/list/?{srt_s}"), q_ids(), kinds=("list",)),
        Case(f"sorted by name, page {deep}", o(f"/customers/list/?{srt_o}&page_CustomerView={deep}"),
             s(f"/stock/customers/list/?{srt_s}&page_StockCustomerView={deep}"),
             q_ids(offset=deep * PAGE_SIZE), kinds=("list", "deep")),
        Case("sorted by name, last page", o(f"/customers/list/?{srt_o}&page_CustomerView={ours_last}"),
             s(f"/stock/customers/list/?{srt_s}&page_StockCustomerView={stock_last}"),
             q_ids(last=True), check="last", kinds=("list", "deep")),
        Case("contains 'mit' in surname", o(f"/customers/list/?_flt_{ours_ct}_surname=mit"),
             s(f"/stock/customers/list/?_flt_{stock_ct}_surname=mit"),
             q_ids(Customer.surname.ilike("%mit%")), kinds=("list", "search")),
        Case("starts with 'Smi' in surname", o(f"/customers/list/?_flt_{ours_sw}_surname=Smi"),
             s(f"/stock/customers/list/?_flt_{stock_sw}_surname=Smi"),
             q_ids(Customer.surname.ilike("smi%")), kinds=("list", "search")),
        Case(f"filter by tag ({tag_name})", o(f"/customers/list/?_flt_{ours_tag}_tags={tag_id}"),
             s(f"/stock/customers/list/?_flt_{stock_tag}_tags={tag_id}"),
             q_ids(has_tag), kinds=("list", "filter")),
        Case("REST page 0", o(api + "?q=" + rison(page=0, page_size=PAGE_SIZE, **order), kind="api",
                              headers=bearer),
             s(sapi + "?q=" + rison(page=0, page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(archived=True), kinds=("rest",)),
        Case(f"REST page {deep}", o(api + "?q=" + rison(page=deep, page_size=PAGE_SIZE, **order),
                                    kind="api", headers=bearer),
             s(sapi + "?q=" + rison(page=deep, page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(offset=deep * PAGE_SIZE, archived=True), kinds=("rest", "deep")),
        Case("REST contains 'mit' in surname",
             o(api + "?q=" + rison(filters="!((col:surname,opr:text_ct,value:mit))", page=0,
                                   page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             s(sapi + "?q=" + rison(filters="!((col:surname,opr:ct,value:mit))", page=0,
                                    page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(Customer.surname.ilike("%mit%"), archived=True), kinds=("rest", "search")),
        Case("Reseller user: list page 1", Target(reseller, "/customers/list/"), None,
             q_ids(Customer.reseller_id == info["reseller_id"]), kinds=("list",)),
        Case(f"Reseller user: sorted, page {reseller_deep}",
             Target(reseller, f"/customers/list/?{srt_o}&page_CustomerView={reseller_deep}"), None,
             numbered_rows(app, reseller_count or 0, reseller_deep, Customer.reseller_id == info["reseller_id"]),
             kinds=("list", "deep")),
    ]
    facts["dialect"] = info["dialect"]
    at = next(i for i, c in enumerate(cases) if c.label == "sorted by name, last page")
    cases[at:at] = deep_cases(app, admin, facts, srt_o, srt_s)
    cases[-2:-2] = [
        Case("REST count: customers with a tag",
             o(api + "?q=" + rison(filters=f"!((col:tags,opr:tag,value:{tag_id}))", page=0,
                                   page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             s(sapi + "?q=" + rison(filters=f"!((col:tags,opr:rel_m_m,value:{tag_id}))", page=0,
                                    page_size=PAGE_SIZE, **order), kind="api", headers=bearer),
             q_ids(has_tag, archived=True), kinds=("rest",)),
    ]
    facts["rest_count"] = rest_count(admin, api + "?q=" + rison(
        filters=f"!((col:tags,opr:tag,value:{tag_id}))", page=0, page_size=PAGE_SIZE, **order), bearer)
    cases.extend(list_cases(app, admin, bearer, StockAddressView))
    return cases, facts


PAGER = re.compile(r'<ul class="pagination[^"]*"[^>]*>(.*?)</ul>', re.S)


def pager_link(client, url: str, view: str, page: int) -> str:
    """The URL the pager of page `page - 1` links page `page` with (a cursor, when the list's
    pager gives one); the plain URL when it links none."""
    html = client.get(f"{url}&page_{view}={page - 1}").get_data(as_text=True)
    found = PAGER.search(html)
    for href in re.findall(r'href="([^"#][^"]*)"', found.group(1) if found else ""):
        href = html_lib.unescape(href)
        if re.search(rf"[?&]page_{view}={page}(&|$)", href):
            return href
    return f"{url}&page_{view}={page}"


def cursor_link(app, client, url: str, view: str, page: int) -> str:
    """The link widgets/pager.html gives page `page` on page `page - 1` (with its cursor), for a
    list whose template does not use that pager yet: built from the Paging its datamodel answered
    page `page - 1` with (recorded, not changed, by wrapping ListInterface.query)."""
    from app.views.datamodel import ListInterface
    answers = []
    real = ListInterface.query

    def recorded(self, *args, **kwargs):
        answer = real(self, *args, **kwargs)
        answers.append(answer[0])
        return answer
    ListInterface.query = recorded
    try:
        client.get(f"{url}&page_{view}={page - 1}").get_data()
    finally:
        ListInterface.query = real
    with app.test_request_context(f"{url}&page_{view}={page - 1}"):
        return answers[-1].paging.link(page, view)


def numbered_rows(app, count: int, page: int, *where):
    """The customers on `page` of the list sorted by name, as the list numbers its pages: from
    the start, or, in the back half of an estimated count, from the end (the estimate's last
    page holds the last rows)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Customer
    approximate = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql") and \
        count > app.config["LIST_EXACT_COUNT_LIMIT"]
    pages = max(math.ceil(count / PAGE_SIZE), 1)

    def run():
        with app.app_context():
            live = select(Customer.id).where(Customer.status != "archived", *where)
            if approximate and page >= pages // 2:
                stmt = live.order_by(Customer.sort_name.desc(), Customer.id.desc()).offset(
                    (pages - 1 - page) * PAGE_SIZE).limit(PAGE_SIZE)
                return db.session.scalars(stmt).all()[::-1]
            stmt = live.order_by(Customer.sort_name, Customer.id).offset(page * PAGE_SIZE).limit(PAGE_SIZE)
            return db.session.scalars(stmt).all()
    return run


def deep_cases(app, admin, facts, srt_o, srt_s) -> list[Case]:
    """Pages 10,000 and 20,000 and one near the end, each as the pager links it from the page
    before (timed: the linked page only), beside stock FAB's same page number. When the customer
    list's own pager links no cursor (its template does not include widgets/pager.html), the
    link that pager would give is timed as well."""
    count, last = facts["ours_count"] or 0, facts["ours_last"]
    url = f"/customers/list/?{srt_o}"
    out = []
    for page, label in ((10_000, "page 10,000"), (20_000, "page 20,000"), (last - 3, "4th page from the end")):
        if not 0 < page < last:
            continue
        link = pager_link(admin, url, "CustomerView", page)
        stock_page = page if "end" not in label else facts["stock_last"] - 3
        stock = Target(admin, f"/stock/customers/list/?{srt_s}&page_StockCustomerView={stock_page}",
                       show_prefix="/stock/customers/show/")
        out.append(Case(f"sorted by name, {label} (pager's link)", Target(admin, link, show_prefix="/customers/show/"),
                        stock, numbered_rows(app, count, page), kinds=("list", "deep")))
        if "_cur_" not in link:
            cursor = cursor_link(app, admin, url, "CustomerView", page)
            out.append(Case(f"sorted by name, {label} (widgets/pager.html's link)",
                            Target(admin, cursor, show_prefix="/customers/show/"), stock,
                            numbered_rows(app, count, page), kinds=("list", "deep")))
    return out


def rest_count(client, url: str, headers: dict) -> dict:
    """What a REST list says of its count: the number, and any key beside FAB's own."""
    body = client.get(url, headers=headers).json or {}
    standard = {"count", "ids", "result", "description_columns", "label_columns", "list_columns",
                "list_title", "order_columns"}
    return {"count": body.get("count"), "other": {k: body[k] for k in body if k not in standard}}


LISTS = (
    # label, our route, stock's route, view, model's default order (as SQL), REST resource
    ("contacts", "/contacts", "/stock/contacts", "ContactView", "Contact", ("is_primary desc", "id desc"), "contacts"),
    ("addresses", "/addresses", "/stock/addresses", "AddressView", "Address", ("kind", "id"), "addresses"),
    ("services", "/services", "/stock/services", "ServiceView", "CustomerService", ("id",), None),
    ("phone numbers", "/contact-phones", "/stock/contact-phones", "ContactPhoneView", "ContactPhone", ("id",), None),
    ("audit log", "/audit", "/stock/audit", "AuditView", "AuditEntry", ("at desc", "id desc"), None),
)


def list_cases(app, admin, bearer, stock_address_view) -> list[Case]:
    """Page 1 of every other list (and page 2,000 of contacts, by the pager's link), addresses in
    a town, and the contacts and addresses REST lists, each beside stock FAB."""
    from flask_appbuilder.models.sqla.filters import FilterEqual
    from sqlalchemy import func, select

    import app.models as models
    from app.extensions import db
    from app.views.contacts import AddressView

    def q(model, order, *where, offset=0):
        def run():
            with app.app_context():
                keys = []
                for part in order:
                    column, _, direction = part.partition(" ")
                    key = getattr(model, column)
                    keys.append(key.desc() if direction == "desc" else key.asc())
                stmt = select(model.id).where(*where).order_by(*keys).offset(offset).limit(PAGE_SIZE)
                return db.session.scalars(stmt).all()
        return run

    out = []
    for label, ours, stock, view, model_name, order, resource in LISTS:
        model = getattr(models, model_name)
        out.append(Case(f"{label}: page 1", Target(admin, f"{ours}/list/", show_prefix=f"{ours}/show/"),
                        Target(admin, f"{stock}/list/", show_prefix=f"{stock}/show/"), q(model, order),
                        kinds=("list", "lists")))
        if label == "contacts":
            with app.app_context():
                rows = db.session.scalar(select(func.count()).select_from(model))
            for page in [p for p in (2_000, 20_000) if p < rows // PAGE_SIZE]:
                url = pager_link(admin, f"{ours}/list/?psize_{view}={PAGE_SIZE}", view, page)
                out.append(Case(f"{label}: page {page:,} (pager's link)", Target(admin, url, show_prefix=f"{ours}/show/"),
                                Target(admin, f"{stock}/list/?page_Stock{view}={page}", show_prefix=f"{stock}/show/"),
                                q(model, order, offset=page * PAGE_SIZE), kinds=("list", "lists", "deep")))
        if label == "addresses":
            ours_eq = filter_index(app, AddressView, "town", (FilterEqual,))
            stock_eq = filter_index(app, stock_address_view, "town", (FilterEqual,))
            out.append(Case("addresses in a town (London)",
                            Target(admin, f"{ours}/list/?_flt_{ours_eq}_town=London", show_prefix=f"{ours}/show/"),
                            Target(admin, f"{stock}/list/?_flt_{stock_eq}_town=London", show_prefix=f"{stock}/show/"),
                            q(model, order, model.town == "London"), kinds=("list", "lists", "filter")))
    for label, resource, model_name in (("contacts", "contacts", "Contact"), ("addresses", "addresses", "Address")):
        query = "?q=" + rison(page=0, page_size=PAGE_SIZE)
        out.append(Case(f"REST {label}: page 0",
                        Target(admin, f"/api/v1/{resource}/{query}", kind="api", headers=bearer),
                        Target(admin, f"/api/v1/stock-{resource}/{query}", kind="api", headers=bearer),
                        q(getattr(models, model_name), ("id",)), kinds=("rest", "lists")))
    return out
