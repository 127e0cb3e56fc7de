"""The home page is a dashboard of the user's scope: customers by status, the newest customers,
recent activity, bulk jobs running or failed, and messages that failed or may have gone out."""
import re
from datetime import timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import Customer, Job, Message
from app.models.resellers import utcnow
from app.services import dashboard
from tests import factories as f


@pytest.fixture
def shop(app):
    """Reseller A: Ada (active), Grace (dormant), Alan (disabled). Reseller B: Bertha (blocked).
    No reseller: Olga (archived). A failed job of the admin's, and of reseller_a's; a failed message
    to Ada, one that may have gone out to Bertha, and an old failed one to Ada (not counted)."""
    with app.app_context():
        a, b = f.reseller_id("Reseller A"), f.reseller_id("Reseller B")
        made = {}
        for key, first, surname, reseller in (("ada", "Ada", "Lovelace", a), ("grace", "Grace", "Hopper", a),
                                              ("alan", "Alan", "Turing", a), ("bertha", "Bertha", "Benz", b),
                                              ("olga", "Olga", "Archived", None)):
            made[key] = f.customer(first_name=first, surname=surname, reseller_id=reseller).id
        for key, status in (("grace", "dormant"), ("alan", "disabled"), ("bertha", "blocked"), ("olga", "archived")):
            db.session.execute(update(Customer).where(Customer.id == made[key]).values(status=status))
        admin, reseller = f.user("admin"), f.user("reseller_a")
        jobs = {}
        for key, who in (("admin_job", admin), ("reseller_job", reseller)):
            job = Job(action="disable", params={}, user_id=who.id, username=who.username, status="failed", total=3,
                      error="The process running this job stopped before it finished.")
            db.session.add(job)
            db.session.flush()
            jobs[key] = job.id
        db.session.add(Job(action="disable", params={}, user_id=admin.id, username="admin", status="done", total=1))
        old = utcnow() - timedelta(days=dashboard.MESSAGE_DAYS + 1)
        db.session.add_all([
            Message(customer_id=made["ada"], channel="email", subject="Bill", body="B", recipient="ada@example.com",
                    status="failed", error="550 no such mailbox"),
            Message(customer_id=made["bertha"], channel="sms", body="Hi", recipient="+447700900001",
                    status="uncertain"),
            Message(customer_id=made["ada"], channel="email", subject="Old", body="B", recipient="ada@example.com",
                    status="failed", created_at=old),
            Message(customer_id=made["ada"], channel="email", subject="Fine", body="B", recipient="ada@example.com",
                    status="sent"),
        ])
        db.session.commit()
        return SimpleNamespace(**made, **jobs)


def panel(page: str, name: str) -> str:
    """The HTML of one dashboard panel."""
    m = re.search(rf'<div class="panel panel-default" id="dashboard-{name}">(.*?)\n      </div>', page, re.S)
    return m.group(1) if m else ""


def status_counts(page: str) -> dict[str, str]:
    return {s: n.strip() for s, n in re.findall(
        r'<tr class="status-(\w+)">.*?<td class="figure">(?:<strong>)?([^<]*)', panel(page, "statuses"), re.S)}


def message_counts(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr class="messages-(\w+)[^"]*">.*?<td class="figure">([^<]*)</td>',
                           panel(page, "messages"), re.S))


def test_a_visitor_who_is_not_logged_in_gets_the_plain_welcome(app):
    page = app.test_client().get("/").get_data(as_text=True)
    assert "Log in" in page and 'id="dashboard"' not in page


def test_an_admin_sees_every_customer_by_status_and_the_newest_first(shop, login):
    page = login("admin").get("/").get_data(as_text=True)
    assert status_counts(page) == {"active": "1", "disabled": "1", "dormant": "1", "blocked": "1", "archived": "1",
                                   "total": "5"}
    newest = re.findall(r'/customers/show/(\d+)">([^<]+)</a>', panel(page, "newest"))
    assert newest == [(str(shop.olga), "Olga Archived"), (str(shop.bertha), "Bertha Benz"),
                      (str(shop.alan), "Alan Turing"), (str(shop.grace), "Grace Hopper"),
                      (str(shop.ada), "Ada Lovelace")]
    assert "Dormant" in panel(page, "newest") and "dormant</" not in panel(page, "newest")  # words, not codes


def test_a_reseller_sees_only_their_customers_counts_newest_and_activity(shop, login):
    page = login("reseller_a").get("/").get_data(as_text=True)
    assert status_counts(page) == {"active": "1", "disabled": "1", "dormant": "1", "blocked": "0", "archived": "0",
                                   "total": "3"}
    assert re.findall(r'/customers/show/\d+">([^<]+)</a>', panel(page, "newest")) == \
        ["Alan Turing", "Grace Hopper", "Ada Lovelace"]
    activity = panel(page, "activity")
    assert "Ada Lovelace" in activity and "Bertha" not in activity and "Olga" not in activity
    assert "Bertha" not in page and "Olga" not in page
    assert "Audit log" not in page  # the audit list is not theirs


