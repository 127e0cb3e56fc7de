"""Bulk actions from the customer list, through HTTP: tick, confirm (with the count), see the result."""
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Job, Tag
from tests import factories as f


def make(app, n=3, **fields):
    with app.app_context():
        return [f.customer(**fields).id for _ in range(n)]


def statuses(app, ids):
    with app.app_context():
        return [db.session.get(Customer, i).status for i in ids]


def form_key(html):
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def confirm(browser, action, data):
    """Post the list's action form, check the confirmation, and return it (with its key)."""
    page = browser.post("/customers/action_post", {"action": action, **data})
    assert page.status_code == 200, page.get_data(as_text=True)[:400]
    return page.get_data(as_text=True)


def run(browser, action, data, **params):
    html = confirm(browser, action, data)
    return browser.post(f"/customers/bulk/{action}", {**data, "form_key": form_key(html), **params})


def test_tick_three_customers_disable_them_and_see_the_result(app, login):
    ids = make(app)
    other = make(app, 1)
    browser = login("staff")
    html = confirm(browser, "disable", {"rowid": [str(i) for i in ids]})
    assert re.search(r"This will disable <strong>3</strong>\s+customers", html)
    assert statuses(app, ids) == ["active"] * 3  # nothing happens before the confirmation
    r = browser.post("/customers/bulk/disable", {"rowid": [str(i) for i in ids], "form_key": form_key(html)})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    assert statuses(app, ids + other) == ["disabled"] * 3 + ["active"]
    page = browser.get(r.headers["Location"]).get_data(as_text=True)
    assert "Done." in page and re.search(r"<strong>3</strong> changed", page)


def test_all_customers_matching_a_filter_across_pages(app, login):
    ids = make(app, 30, surname="Pagewide")
    make(app, 2, surname="Elsewhere")
    browser = login("admin")
    list_page = browser.get("/customers/list/?_flt_0_surname=pagewide").get_data(as_text=True)
    assert "Select all 30 matching" in list_page
    data = {"all_matching": "1", "query": "_flt_0_surname=pagewide", "rowid": [str(ids[0])]}
    html = confirm(browser, "archive", data)
    assert "<strong>30</strong>" in html and "all that match" in html
    browser.post("/customers/bulk/archive", {**data, "form_key": form_key(html)})
    assert statuses(app, ids) == ["archived"] * 30
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.status == "active")) == 2


def test_a_forged_row_of_another_reseller_changes_nothing_and_is_reported(app, login, resellers):
    own = make(app, 1, reseller_id=resellers["Reseller A"])
    theirs = make(app, 1, reseller_id=resellers["Reseller B"])
    browser = login("reseller_a")
    html = confirm(browser, "disable", {"rowid": [str(own[0]), str(theirs[0])]})
    assert "<strong>1</strong>" in html and "1 of the ticked customers cannot be found" in html
    run(browser, "disable", {"rowid": [str(own[0]), str(theirs[0])]})
    assert statuses(app, own + theirs) == ["disabled", "active"]
    only_theirs = browser.post("/customers/action_post", {"action": "disable", "rowid": [str(theirs[0])]})
    assert only_theirs.status_code == 302  # "None of these customers can be found."
    assert statuses(app, theirs) == ["active"]


@pytest.mark.parametrize("user", ["staff", "reseller_a", "readonly"])
def test_only_an_admin_may_delete(app, login, resellers, user):
    ids = make(app, 1, reseller_id=resellers["Reseller A"])
    browser = login(user)
    r = browser.post("/customers/action_post", {"action": "bulk_delete", "rowid": [str(ids[0])]})
    assert r.status_code == 302
    r = browser.post("/customers/bulk/bulk_delete", {"rowid": [str(ids[0])], "confirm": "delete",
                                                     "form_key": "2b1c4b52-6f0e-4c49-9d8c-5d7b0a5c2a11"})
    assert r.status_code == 302
    assert statuses(app, ids) == ["active"]


def test_read_only_users_cannot_change_statuses(app, login):
    ids = make(app, 1)
    r = login("readonly").post("/customers/action_post", {"action": "disable", "rowid": [str(ids[0])]})
    assert r.status_code == 302
    assert statuses(app, ids) == ["active"]


def test_delete_asks_for_the_typed_word(app, login):
    ids = make(app, 2)
    browser = login("admin")
    html = confirm(browser, "bulk_delete", {"rowid": [str(i) for i in ids]})
    assert "Type <code>delete</code> to confirm" in html
    r = browser.post("/customers/bulk/bulk_delete", {"rowid": [str(i) for i in ids], "form_key": form_key(html),
                                                     "confirm": "yes please"})
    assert r.status_code == 422 and 'Type the word &#34;delete&#34; to confirm.' in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 2
    run(browser, "bulk_delete", {"rowid": [str(i) for i in ids]}, confirm="delete")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_double_submitted_confirmation_acts_once(app, login):
    ids = make(app, 2)
    browser = login("admin")
    html = confirm(browser, "bulk_edit", {"rowid": [str(i) for i in ids]})
    with app.app_context():
        vip = f.tag("vip").id
    data = {"rowid": [str(i) for i in ids], "form_key": form_key(html), "tag_mode": "add", "tag_ids": [str(vip)]}
    first = browser.post("/customers/bulk/bulk_edit", data)
    second = browser.post("/customers/bulk/bulk_edit", data)
    assert first.status_code == 302 and second.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 1
        assert sorted(t.name for t in db.session.scalars(select(Tag))) == ["vip"]


