"""The customer's Finances tab says where its suspension for late payment stands (suspended since, when it
would be, postponed, on hold, never) and who posts money postpones it there (once per form; a day in the
past refused); who may not post money sees no form and is refused."""
import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CompanySettings
from app.models.reminders import ReminderState
from tests.unit.test_payment_reminders import customer, issued, run

GRACE = 10


@pytest.fixture
def grace(app):
    with app.app_context():
        db.session.merge(CompanySettings(id=1, suspend_grace_days=GRACE))
        db.session.commit()


def finances(browser, pk) -> str:
    html = browser.get(f"/customers/show/{pk}?tab=finances").get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split()), html


def test_a_suspended_customer_says_since_when_and_one_still_reminded_when_it_would_be(app, login, grace):
    with app.app_context():
        late = customer()
        issued(late, "100.00")
        run(30)
        late_id = late.id
        would = db.session.get(ReminderState, late_id).last_sent_on + timedelta(days=GRACE)
    text, _ = finances(login("finance"), late_id)
    assert f"on {would.strftime('%d %b %Y')} if still overdue" in text
    with app.app_context():
        run(40)  # the final step (30 days) + 10 days' grace: suspended
        suspended_on = db.session.get(ReminderState, late_id).suspended_on
    text, _ = finances(login("finance"), late_id)
    assert f"Suspended since {suspended_on.strftime('%d %b %Y')}" in text and "paying up enables it again" in text


def test_finance_postpones_the_suspension_and_a_past_day_is_refused(app, login, grace):
    with app.app_context():
        payer = customer()
        issued(payer, "100.00")
        run(7)  # an open episode, step 1 sent
        pk = payer.id
    browser = login("finance")
    text, html = finances(browser, pk)
    assert 'id="postpone-form"' in html
    key = re.search(r'id="postpone-form".*?name="form_key" value="([^"]+)"', html, re.S).group(1)
    until = (date.today() + timedelta(days=20)).isoformat()
    r = browser.post(f"/overdue-not-reminded/postpone/{pk}", {"form_key": key, "suspension_postponed_until": until})
    assert r.status_code == 302
    text, html = finances(browser, pk)
    assert "is not suspended for late payment before" in text and "postponed until" in text
    with app.app_context():
        assert db.session.scalar(select(ReminderState.suspension_postponed_until)
                                 .where(ReminderState.customer_id == pk)).isoformat() == until
    again = browser.post(f"/overdue-not-reminded/postpone/{pk}", {"form_key": key, "suspension_postponed_until": ""})
    assert again.status_code == 302  # the same form twice: said, nothing changed
    with app.app_context():
        assert db.session.scalar(select(ReminderState.suspension_postponed_until)
                                 .where(ReminderState.customer_id == pk)).isoformat() == until
    key = re.search(r'id="postpone-form".*?name="form_key" value="([^"]+)"', html, re.S).group(1)
    past = (date.today() - timedelta(days=1)).isoformat()
    r = browser.post(f"/overdue-not-reminded/postpone/{pk}", {"form_key": key, "suspension_postponed_until": past},
                     follow_redirects=True)
    assert "cannot be postponed to a day in the past" in unescape(r.get_data(as_text=True))
    reader = login("readonly")
    _, html = finances(reader, pk)
    assert 'id="late-payment"' in html and 'id="postpone-form"' not in html
    assert reader.post(f"/overdue-not-reminded/postpone/{pk}", {"form_key": "x"}).status_code == 403
