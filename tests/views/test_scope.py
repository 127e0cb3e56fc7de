"""Who sees which customers: nobody anonymous, resellers only their own, admins everything.

The first test walks every route of the app as an anonymous visitor. The rest
give reseller_a (Reseller role, Reseller A) the ids of Reseller B's customer,
contact, phone and address on every screen and API endpoint, and expect the
same 404 as for an id that does not exist, with nothing written.
"""
import csv
import json
import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Address, Contact, ContactPhone, Customer, Tag, User
from app.services.customers import addresses, contacts
from app.services.customers.create import create_customer
from tests.conftest import PASSWORD, csrf_from

# ---- data ------------------------------------------------------------------------------

def _admin():
    return db.session.query(User).filter_by(username="admin").one()


def _customer_with_children(reseller_id, first, surname, email, n):
    admin = _admin()
    customer = create_customer(db.session, admin, {
        "customer_type": "private", "first_name": first, "surname": surname, "email": email,
        "phone": "020 7946 0001", "currency": "GBP", "reseller_id": reseller_id})
    contact = contacts.create_contact(db.session, admin, customer.id,
                                      {"first_name": "Contact", "surname": f"{surname}contact"})
    phone = contacts.add_phone(db.session, admin, contact.id, {"kind": "office", "number": f"020 7946 00{n:02d}"})
    address = addresses.create_address(db.session, admin, customer.id,
                                       {"line1": f"{n} {surname} Street", "postcode": "SW1A 1AA"})
    return SimpleNamespace(customer=customer.id, contact=contact.id, phone=phone.id, address=address.id,
                           name=f"{first} {surname}", email=email, contact_surname=f"{surname}contact",
                           line1=f"{n} {surname} Street", number=phone.number)


@pytest.fixture
def world(app, resellers):
    """One customer of Reseller A and one of Reseller B, each with a contact, a phone and an address."""
    with app.app_context():
        a = _customer_with_children(resellers["Reseller A"], "Alice", "Aardvark", "alice@a.example", 11)
        b = _customer_with_children(resellers["Reseller B"], "Bob", "Bumblebee", "bob@b.example", 22)
        tag = Tag(name="scope-tag")
        db.session.add(tag)
        db.session.commit()
        return SimpleNamespace(a=a, b=b, tag=tag.id, reseller_a=resellers["Reseller A"],
                               reseller_b=resellers["Reseller B"])


def snapshot(app):
    """Everything a write could change, to compare before and after a refused request."""
    with app.app_context():
        s = db.session
        return {
            "customers": sorted((c.id, c.name, c.email, c.reseller_id, c.status) for c in s.scalars(select(Customer))),
            "contacts": sorted((c.id, c.customer_id, c.surname) for c in s.scalars(select(Contact))),
            "phones": sorted((p.id, p.contact_id, p.number) for p in s.scalars(select(ContactPhone))),
            "addresses": sorted((a.id, a.customer_id, a.line1, a.kind) for a in s.scalars(select(Address))),
        }


# ---- 1. anonymous ------------------------------------------------------------------------

# Routes that answer an anonymous visitor on purpose. Each still must not show customer data.
PUBLIC = {
    "/": "the home page: a 'Log in' button for anonymous visitors, nothing else",
    "/login/": "the login form itself (GET shows it, POST checks the password)",
    "/logout/": "logging out: clears the session and redirects home",
    "/lang/<string:locale>": "FAB's language switch: stores the locale in the session and redirects back",
    "/back": "FAB's 'back' button: redirects to the previous page in the session history (or home)",
    "/api/v1/security/login": "the REST login: exchanges a username and password for a JWT",
    "/api/v1/security/refresh": "the REST token refresh: needs a refresh JWT (answers 401 without one)",
    "/unsubscribe/<string:token>": "the unsubscribe link of marketing e-mail: a signed token, or 404",
    "/messages/inbound/<string:channel>": "received messages from an SMS gateway or mail hook: a shared token, "
                                          "or 403 (404 when no token is set)",
}
STATIC = ("/static/<path:filename>", "/static/appbuilder/<path:filename>")  # CSS, JS, images


def _views_by_endpoint(app):
    """Blueprint name -> the FAB view registered under it."""
    return {v.blueprint.name: v for v in app.appbuilder.baseviews if getattr(v, "blueprint", None)}


