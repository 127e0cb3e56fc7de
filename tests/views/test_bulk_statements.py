"""Send statement from the customer list, through HTTP: tick (or all matching the filter), confirm the date and
the invoices, follow the job to its result; Finance and Admin may, others may not."""
import re
import uuid
from datetime import date, timedelta
from html import unescape

from sqlalchemy import select

from app.extensions import db
from app.models import Customer, Message, TaxRate
from app.services.billing import invoices
from tests import factories as f

TODAY = date.today()


def owing(app, n=1, **fields):
    with app.app_context():
        rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        ids = []
        for _ in range(n):
            customer = f.customer(**fields, email=f"{uuid.uuid4().hex[:10]}@example.com")
            invoices.create_draft(db.session, f.user("admin"), customer.id, {
                "issue_date": (TODAY - timedelta(days=20)).isoformat(),
                "lines": [{"description": "Work", "quantity": 1, "unit_price": "42.00", "tax_rate_id": rate}]},
                str(uuid.uuid4()), issue_now=True)
            ids.append(customer.id)
        return ids


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).replace("\xa0", " ").split())


def form_key(html):
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def test_finance_ticks_customers_confirms_and_follows_the_job(app, login):
    ids = owing(app, 2)
    with app.app_context():
        paid_up = f.customer(email="paid@example.com").id
    browser = login("finance")
    assert "Send statement" in browser.get("/customers/list/").get_data(as_text=True)
    rows = [str(i) for i in ids + [paid_up]]
    page = browser.post("/customers/action_post", {"action": "send_statement", "rowid": rows})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "This will e-mail the statement of 3 customers" in text(html)
    assert f'name="as_at" id="as_at" value="{TODAY.isoformat()}"' in html and 'name="attach"' in html
    with app.app_context():
        assert db.session.scalar(select(Message.id)) is None  # nothing before the confirmation
    data = {"rowid": rows, "form_key": form_key(html), "as_at": TODAY.isoformat(), "attach": "setting"}
    r = browser.post("/customers/bulk/send_statement", data)
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    job_page = text(browser.get(r.headers["Location"]).get_data(as_text=True))
    assert "Send statement: 3 customers" in job_page and "2 sent" in job_page
    assert "1 not sent: nothing owed" in job_page
    again = browser.post("/customers/bulk/send_statement", data)  # the same form: nothing more
    assert again.status_code == 302
    with app.app_context():
        sent = db.session.scalars(select(Message.customer_id).where(Message.customer_id.in_(ids + [paid_up]))).all()
        assert sorted(sent) == sorted(ids)


def test_all_matching_the_filter_and_a_wrong_date(app, login):
    ids = owing(app, 3, surname="Statementwide")
    owing(app, 1, surname="Elsewhere")
    browser = login("admin")
    data = {"all_matching": "1", "query": "_flt_0_surname=statementwide", "rowid": [str(ids[0])]}
    html = browser.post("/customers/action_post", {"action": "send_statement", **data}).get_data(as_text=True)
    assert "<strong>3</strong>" in html and "all that match" in html
    wrong = browser.post("/customers/bulk/send_statement", {**data, "form_key": form_key(html), "as_at": "soon"})
    assert wrong.status_code == 422 and 'has-error' in wrong.get_data(as_text=True)
    r = browser.post("/customers/bulk/send_statement", {**data, "form_key": form_key(wrong.get_data(as_text=True)),
                                                         "as_at": TODAY.isoformat(), "attach": "none"})
    assert r.status_code == 302
    with app.app_context():
        to = db.session.scalars(select(Message.customer_id).join(Customer, Customer.id == Message.customer_id)).all()
        assert sorted(to) == sorted(ids)


def test_who_does_not_post_money_may_not(app, login):
    ids = owing(app, 1)
    for user in ("staff", "reseller_a", "readonly"):
        browser = login(user)
        r = browser.post("/customers/action_post", {"action": "send_statement", "rowid": [str(ids[0])]})
        assert r.status_code in (302, 404), user
        r = browser.post("/customers/bulk/send_statement", {"rowid": [str(ids[0])], "form_key": str(uuid.uuid4())})
        assert r.status_code in (302, 404), user
    with app.app_context():
        assert db.session.scalar(select(Message.id)) is None