def test_activity_says_who_did_what_to_which_customer_to_the_minute(shop, login):
    activity = panel(login("admin").get("/").get_data(as_text=True), "activity")
    rows = re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", activity, re.S)
    assert rows and all(re.fullmatch(r'<span class="nowrap">\d{4}-\d\d-\d\d \d\d:\d\d</span>', at)
                        for at, _, _ in rows)
    # made outside a request (the factories): no user to name
    assert ("the system", "Added customer") in {(who, what.strip()) for _, who, what in rows}
    assert "Olga Archived" in activity and 'href="/audit/list/"' in activity


def test_a_read_only_user_sees_all_customers_and_messages_but_no_jobs_panel(shop, login):
    page = login("readonly").get("/").get_data(as_text=True)
    assert status_counts(page)["total"] == "5"
    assert message_counts(page) == {"failed": "1", "uncertain": "1"}
    assert 'id="dashboard-jobs"' not in page  # the job page is not theirs to open


def test_a_failed_job_and_a_failed_message_appear_with_links_to_them(shop, login):
    browser = login("admin")
    page = browser.get("/").get_data(as_text=True)
    jobs = panel(page, "jobs")
    assert f'href="/jobs/{shop.admin_job}"' in jobs and f'href="/jobs/{shop.reseller_job}"' in jobs
    assert "Stopped" in jobs and jobs.count("<li") == 2  # the finished job is not listed
    assert message_counts(page) == {"failed": "1", "uncertain": "1"}  # the old failure is past the week
    assert "may have gone out" in panel(page, "messages")
    link = unescape(re.search(r'href="(/messages/list/\?_flt_3_status=failed[^"]*)"', page).group(1))
    listed = browser.get(link).get_data(as_text=True)
    assert "Ignored" not in listed
    assert "Bill" in listed and "Old" not in listed and "Fine" not in listed


def test_a_reseller_sees_their_own_jobs_and_their_customers_messages_only(shop, login):
    page = login("reseller_a").get("/").get_data(as_text=True)
    jobs = panel(page, "jobs")
    assert f'href="/jobs/{shop.reseller_job}"' in jobs and f'href="/jobs/{shop.admin_job}"' not in jobs
    assert message_counts(page) == {"failed": "1", "uncertain": "0"}
    assert message_counts(login("reseller_b").get("/").get_data(as_text=True)) == {"failed": "0", "uncertain": "1"}


def test_a_reseller_user_without_a_reseller_sees_nothing(shop, login):
    page = login("reseller_none").get("/").get_data(as_text=True)
    assert status_counts(page)["total"] == "0"
    assert "No customers yet." in page and "Lovelace" not in page


def test_each_status_links_to_the_customer_list_filtered_by_it(shop, login):
    browser = login("admin")
    page = browser.get("/").get_data(as_text=True)
    for status, name in (("dormant", "Grace Hopper"), ("archived", "Olga Archived"), ("disabled", "Alan Turing")):
        link = unescape(re.search(rf'href="(/customers/list/\?_flt_0_status={status})"', page).group(1))
        listed = browser.get(link).get_data(as_text=True)
        assert name in listed and "Ada Lovelace" not in listed, status


def test_a_job_whose_process_died_shows_as_stopped_not_running(app, login):
    with app.app_context():
        ids = [f.customer().id for _ in range(3)]
        job_id = f.stopped_job(db.session, f.user("staff"), "disable", ids, chunk=1)
        assert db.session.get(Job, job_id).status == "running"  # nothing recorded the failure
    jobs = panel(login("staff").get("/").get_data(as_text=True), "jobs")
    assert f'href="/jobs/{job_id}"' in jobs and "Stopped" in jobs and "Running" not in jobs
    with app.app_context():
        assert db.session.get(Job, job_id).status == "failed"


def test_a_user_opens_only_the_jobs_their_list_holds(app, login):
    with app.app_context():
        job_id = f.stopped_job(db.session, f.user("admin"), "disable", [f.customer().id], chunk=1)
    assert login("staff").get(f"/jobs/{job_id}").status_code == 404  # not in staff's list: not theirs
    assert login("admin").get(f"/jobs/{job_id}").status_code == 200


def test_the_jobs_list_shows_a_job_whose_process_died_as_stopped(app, login):
    with app.app_context():
        job_id = f.stopped_job(db.session, f.user("staff"), "disable", [f.customer().id for _ in range(2)], chunk=1)
    html = login("staff").get("/jobs/list/").get_data(as_text=True)
    assert f'href="/jobs/{job_id}"' in html and "Stopped" in html and "Working" not in html
    with app.app_context():
        assert db.session.get(Job, job_id).status == "failed"
