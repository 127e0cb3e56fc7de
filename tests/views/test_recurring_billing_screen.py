"""Money > Recurring billing over HTTP (views/recurring_billing.py, issue 17): who sees money reads the heading,
the settings and the preview of what a run would bill today (a reseller's user its own customers only), who
posts money confirms and runs "Bill due services now" once per form key and never twice while a run is going,
the run's report shown after on the page and on its job's page, and the job monitor naming the job's kind."""
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CompanySettings, CustomerService, Invoice, Job, TaxRate
from app.models.recurring import BillingRun
from app.services.billing import recurring
from tests import factories as f
from tests.conftest import PASSWORD

TODAY = date.today()


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def form_key(page: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def rate(name: str) -> int:
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def service(owner_id, name, price, cycle="monthly", tax="Zero rate", start=TODAY):
    db.session.add(CustomerService(customer_id=owner_id, name=name, price=Decimal(price), billing_cycle=cycle,
                                   status="active", started_on=start, next_billing_on=start, billing_day=start.day,
                                   tax_rate_id=rate(tax)))
    db.session.commit()


def known_services(app, reseller=None):
    """A GBP customer with a monthly service (zero rated) and a one-off (standard rate, 20%), and a JPY customer
    with a monthly one (standard rate): (GBP customer id, JPY customer id)."""
    with app.app_context():
        extra = {"reseller_id": f.reseller_id(reseller)} if reseller else {}
        ada = f.customer(first_name="Ada", surname="Monthly", currency="GBP", **extra)
        kenji = f.customer(first_name="Kenji", surname="Yen", currency="JPY", **extra)
        service(ada.id, "Broadband 40 Mb", "30.00")
        service(ada.id, "Installation", "49.99", cycle="one-off", tax="Standard rate")
        service(kenji.id, "Fibre", "3000", tax="Standard rate")
        row = db.session.get(CompanySettings, 1) or CompanySettings(id=1)
        row.billing_email = False
        db.session.add(row)
        db.session.commit()
        return ada.id, kenji.id


def block(page: str, customer_id: int) -> str:
    start = page.index(f'class="preview-customer" data-customer="{customer_id}"')
    return page[start:page.index("</tbody>", start)]


@pytest.mark.parametrize("username", ["admin", "finance", "staff", "readonly"])
def test_who_sees_money_reads_the_preview_and_only_who_posts_money_may_bill(app, login, username):
    ada, kenji = known_services(app)
    browser = login(username)
    page = text(browser.get("/recurring-billing/"))
    assert "2 customers with 3 services due today." in page
    assert "Invoices are issued at once." in page and "Invoices are not e-mailed." in page
    assert "Whole periods are billed (no pro rata)." in page and "Suspended services are billed." in page
    assert ('id="company-settings-link"' in page) == (username == "admin")
    assert ('id="bill-now"' in page) == (username in ("admin", "finance"))
    if username not in ("admin", "finance"):
        assert browser.get("/recurring-billing/confirm").status_code == 403
        assert browser.post("/recurring-billing/start", {"form_key": str(uuid.uuid4())}).status_code == 403
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 0


def test_the_preview_shows_each_customer_line_and_the_totals_per_currency_in_its_currency(app, login):
    ada, kenji = known_services(app)
    page = text(login("finance").get("/recurring-billing/"))
    mine = block(page, ada)
    day = TODAY.strftime("%d %b %Y")
    assert f"/customers/show/{ada}" in mine and "Ada Monthly" in mine
    assert "Broadband 40 Mb" in mine and "Installation" in mine and day in mine
    assert re.search(r"Broadband 40 Mb</td>.*?£30\.00.*?£0\.00.*?£30\.00", mine, re.S)
    assert re.search(r"Installation</td>.*?£49\.99.*?£10\.00.*?£59\.99", mine, re.S)
    assert "£89.99" in mine  # the invoice's total
    yen = block(page, kenji)
    assert "Fibre" in yen and re.search(r"¥3,000.*?¥600.*?¥3,600", yen, re.S) and "¥3,600.00" not in yen
    totals = page[page.index('id="page-totals"'):]
    assert "£89.99" in totals[:300] and "¥3,600" in totals[:300]


def test_nothing_due_says_so_and_offers_no_run(app, login):
    page = text(login("finance").get("/recurring-billing/"))
    assert "No services are due today." in page and 'id="bill-now"' not in page
    assert "No billing run yet." in page


def test_a_reseller_sees_only_its_customers_in_the_preview_and_no_run_figures(app, login):
    ours, _ = known_services(app, reseller="Reseller A")
    with app.app_context():
        theirs = f.customer(first_name="Theirs", surname="Other", reseller_id=f.reseller_id("Reseller B"))
        service(theirs.id, "Hosting", "12.00")
    browser = login("reseller_a")
    page = text(browser.get("/recurring-billing/"))
    assert "Theirs Other" not in page and "Hosting" not in page and 'id="bill-now"' not in page
    assert "2 customers with 3 services due today." in page and "Ada Monthly" in page and "Kenji Yen" in page
    recurring_run(app)
    page = text(browser.get("/recurring-billing/"))
    assert 'id="runs-figures-hidden"' in page and 'class="billing-run"' in page and "run-totals" not in page
    assert browser.get("/recurring-billing/confirm").status_code == 403


def recurring_run(app):
    with app.app_context():
        recurring.run(db.session, TODAY, "test", app.config)


def test_the_preview_pages_by_customer_with_next_and_newest(app, login, monkeypatch):
    from app.views import recurring_billing
    monkeypatch.setattr(recurring_billing, "PAGE", 1)
    ada, kenji = known_services(app)
    browser = login("finance")
    first = text(browser.get("/recurring-billing/"))
    assert "Ada Monthly" in first and "Kenji Yen" not in first and 'id="newest-page"' not in first
    following = re.search(r'id="next-page" href="([^"]+)"', first).group(1)
    second = text(browser.get(following))
    assert "Kenji Yen" in second and "Ada Monthly" not in second
    assert 'id="next-page"' not in second and 'id="newest-page"' in second


def test_bill_due_services_now_confirms_then_runs_once_per_form_key_and_shows_the_report(app, login):
    ada, kenji = known_services(app)
    browser = login("finance")
    confirm = text(browser.get("/recurring-billing/confirm"))
    assert "This bills 2 customers for 3 services due today" in confirm
    assert "£89.99" in confirm and "¥3,600" in confirm
    key = form_key(confirm)
    first = browser.post("/recurring-billing/start", {"form_key": key})
    assert first.status_code == 302 and "/jobs/" in first.headers["Location"]
    job_page = text(browser.get(first.headers["Location"]))
    assert "Bill due services" in job_page and "£89.99 invoiced" in job_page and "¥3,600 invoiced" in job_page
    assert 'id="billing-runs-link"' in job_page
    again = browser.post("/recurring-billing/start", {"form_key": key})
    assert again.status_code == 302 and again.headers["Location"].endswith("/recurring-billing/")
    assert "already sent" in text(browser.get(again.headers["Location"]))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 1
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 2
        [run] = db.session.scalars(select(BillingRun))
        job_id = run.job_id
    page = text(browser.get("/recurring-billing/"))
    row = page[page.index('class="billing-run"'):]
    row = row[:row.index("</tr>")]
    assert "finance" in row and "Finished" in row and "£89.99" in row and "¥3,600" in row
    assert f"/jobs/{job_id}" in row and "No services are due today." in page


def test_a_second_run_while_one_is_going_is_refused_with_a_message(app, login):
    known_services(app)
    with app.app_context():
        job = Job(action=recurring.ACTION, params={"today": TODAY.isoformat()}, user_id=f.user("admin").id,
                  username="admin", status="running", total=2, result={})
        db.session.add(job)
        db.session.flush()
        db.session.add(BillingRun(run_on=TODAY, status="running", started_by="admin", job_id=job.id))
        db.session.commit()
    browser = login("finance")
    confirm = text(browser.get("/recurring-billing/confirm"))
    assert 'id="run-going"' in confirm
    refused = browser.post("/recurring-billing/start", {"form_key": form_key(confirm)})
    assert refused.status_code == 302
    message = text(browser.get(refused.headers["Location"]))
    assert "is still going: no second run was started" in message
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillingRun)) == 1
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_a_run_whose_job_died_no_longer_blocks_and_shows_stopped(app, login):
    known_services(app)
    with app.app_context():
        job = Job(action=recurring.ACTION, params={"today": TODAY.isoformat()}, user_id=f.user("finance").id,
                  username="finance", status="failed", error="its process died", total=2, result={})
        db.session.add(job)
        db.session.flush()
        db.session.add(BillingRun(run_on=TODAY - timedelta(days=1), status="running", started_by="finance",
                                  job_id=job.id))
        db.session.commit()
    browser = login("finance")
    assert "Stopped" in text(browser.get("/recurring-billing/"))
    started = browser.post("/recurring-billing/start", {"form_key": form_key(text(browser.get("/recurring-billing/confirm")))})
    assert "/jobs/" in started.headers["Location"]


def test_the_job_monitor_names_the_billing_runs_job(app, login):
    known_services(app)
    browser = login("finance")
    browser.post("/recurring-billing/start", {"form_key": form_key(text(browser.get("/recurring-billing/confirm")))})
    html = text(login("admin").get("/job-monitor/"))
    assert "Bill due services #" in html


def test_a_user_without_money_may_not_open_the_page(app, login):
    with app.app_context():
        sm = app.appbuilder.sm
        role = sm.find_role("No money") or sm.add_role("No money")
        if sm.find_user("nomoney") is None:
            sm.add_user("nomoney", "No", "Money", "nomoney@example.com", role, password=PASSWORD)
        db.session.commit()
    assert login("nomoney").get("/recurring-billing/").status_code == 403