def _action_name(app, rule):
    """A real bulk action of the rule's view (e.g. FAB's role copy), or None when it has none."""
    view = _views_by_endpoint(app).get(rule.endpoint.split(".")[0])
    actions = getattr(view, "actions", None) or {}
    return next(iter(actions), None)


def _is_action_route(rule):
    return rule.endpoint.endswith((".action", ".action_post"))


def _fill(rule, ids, action="no-such-action"):
    """The rule's URL with every argument filled with an existing id (or a harmless value)."""
    path = rule.rule

    def value(match):
        name = match.group(1)
        if name == "pk":
            for prefix, pk in ids.items():
                if path.startswith(prefix):
                    return str(pk)
            return "1"
        return {"version": "v1", "locale": "en", "filename": "x.txt", "name": action,
                "role_id": "1", "group_by": "username"}.get(name, "1")

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, path)


def _ids(app, world):
    with app.app_context():
        audit_id = db.session.execute(select(func.max(db.metadata.tables["audit_entry"].c.id))).scalar() or 1
        admin_id = db.session.query(User).filter_by(username="admin").one().id
    return {  # longest prefixes first: /api/v1/contact-phones before /api/v1/contacts ...
        "/api/v1/contact-phones/": world.b.phone, "/api/v1/contacts/": world.b.contact,
        "/api/v1/addresses/": world.b.address, "/api/v1/customers/": world.b.customer,
        "/api/v1/tags/": world.tag, "/api/v1/security/users/": admin_id,
        "/contact-phones/": world.b.phone, "/contacts/": world.b.contact, "/addresses/": world.b.address,
        "/customers/": world.b.customer, "/tags/": world.tag, "/resellers/": world.reseller_b,
        "/audit/": audit_id, "/users/": admin_id,
    }


def _secrets(world):
    return (world.b.name, world.b.email, world.a.name, world.b.contact_surname, world.b.line1,
            world.b.number, "scope-tag", "Reseller B")


def _anonymous_request(client, rule, url, method, token, world, action=None):
    kwargs = {}
    if rule.rule.startswith("/api/"):
        if method in ("POST", "PUT"):
            kwargs["json"] = {"surname": "Anonymous", "customer_id": world.b.customer,
                              "username": "x", "password": "x", "provider": "db"}
    elif method == "POST":
        # A valid CSRF token, so that it is the login check that refuses, not CSRF.
        kwargs["data"] = {"csrf_token": token, "surname": "Anonymous", "customer_type": "private",
                          "action": action or "no-such-action", "rowid": [str(world.b.customer)]}
    return client.open(url, method=method, **kwargs)


def test_every_route_refuses_an_anonymous_visitor_except_the_listed_public_ones(app, world):
    """Every route (and method) but the allow-list answers 302 to /login/, 401 or 403.

    FAB's bulk-action routes (/<view>/action/<name>/<pk>, /<view>/action_post) are not
    behind @has_access: they check the action's own permission and refuse with an
    "Access is Denied" flash and a redirect back, so for them any redirect counts as a
    refusal. They are walked here with a real action name where the view has one; views
    without actions are the next test's.
    """
    ids = _ids(app, world)
    client = app.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    before = snapshot(app)
    secrets = _secrets(world)

    failures, checked = [], 0
    for rule in app.url_map.iter_rules():
        if rule.rule in STATIC:
            continue
        action = _action_name(app, rule) if _is_action_route(rule) else None
        if _is_action_route(rule) and action is None:
            continue
        url = _fill(rule, ids, action or "no-such-action")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            try:
                r = _anonymous_request(client, rule, url, method, token, world, action)
            except Exception as e:  # noqa: BLE001  (TESTING propagates errors: in production a 500)
                failures.append(f"{method} {url}: raised {type(e).__name__}: {e}")
                continue
            checked += 1
            body = r.get_data(as_text=True)
            leaked = [s for s in secrets if s in body]
            if leaked:
                failures.append(f"{method} {url}: {r.status_code} shows {leaked}")
            if rule.rule in PUBLIC:
                continue
            location = r.headers.get("Location", "")
            refused = r.status_code in (401, 403) or (r.status_code in (302, 303) and "/login/" in location)
            if _is_action_route(rule):
                refused = refused or r.status_code in (302, 303)
            if not refused:
                failures.append(f"{method} {url}: {r.status_code} {location or body[:120]!r}")
    assert checked > 150
    assert not failures, "anonymous requests that were not refused:\n" + "\n".join(failures)
    assert snapshot(app) == before