def test_edit_errors_show_next_to_their_field_and_change_nothing(app, login):
    ids = make(app, 1)
    browser = login("admin")
    r = run(browser, "bulk_edit", {"rowid": [str(ids[0])]}, currency="<b>", creditor_days="-3")
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "is not an ISO 4217 currency code" in body and "&lt;B&gt;" in body and "<B>" not in body
    assert "Creditor days must be one of" in body


def test_a_large_action_runs_as_a_job_and_its_page_shows_progress(app, login, monkeypatch):
    ids = make(app, 4)
    monkeypatch.setitem(app.config, "BULK_SYNC_LIMIT", 2)
    calls = []
    import app.jobs as jobs_module
    monkeypatch.setattr(jobs_module, "start_thread", lambda app_, task, *args: calls.append(args) or task(*args))
    monkeypatch.setitem(app.config, "JOBS_IN_THREAD", True)
    browser = login("admin")
    r = run(browser, "disable", {"rowid": [str(i) for i in ids]})
    assert calls and statuses(app, ids) == ["disabled"] * 4
    job_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    progress = browser.get(f"/jobs/{job_id}/progress").get_json()
    assert progress["status"] == "done" and progress["percent"] == 100 and progress["result"]["changed"] == 4


def test_a_row_action_asks_first_and_a_reseller_cannot_see_anothers_job(app, login, resellers):
    ids = make(app, 1, reseller_id=resellers["Reseller A"])
    admin = login("admin")
    page = admin.get(f"/customers/action/disable/{ids[0]}")
    assert page.status_code == 200 and "<strong>1</strong>" in page.get_data(as_text=True)
    from_show_page = admin.post(f"/customers/action/disable/{ids[0]}")  # FAB's show page posts its actions
    assert from_show_page.status_code == 200 and "This will disable" in from_show_page.get_data(as_text=True)
    assert statuses(app, ids) == ["active"]
    r = run(admin, "disable", {"rowid": [str(ids[0])]})
    job_url = r.headers["Location"]
    assert login("reseller_a").get(job_url).status_code == 404
    assert login("reseller_b").get(job_url + "/progress").status_code == 404


def test_the_list_offers_each_user_only_the_actions_their_role_allows(app, login):
    make(app, 1)
    admin = login("admin").get("/customers/list/").get_data(as_text=True)
    staff = login("staff").get("/customers/list/").get_data(as_text=True)
    readonly = login("readonly").get("/customers/list/").get_data(as_text=True)
    assert "bulk_delete_menu_item" in admin and "bulk_delete_menu_item" not in staff
    assert "disable_menu_item" in staff and "/customers/action/disable/" in staff
    assert "action_check" not in readonly and "disable_menu_item" not in readonly


def test_another_resellers_services_are_not_found_on_any_service_route(app, login, resellers):
    from decimal import Decimal

    from app.models import CustomerService
    with app.app_context():
        theirs = f.customer(reseller_id=resellers["Reseller B"]).id
        service = CustomerService(customer_id=theirs, name="Secret fibre", price=Decimal("9"))
        db.session.add(service)
        db.session.commit()
        sid = service.id
    browser = login("reseller_a")
    assert browser.get(f"/services/show/{sid}").status_code == 404
    assert browser.get(f"/services/edit/{sid}").status_code == 404
    assert "Secret fibre" not in browser.get("/services/list/").get_data(as_text=True)
    r = browser.post(f"/services/edit/{sid}", {"name": "Taken", "price": "1", "billing_cycle": "monthly",
                                               "status": "active"})
    assert r.status_code == 404
    with app.app_context():
        assert db.session.get(CustomerService, sid).name == "Secret fibre"


def test_each_rows_menu_offers_only_the_status_actions_that_apply_to_it(app, login):
    active, disabled, archived = make(app, 1) + make(app, 1, status="disabled") + make(app, 1, status="archived")
    staff = login("staff")
    html = staff.get("/customers/list/").get_data(as_text=True) + \
        staff.get("/customers/list/?_flt_0_status=archived").get_data(as_text=True)
    assert f"/customers/action/disable/{active}\"" in html and f"/customers/action/enable/{active}\"" not in html
    assert f"/customers/action/enable/{disabled}\"" in html and f"/customers/action/disable/{disabled}\"" not in html
    assert f"/customers/action/unarchive/{archived}\"" in html and f"/customers/action/make_dormant/{archived}\"" not in html
    assert f"/customers/action/send_email/{active}\"" in html  # not a status action: always there
