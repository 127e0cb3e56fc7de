"""The menu reaches everything a role may use: Services, the API documentation, and Jobs, a list
of the user's own jobs (every job for an admin) whose rows open each job's page (issue 12)."""
import re
from datetime import datetime, timezone

import pytest

from app.extensions import db
from app.models import Job
from tests import factories as f

ROLES = ("admin", "staff", "readonly", "reseller_a")


def a_job(username, action="email", status="done", done=1, total=1, at=None):
    job = Job(action=action, params={}, user_id=f.user(username).id, username=username, status=status,
              total=total, done=done, result={}, created_at=at or datetime.now(timezone.utc))
    db.session.add(job)
    db.session.commit()
    return job.id


def menu_links(html):
    """The hrefs of the navigation bar's drop-down entries."""
    nav = html.split('<ul class="dropdown-menu">', 1)[1].split("</nav>", 1)[0] if "dropdown-menu" in html else ""
    return set(re.findall(r'<a tabindex="-1" href="([^"]+)"', nav))


@pytest.fixture
def jobs_of_two_users(app):
    with app.app_context():
        return {
            "admin": a_job("admin", "email", at=datetime(2024, 5, 6, 9, 41, 37, tzinfo=timezone.utc)),
            "staff": a_job("staff", "disable", status="failed", done=1_200, total=3_456),
            "reseller_a": a_job("reseller_a", "sms", status="running", done=0, total=2),
        }


@pytest.mark.parametrize("role", ROLES)
def test_the_menu_offers_services_and_the_api_documentation_to_every_role_that_may_open_them(app, login, role):
    browser = login(role)
    links = menu_links(browser.get("/customers/list/").get_data(as_text=True))
    assert {"/services/list/", "/swagger/v1"} <= links, links
    assert browser.get("/services/list/").status_code == 200
    docs = browser.get("/swagger/v1")
    assert docs.status_code == 200 and "/api/v1/_openapi" in docs.get_data(as_text=True)
    assert browser.get("/api/v1/_openapi").status_code == 200  # what the page reads


@pytest.mark.parametrize("role,offered", [("admin", True), ("staff", True), ("reseller_a", True),
                                          ("readonly", False)])
def test_the_menu_offers_jobs_to_the_roles_that_start_them(app, login, role, offered):
    browser = login(role)
    links = menu_links(browser.get("/customers/list/").get_data(as_text=True))
    assert ("/jobs/list/" in links) is offered
    assert browser.get("/jobs/list/").status_code == (200 if offered else 403)


def test_a_user_sees_only_their_own_jobs_and_an_admin_sees_everyones(app, login, jobs_of_two_users):
    ids = jobs_of_two_users

    def listed(username):
        html = login(username).get("/jobs/list/").get_data(as_text=True)
        return {pk for pk in ids.values() if f'href="/jobs/{pk}"' in html}

    assert listed("admin") == set(ids.values())
    assert listed("staff") == {ids["staff"]}
    assert listed("reseller_a") == {ids["reseller_a"]}
    assert listed("reseller_b") == set()


def test_each_row_says_what_who_when_how_far_in_words_and_opens_the_jobs_page(app, login, jobs_of_two_users):
    ids = jobs_of_two_users
    browser = login("admin")
    html = browser.get("/jobs/list/").get_data(as_text=True)
    rows = {pk: row for row in html.split("<tr>") for pk in ids.values() if f'href="/jobs/{pk}"' in row}
    admins, staffs, resellers = rows[ids["admin"]], rows[ids["staff"]], rows[ids["reseller_a"]]
    assert "Send an e-mail" in admins and "admin" in admins and "2024-05-06 09:41<" in admins
    assert ">Done<" in admins and "1 of 1" in admins
    assert ">Stopped<" in staffs and "1,200 of 3,456" in staffs and ">staff<" in staffs
    assert ">Working<" in resellers and "Send a text" in resellers and "0 of 2" in resellers
    # newest first
    assert html.index(f'href="/jobs/{ids["reseller_a"]}"') < html.index(f'href="/jobs/{ids["admin"]}"')
    assert browser.get(f"/jobs/{ids['staff']}").status_code == 200


def test_the_jobs_pages_routes_stay_and_the_list_makes_no_add_edit_or_delete(app, login, jobs_of_two_users):
    staff = login("staff")
    pk = jobs_of_two_users["staff"]
    assert staff.get(f"/jobs/{pk}").status_code == 200
    assert staff.get(f"/jobs/{pk}/progress").json["status"] == "failed"
    assert staff.get("/jobs/mine").headers["Location"].endswith(f"/jobs/{pk}")
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/jobs")}
    assert routes == {"/jobs/list/", "/jobs/<int:pk>", "/jobs/<int:pk>/progress", "/jobs/<int:pk>/again",
                      "/jobs/mine"}


def test_a_reseller_cannot_open_another_users_job_from_the_list_or_by_its_id(app, login, jobs_of_two_users):
    reseller = login("reseller_a")
    assert reseller.get(f"/jobs/{jobs_of_two_users['staff']}").status_code == 404
    assert reseller.get(f"/jobs/{jobs_of_two_users['reseller_a']}").status_code == 200