def test_the_action_routes_of_views_without_actions_refuse_an_anonymous_visitor_without_an_error(app, world):
    """Every FAB ModelView has /action/<name>/<pk> and /action_post, even with no actions.

    With no such action FAB's get_action_permission_name() does
    `self.actions.get(name).func` and raises AttributeError: a 500 for anyone,
    anonymous included, before any permission check. They must refuse cleanly
    (401/403/404, or a redirect) instead.
    """
    ids = _ids(app, world)
    client = app.test_client()
    token = csrf_from(client.get("/login/").get_data(as_text=True))
    before = snapshot(app)
    failures, checked = [], 0
    for rule in app.url_map.iter_rules():
        if not _is_action_route(rule) or _action_name(app, rule) is not None:
            continue
        url = _fill(rule, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            checked += 1
            try:
                r = _anonymous_request(client, rule, url, method, token, world)
            except Exception as e:  # noqa: BLE001  (TESTING propagates errors: in production a 500)
                failures.append(f"{method} {url}: raised {type(e).__name__}: {e}")
                continue
            if not (r.status_code in (302, 303, 401, 403, 404)):
                failures.append(f"{method} {url}: {r.status_code}")
            leaked = [s for s in _secrets(world) if s in r.get_data(as_text=True)]
            if leaked:
                failures.append(f"{method} {url}: {r.status_code} shows {leaked}")
    assert checked >= 20
    assert not failures, "action routes that do not refuse cleanly:\n" + "\n".join(failures)
    assert snapshot(app) == before


def test_the_public_allow_list_only_names_routes_that_exist(app):
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert set(PUBLIC) <= rules
    assert set(STATIC) <= rules


# ---- 2. reseller_a and Reseller B's records ------------------------------------------------

EDIT_FORMS = {
    "customers": {"customer_type": "private", "first_name": "Hijacked", "surname": "Hijacked",
                  "email": "hijacked@example.com", "currency": "GBP", "status": "active"},
    "contacts": {"surname": "Hijacked", "title": ""},
    "addresses": {"kind": "billing", "line1": "Hijacked", "postcode": "X1 1XX", "country": "GB"},
    "contact-phones": {"kind": "mobile", "number": "020 7946 0999"},
}
API_EDITS = {
    "customers": {"surname": "Hijacked"},
    "contacts": {"surname": "Hijacked"},
    "addresses": {"line1": "Hijacked"},
    "contact-phones": {"number": "020 7946 0999"},
}
KEY = {"customers": "customer", "contacts": "contact", "addresses": "address", "contact-phones": "phone"}

HTML_ROUTES = [(m, f"/{res}/{action}/{{id}}", res)
               for res in KEY for m, action in (("GET", "show"), ("GET", "edit"), ("POST", "edit"))]
API_ROUTES = [(m, f"/api/v1/{res}/{{id}}", res) for res in KEY for m in ("GET", "PUT")]
DELETE_ROUTES = [("POST", f"/{res}/delete/{{id}}", res) for res in KEY] + \
                [("DELETE", f"/api/v1/{res}/{{id}}", res) for res in KEY]


def _request(client, method, template, res, ids):
    url = template.format(id=getattr(ids, KEY[res]))
    if url.startswith("/api/"):
        return getattr(client, method.lower())(url, **({"json": API_EDITS[res]} if method == "PUT" else {}))
    if method == "POST":
        return client.post(url, data=EDIT_FORMS[res] if "/edit/" in url else {})
    return client.get(url)


@pytest.mark.parametrize("method,template,res", HTML_ROUTES + API_ROUTES,
                         ids=[f"{m} {t}" for m, t, _ in HTML_ROUTES + API_ROUTES])
def test_reseller_gets_404_for_another_resellers_customer_on_every_route(app, login, api, world, method, template,
                                                                           res):
    before = snapshot(app)
    client = api("reseller_a") if template.startswith("/api/") else login("reseller_a")
    r = _request(client, method, template, res, world.b)
    assert r.status_code == 404, (method, template, r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_data(as_text=True)
    for secret in (world.b.name, world.b.email, world.b.contact_surname, world.b.line1):
        assert secret not in body
    assert snapshot(app) == before
    # The same request on reseller_a's own record is not a 404: the 404 above is the scope's.
    own = _request(client, "GET", template.replace("/edit/", "/show/"), res, world.a)
    assert own.status_code == 200, (template, own.status_code)


@pytest.mark.parametrize("method,template,res", DELETE_ROUTES, ids=[f"{m} {t}" for m, t, _ in DELETE_ROUTES])
def test_reseller_cannot_delete_another_resellers_records(app, login, api, world, method, template, res):
    """The Reseller role has no delete permission at all, so FAB refuses with 403 before scope is asked."""
    before = snapshot(app)
    client = api("reseller_a") if template.startswith("/api/") else login("reseller_a")
    r = _request(client, method, template, res, world.b)
    assert r.status_code == 403, (method, template, r.status_code)
    assert snapshot(app) == before


@pytest.fixture
def scoped_admin(app, resellers):
    """A user with every permission (Admin role) who is confined to Reseller A: scope alone must refuse."""
    sm = app.appbuilder.sm
    with app.app_context():
        user = sm.find_user(username="admin_of_a")
        if user is None:
            user = sm.add_user("admin_of_a", "Admin", "Of A", "admin_of_a@example.com", sm.find_role("Admin"),
                               password=PASSWORD)
        user.reseller_id = resellers["Reseller A"]
        db.session.commit()
    yield "admin_of_a"
    with app.app_context():
        db.session.delete(db.session.query(User).filter_by(username="admin_of_a").one())
        db.session.commit()


@pytest.mark.parametrize("method,template,res", DELETE_ROUTES, ids=[f"{m} {t}" for m, t, _ in DELETE_ROUTES])
def test_a_user_confined_to_a_reseller_gets_404_deleting_another_resellers_records(
        app, login, api, world, scoped_admin, method, template, res):
    before = snapshot(app)
    client = api(scoped_admin) if template.startswith("/api/") else login(scoped_admin)
    r = _request(client, method, template, res, world.b)
    assert r.status_code == 404, (method, template, r.status_code, r.get_data(as_text=True)[:300])
    assert snapshot(app) == before


def test_a_user_confined_to_a_reseller_sees_only_that_resellers_customers_whatever_the_role(
        app, login, api, world, scoped_admin):
    html = login(scoped_admin).get("/customers/list/").get_data(as_text=True)
    assert world.a.name in html and world.b.name not in html
    names = [c["name"] for c in api(scoped_admin).get("/api/v1/customers/").json["result"]]
    assert names == [world.a.name]


# ---- creating children for another reseller's customer ---------------------------------------

CHILD_FORMS = {
    "contacts": {"surname": "Intruder"},
    "addresses": {"kind": "site", "line1": "1 Intruder Road", "postcode": "X1 1XX", "country": "GB"},
    "contact-phones": {"kind": "mobile", "number": "020 7946 0888"},
}
PARENT = {"contacts": ("customer_id", "customer", "customer"), "addresses": ("customer_id", "customer", "customer"),
          "contact-phones": ("contact_id", "contact", "contact")}


@pytest.mark.parametrize("res", list(CHILD_FORMS))
def test_reseller_cannot_add_a_child_record_to_another_resellers_customer_by_form_field(app, login, world, res):
    field, _flt, key = PARENT[res]
    before = snapshot(app)
    r = login("reseller_a").form(f"/{res}/add", {**CHILD_FORMS[res], field: getattr(world.b, key)})
    html = r.get_data(as_text=True)
    assert r.status_code == 404 or (r.status_code == 200 and "No such" in html), (r.status_code, html[-1500:])
    assert snapshot(app) == before


@pytest.mark.parametrize("res", list(CHILD_FORMS))
def test_reseller_cannot_add_a_child_record_to_another_resellers_customer_by_filter_argument(app, login, world, res):
    _field, flt, key = PARENT[res]
    before = snapshot(app)
    browser = login("reseller_a")
    r = browser.post(f"/{res}/add?_flt_0_{flt}={getattr(world.b, key)}", CHILD_FORMS[res])
    assert r.status_code == 404, (r.status_code, r.get_data(as_text=True)[-1500:])
    assert snapshot(app) == before


@pytest.mark.parametrize("res", list(CHILD_FORMS))
def test_reseller_cannot_add_a_child_record_to_another_resellers_customer_through_the_api(app, api, world, res):
    field, _flt, key = PARENT[res]
    before = snapshot(app)
    r = api("reseller_a").post(f"/api/v1/{res}/", json={**CHILD_FORMS[res], field: getattr(world.b, key)})
    assert r.status_code in (404, 422), (r.status_code, r.get_data(as_text=True))
    assert snapshot(app) == before


@pytest.mark.parametrize("res", list(CHILD_FORMS))
def test_reseller_can_add_a_child_record_to_their_own_customer(app, api, world, res):
    """The counterpart of the three tests above: the refusals are about scope, not the data sent."""
    field, _flt, key = PARENT[res]
    r = api("reseller_a").post(f"/api/v1/{res}/", json={**CHILD_FORMS[res], field: getattr(world.a, key)})
    assert r.status_code == 201, r.get_data(as_text=True)


# ---- lists, REST lists and CSV ---------------------------------------------------------------------

def _csv_names(response):
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    return sorted(row["Name"] for row in rows)


def _visible(app, login, api, username, world):
    browser, rest = login(username), api(username)
    html = browser.get("/customers/list/").get_data(as_text=True)
    listed = sorted(n for n in (world.a.name, world.b.name) if n in html)
    api_names = sorted(c["name"] for c in rest.get("/api/v1/customers/").json["result"])
    csv_names = _csv_names(browser.get("/customers/export.csv"))
    return listed, api_names, csv_names


def test_reseller_lists_rest_list_and_csv_contain_only_their_own_customers(app, login, api, world):
    listed, api_names, csv_names = _visible(app, login, api, "reseller_a", world)
    assert listed == api_names == csv_names == [world.a.name]
    assert api("reseller_a").get("/api/v1/customers/").json["count"] == 1


def test_reseller_cannot_filter_their_way_to_another_resellers_customers(app, login, api, world):
    browser = login("reseller_a")
    for url in (f"/customers/list/?_flt_0_reseller={world.reseller_b}", "/customers/list/?_flt_0_name=Bumblebee",
                f"/customers/list/?_flt_0_id={world.b.customer}"):
        assert world.b.name not in browser.get(url).get_data(as_text=True), url
    assert _csv_names(browser.get(f"/customers/export.csv?_flt_0_reseller={world.reseller_b}")) == []
    r = api("reseller_a").get("/api/v1/customers/?q=(filters:!((col:name,opr:text_ct,value:Bumblebee)))")
    assert r.status_code == 200 and r.json["count"] == 0


def test_reseller_child_lists_contain_only_their_own_customers_records(app, login, api, world):
    browser, rest = login("reseller_a"), api("reseller_a")
    for url, own, other in (("/contacts/list/", world.a.contact_surname, world.b.contact_surname),
                            ("/addresses/list/", world.a.line1, world.b.line1),
                            ("/contact-phones/list/", world.a.number, world.b.number)):
        html = browser.get(url).get_data(as_text=True)
        assert own in html and other not in html, url
    assert [c["id"] for c in rest.get("/api/v1/contacts/").json["result"]] == [world.a.contact]
    assert [a["id"] for a in rest.get("/api/v1/addresses/").json["result"]] == [world.a.address]
    assert [p["id"] for p in rest.get("/api/v1/contact-phones/").json["result"]] == [world.a.phone]


def test_reseller_without_a_reseller_sees_no_customers_at_all(app, login, api, world):
    listed, api_names, csv_names = _visible(app, login, api, "reseller_none", world)
    assert listed == api_names == csv_names == []
    rest = api("reseller_none")
    for res in ("customers", "contacts", "addresses", "contact-phones"):
        assert rest.get(f"/api/v1/{res}/").json["count"] == 0, res
    assert rest.get(f"/api/v1/customers/{world.a.customer}").status_code == 404
    assert login("reseller_none").get(f"/customers/show/{world.a.customer}").status_code == 404


def test_admin_sees_every_resellers_customers(app, login, api, world):
    listed, api_names, csv_names = _visible(app, login, api, "admin", world)
    assert listed == api_names == csv_names == sorted([world.a.name, world.b.name])


# ---- moving a customer to another reseller ------------------------------------------------------------

def _reseller_of(app, customer_id):
    with app.app_context():
        return db.session.get(Customer, customer_id).reseller_id


def test_reseller_cannot_move_a_customer_to_another_reseller_with_the_edit_form(app, login, world):
    browser = login("reseller_a")
    r = browser.form(f"/customers/edit/{world.a.customer}", {
        "customer_type": "private", "first_name": "Alice", "surname": "Aardvark", "email": world.a.email,
        "currency": "GBP", "status": "active", "reseller": str(world.reseller_b)})
    assert r.status_code in (200, 302)
    assert _reseller_of(app, world.a.customer) == world.reseller_a


def test_reseller_cannot_move_a_customer_to_another_reseller_through_the_api(app, api, world):
    r = api("reseller_a").put(f"/api/v1/customers/{world.a.customer}", json={"reseller_id": world.reseller_b})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert "reseller_id" in r.get_data(as_text=True)
    assert _reseller_of(app, world.a.customer) == world.reseller_a


def test_reseller_cannot_create_a_customer_for_another_reseller(app, login, api, world):
    r = api("reseller_a").post("/api/v1/customers/", json={
        "customer_type": "private", "surname": "Planted", "reseller_id": world.reseller_b})
    assert r.status_code == 422, r.get_data(as_text=True)
    login("reseller_a").form("/customers/add", {"customer_type": "private", "surname": "Planted2",
                                                "currency": "GBP", "reseller": str(world.reseller_b)})
    with app.app_context():
        planted = db.session.scalars(select(Customer).where(Customer.surname.in_(["Planted", "Planted2"]))).all()
        assert all(c.reseller_id == world.reseller_a for c in planted), [(c.name, c.reseller_id) for c in planted]


def test_a_customer_a_reseller_creates_belongs_to_their_reseller(app, api, world):
    r = api("reseller_a").post("/api/v1/customers/", json={"customer_type": "private", "surname": "Newcomer"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert _reseller_of(app, r.json["id"]) == world.reseller_a


def _select_options(html, name):
    m = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.DOTALL)
    assert m, f"no <select name={name}> on the page"
    return [(v, re.sub(r"\s+", " ", t).strip()) for v, t in
            re.findall(r'<option[^>]*value="([^"]*)"[^>]*>(.*?)</option>', m.group(1), re.DOTALL)]


@pytest.mark.parametrize("page", ["/customers/add", "/customers/edit/{id}"])
def test_the_reseller_dropdown_offers_a_reseller_only_their_own_reseller(app, login, world, page):
    html = login("reseller_a").get(page.format(id=world.a.customer)).get_data(as_text=True)
    offered = [text for value, text in _select_options(html, "reseller") if value not in ("", "__None")]
    assert offered == ["Reseller A"]


def test_the_reseller_dropdown_offers_admin_every_reseller(app, login, world):
    html = login("admin").get("/customers/add").get_data(as_text=True)
    offered = [text for value, text in _select_options(html, "reseller") if value not in ("", "__None")]
    assert offered == ["Reseller A", "Reseller B"]


def _filter_bar_fields(html):
    """The form fields FAB's filter bar is built from: the third argument of new AdminFilters(...)."""
    start = html.index("new AdminFilters(")
    decoder, position = json.JSONDecoder(), html.index("{", start)
    _, end = decoder.raw_decode(html, position)  # the labels; the next object is the fields
    position = html.index("{", end)
    return decoder.raw_decode(html, position)[0]


def test_the_filter_bar_offers_a_reseller_only_their_own_reseller_after_an_admin_saw_them_all(app, login, world):
    admin_fields = _filter_bar_fields(login("admin").get("/customers/list/").get_data(as_text=True))
    assert [t for v, t in _select_options(admin_fields["reseller"], "reseller") if v not in ("", "__None")] == ["Reseller A", "Reseller B"]
    reseller_fields = _filter_bar_fields(login("reseller_a").get("/customers/list/").get_data(as_text=True))
    assert [t for v, t in _select_options(reseller_fields["reseller"], "reseller") if v not in ("", "__None")] == ["Reseller A"]


def test_a_new_tag_is_offered_in_the_filter_bar_at_once(app, login, world):
    client = login("admin")
    before = _filter_bar_fields(client.get("/customers/list/").get_data(as_text=True))
    with app.app_context():
        db.session.add(Tag(name="Brand <new>"))
        db.session.commit()
    after = _filter_bar_fields(client.get("/customers/list/").get_data(as_text=True))
    assert "Brand &lt;new&gt;" not in before["tags"]
    assert "Brand &lt;new&gt;" in after["tags"]
