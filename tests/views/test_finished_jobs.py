"""A finished bulk job's page: its figures are those it kept when it finished (total, done,
result), whatever happens to its customers afterwards, and a delete job says "deleted"."""
import re

from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Job, job_customer
from app.services.customers.delete import delete_customers
from tests import factories as f


def make(app, n=3, **fields):
    with app.app_context():
        return [f.customer(**fields).id for _ in range(n)]


def form_key(html):
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def run(browser, action, ids):
    """Confirm and start a bulk action on `ids` (small: it runs in the request); its job's URL.
    Deleting is the list's "bulk_delete" action, confirmed by typing "delete"."""
    action = "bulk_delete" if action == "delete" else action
    data = {"rowid": [str(i) for i in ids]}
    html = browser.post("/customers/action_post", {"action": action, **data}).get_data(as_text=True)
    extra = {"confirm": "delete"} if action == "bulk_delete" else {}
    r = browser.post(f"/customers/bulk/{action}", {**data, "form_key": form_key(html), **extra})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    return r.headers["Location"]


def job_of(app, url):
    with app.app_context():
        job = db.session.get(Job, int(url.rstrip("/").rsplit("/", 1)[1]))
        return job.status, job.total, job.done, job.result


def test_a_finished_delete_job_says_deleted(app, login):
    ids = make(app, 3)
    browser = login("admin")
    url = run(browser, "delete", ids)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.id.in_(ids))) == 0
    page = browser.get(url).get_data(as_text=True)
    assert "Done." in page and "3 customers" in page
    assert re.search(r'id="job-changed"><strong>3</strong> deleted<', page)
    assert "</strong> changed" not in page
    progress = browser.get(url + "/progress").json
    assert (progress["status"], progress["total"], progress["done"], progress["result"]["changed"],
            progress["done_word"]) == ("done", 3, 3, 3, "deleted")


def test_other_finished_jobs_still_say_changed(app, login):
    url = run(login("staff"), "disable", make(app, 2))
    assert re.search(r"<strong>2</strong> changed<", login("staff").get(url).get_data(as_text=True))


def test_a_finished_jobs_figures_stay_when_its_customers_are_deleted(app, login):
    ids = make(app, 4)
    browser = login("admin")
    run(browser, "disable", ids[:1])  # this one is left alone by the next job: already disabled
    url = run(browser, "disable", ids)
    before = job_of(app, url)
    assert before == ("done", 4, 4, {"changed": 3, "skipped": {"already disabled": 1}})
    with app.app_context():
        # The job let go of its list of customers when it finished: nothing left to recount.
        assert db.session.scalar(select(func.count()).select_from(job_customer)) == 0
    page_before = browser.get(url).get_data(as_text=True)
    list_before = browser.get("/jobs/list/").get_data(as_text=True)
    assert "4 of 4" in list_before

    run(browser, "delete", ids[:2])  # another job deletes some of them
    with app.app_context():
        delete_customers(db.session, ids[2:3])  # and one goes by itself
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.id.in_(ids))) == 1

    assert job_of(app, url) == before
    page = browser.get(url).get_data(as_text=True)
    result = re.compile(r'<div id="job-result">.*?</div>', re.S)
    assert result.search(page).group(0) == result.search(page_before).group(0)
    assert "Disable: 4 customers" in page and "<strong>3</strong> changed" in page
    assert "1 left alone: already disabled" in page
    progress = browser.get(url + "/progress").json
    assert (progress["total"], progress["done"], progress["percent"], progress["result"]) == (4, 4, 100, before[3])
    assert "4 of 4" in browser.get("/jobs/list/").get_data(as_text=True)


def test_a_finished_messages_jobs_figures_stay_when_a_customer_is_deleted_unseen(app, login):
    """Deleting a customer deletes its messages: the job keeps the figures it finished with, even
    when nobody opened its page before."""
    from tests.views.test_messages import compose
    with app.app_context():
        ids = [f.customer(first_name=n, surname="Sender", email=f"{n.lower()}@example.com").id
               for n in ("Ada", "Bob", "Cy")]
        gone = f.customer(first_name="Old", surname="Gone", email="old@example.com", status="archived").id
    browser = login("admin")
    r = compose(browser, "send_email", ids + [gone], subject="Hello", body="Hi", send="1")
    url = r.headers["Location"]
    with app.app_context():
        delete_customers(db.session, [ids[0], gone])
        db.session.commit()
    progress = browser.get(url + "/progress").json
    assert (progress["total"], progress["done"], progress["messages"]) == (4, 4, {"sent": 3, "skipped": 1})
    assert progress["skipped"] == {"customer archived": 1}
    page = browser.get(url).get_data(as_text=True)
    assert "<strong>3</strong> sent" in page and "1 skipped: customer archived" in page
    with app.app_context():
        delete_customers(db.session, [ids[1]])  # and after the page was seen: the same
        db.session.commit()
    assert browser.get(url + "/progress").json["messages"] == {"sent": 3, "skipped": 1}
