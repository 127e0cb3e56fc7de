"""Payment reminders' screens over HTTP (views/reminders.py, issue 16): the steps page (Admin changes,
Finance reads, others 403; a step refused next to its field: days out of range, a position taken, an
unknown placeholder with the list, subject and e-mail required; nothing written), the company minimum on
Company settings, the "Overdue, not reminded" list (who sees money reads it in scope; another reseller's
customers absent; Send reminder once per form key, refused cases said; paged with More), the customer's
Finances tab (the setting, the episode, Move next reminder), and the invoice's Disputed toggle, which
leaves the invoice out of the run."""
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from flask import current_app
from sqlalchemy import delete, func, insert, select, update

from app.extensions import db
from app.models import AuditEntry, CompanySettings, Customer, Invoice, TaxRate
from app.models.reminders import PaymentReminder, ReminderState, ReminderStep
from app.services.billing import invoices, reminders
from app.views import history
from tests import factories as f

OLD = date.today() - timedelta(days=40)  # the invoices' issue and due date: 40 days overdue


def key() -> str:
    return str(uuid.uuid4())


def keys(page: str) -> list[str]:
    return re.findall(r'name="form_key" value="([^"]+)"', page)


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def landed(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return text(browser.get(response.headers["Location"]))


def overdue_customer(app, name="Ada", reseller=None, amount="120.00", mode="manual", **fields):
    """A customer with an invoice 40 days overdue, its reminders `mode`; (customer id, invoice id)."""
    with app.app_context():
        data = {"first_name": name, "surname": "Payer", "email": f"{uuid.uuid4().hex[:8]}@example.com", **fields}
        if reseller:
            data["reseller_id"] = f.reseller_id(reseller)
        c = f.customer(**data)
        db.session.execute(update(Customer).where(Customer.id == c.id).values(payment_reminders=mode))
        db.session.commit()
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        invoice = invoices.create_draft(db.session, f.user("finance"), c.id, {
            "issue_date": OLD.isoformat(), "due_date": OLD.isoformat(),
            "lines": [{"description": "Work", "quantity": 1, "unit_price": amount, "tax_rate_id": zero}]},
            key(), issue_now=True)
        return c.id, invoice.id


@pytest.fixture
def kept_steps(app):
    """The migration's steps, put back after a test that changes them."""
    with app.app_context():
        kept = [dict(r._mapping) for r in db.session.execute(select(ReminderStep.__table__))]
    yield
    with app.app_context():
        db.session.rollback()
        db.session.execute(delete(ReminderStep))
        db.session.execute(insert(ReminderStep.__table__), kept)
        db.session.commit()


def step_form(**over):
    return {"position": "4", "days": "45", "subject": "Last call: {overdue}", "body": "Dear {name}, {overdue}.",
            "sms_body": "", "attach_statement": "1", "active": "1", **over}


# --- the steps ---------------------------------------------------------------------------------

def test_admin_sees_the_steps_and_finance_reads_them_without_buttons(app, login):
    page = text(login("admin").get("/reminder-steps/"))
    assert 'id="steps-table"' in page and "Payment reminder: {overdue} overdue" in page
    assert "7 overdue" in page and "30 overdue" in page and 'id="add-step"' in page and "edit-step" in page
    read = login("finance").get("/reminder-steps/")
    assert read.status_code == 200 and "Final reminder" in text(read)
    assert 'id="add-step"' not in text(read) and "edit-step" not in text(read)
    assert login("finance").get("/reminder-steps/add").status_code == 403


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_the_other_roles_may_not_open_the_steps(app, login, username):
    browser = login(username)
    assert browser.get("/reminder-steps/").status_code == 403
    assert browser.post("/reminder-steps/add", step_form(form_key=key())).status_code == 403


def test_admin_adds_edits_deactivates_and_deletes_a_step_audited(app, login, kept_steps):
    admin = login("admin")
    form = text(admin.get("/reminder-steps/add"))
    assert 'value="4"' in form and "{days_overdue}" in form  # the next position, the placeholders listed
    page = landed(admin, admin.post("/reminder-steps/add", step_form(form_key=keys(form)[0])))
    assert "Step 4 added." in page and "Last call: {overdue}" in page and "45 overdue" in page
    with app.app_context():
        step = db.session.scalars(select(ReminderStep).where(ReminderStep.position == 4)).one()
        assert (step.days, step.attach_statement, step.active, step.sms_body) == (45, True, True, None)
        step_id = step.id
    edit = f"/reminder-steps/{step_id}/edit"
    page = landed(admin, admin.post(edit, step_form(days="-3", active="", form_key=keys(text(admin.get(edit)))[0])))
    assert "Step 4 saved: days, active changed." in page and "3 before due" in page and "Inactive" in page
    with app.app_context():
        assert [s.position for s in reminders.steps(db.session)] == [1, 2, 3]  # inactive: never sent
        logged = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "reminder_step")
                                    .order_by(AuditEntry.id)).all()
        assert [e.action for e in logged] == ["create", "update"]
    listing = text(admin.get("/reminder-steps/"))
    page = landed(admin, admin.post(f"/reminder-steps/{step_id}/delete", {"form_key": keys(listing)[0]}))
    assert "Step 4 deleted" in page and "Last call" not in page
    with app.app_context():
        assert db.session.get(ReminderStep, step_id) is None


@pytest.mark.parametrize("over, field, said", [
    ({"days": "400"}, "days", "Days must be from -60"),
    ({"days": "soon"}, "days", "Days must be a whole number."),
    ({"position": "1"}, "position", "Another step is at position 1"),
    ({"subject": ""}, "subject", "Subject is required."),
    ({"body": " "}, "body", "E-mail is required."),
    ({"body": "Dear {name}, pay {amount_due}."}, "body", "Unknown placeholder {amount_due}. Known: {title}"),
    ({"sms_body": "{__class__}"}, "sms_body", "Unknown placeholder {__class__}"),
    ({"subject": "{overdue!r}"}, "subject", "without a format"),
])
def test_a_bad_step_is_refused_next_to_its_field_and_nothing_is_written(app, login, kept_steps, over, field,
                                                                        said):
    admin = login("admin")
    response = admin.post("/reminder-steps/add", step_form(form_key=keys(text(admin.get("/reminder-steps/add")))[0],
                                                           **over))
    assert response.status_code == 422
    page = text(response)
    group = page[page.index(f'id="group-{field}"'):]
    group = group[:group.index('</div>\n      </div>') if '</div>\n      </div>' in group else 2000]
    assert "has-error" in page and said in group
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReminderStep)) == 3


def test_a_step_form_sent_twice_adds_one_step(app, login, kept_steps):
    admin = login("admin")
    form_key = keys(text(admin.get("/reminder-steps/add")))[0]
    assert admin.post("/reminder-steps/add", step_form(form_key=form_key)).status_code == 302
    again = admin.post("/reminder-steps/add", step_form(form_key=form_key, position="5"), follow_redirects=True)
    assert "already sent" in text(again)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReminderStep)) == 4


def test_the_reminder_minimum_is_set_on_company_settings(app, login):
    admin = login("admin")
    page = text(admin.form("/company/", {"reminder_minimum": "25"}, follow_redirects=True))
    assert "reminder minimum changed" in page
    with app.app_context():
        assert db.session.get(CompanySettings, 1).reminder_minimum == Decimal("25")
    assert "£25.00" in text(admin.get("/reminder-steps/"))
    bad = admin.form("/company/", {"reminder_minimum": "-1"})
    assert bad.status_code in (200, 422) and "The reminder minimum cannot be below zero." in text(bad)


# --- Overdue, not reminded ---------------------------------------------------------------------

@pytest.mark.parametrize("username", ["admin", "finance", "staff", "readonly"])
def test_who_sees_money_reads_the_overdue_list_and_who_posts_it_sends(app, login, username):
    ada, _ = overdue_customer(app, "Ada")
    page = text(login(username).get("/overdue-not-reminded/"))
    row = page[page.index(f'data-customer="{ada}"'):]
    row = row[:row.index("</tr>")]
    assert "Ada Payer" in row and "£120.00" in row and "Reminders manual" in row
    assert f"/customers/show/{ada}" in row or f"/{ada}" in row
    assert ("send-reminder" in row) == (username in ("admin", "finance"))


def test_a_reseller_sees_only_its_customers_and_may_not_send(app, login):
    ours, _ = overdue_customer(app, "Ours", reseller="Reseller A")
    theirs, _ = overdue_customer(app, "Theirs", reseller="Reseller B")
    browser = login("reseller_a")
    page = text(browser.get("/overdue-not-reminded/"))
    assert "Ours Payer" in page and "Theirs Payer" not in page and "send-reminder" not in page
    assert browser.post(f"/overdue-not-reminded/send/{ours}", {"form_key": key()}).status_code == 403
    # Finance may send, but another reseller's user's scope is not Finance's business: Finance sees all.
    assert login("finance").post(f"/overdue-not-reminded/send/{theirs}", {"form_key": key()}).status_code == 302


def test_send_reminder_sends_once_per_form_key_and_names_the_customer(app, login):
    ada, _ = overdue_customer(app, "Ada", mode="off")
    with app.app_context():  # 8 days overdue: step 1 is due
        db.session.execute(update(Invoice).where(Invoice.customer_id == ada)
                           .values(due_date=date.today() - timedelta(days=8)))
        db.session.commit()
    browser = login("finance")
    page = text(browser.get("/overdue-not-reminded/"))
    form_key = keys(page[page.index(f'data-customer="{ada}"'):])[0]
    done = landed(browser, browser.post(f"/overdue-not-reminded/send/{ada}", {"form_key": form_key}))
    assert "Reminder step 1 sent to Ada Payer (£120.00 overdue)." in done
    # The same form again would send the next step were its key not spent: it sends nothing.
    again = landed(browser, browser.post(f"/overdue-not-reminded/send/{ada}", {"form_key": form_key}))
    assert "This reminder was already sent." in again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaymentReminder)) == 1
    for step in (2, 3):  # a new form each time: the next step, by hand
        assert f"Reminder step {step} sent" in landed(browser, browser.post(f"/overdue-not-reminded/send/{ada}",
                                                                             {"form_key": key()}))
    refused = landed(browser, browser.post(f"/overdue-not-reminded/send/{ada}", {"form_key": key()}))
    assert "Ada Payer: Every reminder step of this overdue episode was sent." in refused


def test_a_refused_send_says_why(app, login):
    ada, _ = overdue_customer(app, "Ada", service_email=False)
    admin = login("admin")
    page = landed(admin, admin.post(f"/overdue-not-reminded/send/{ada}", {"form_key": key()}))
    assert "Ada Payer: No reminder can go: opted out" in page
    assert admin.post("/overdue-not-reminded/send/999999", {"form_key": key()}).status_code == 404


def test_a_dormant_customers_row_sends_despite_its_status_once_confirmed_and_the_reminder_goes(app, login):
    ada, _ = overdue_customer(app, "Ada", mode="automatic")
    with app.app_context():
        db.session.execute(update(Customer).where(Customer.id == ada).values(status="dormant"))
        db.session.commit()
    browser = login("finance")
    page = text(browser.get("/overdue-not-reminded/"))
    row = page[page.index(f'data-customer="{ada}"'):]
    row = row[:row.index("</tr>")]
    assert "Dormant" in row and "Send despite dormant" in row and 'name="despite_status" value="1"' in row
    assert 'data-confirm="Ada Payer is dormant: automatic reminders skip this customer. Send a reminder anyway, ' \
           'despite its status?"' in row
    # Posted without the confirmation (an old page, a crafted form): refused, nothing written.
    refused = landed(browser, browser.post(f"/overdue-not-reminded/send/{ada}", {"form_key": key()}))
    assert "Ada Payer: The customer is dormant: a reminder goes only if you confirm" in refused
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PaymentReminder)
                                 .where(PaymentReminder.customer_id == ada)) == 0
    done = landed(browser, browser.post(f"/overdue-not-reminded/send/{ada}",
                                        {"form_key": keys(row)[0], "despite_status": "1"}))
    assert "Reminder step 3 sent to Ada Payer (£120.00 overdue), despite its status (dormant)." in done
    with app.app_context():
        from app.models import Message
        message = db.session.scalars(select(Message).where(Message.customer_id == ada, Message.channel == "email")).one()
        assert (message.status, message.sent_despite_status, message.skip_reason) == ("sent", True, None)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.customer_id == ada,
                                                             AuditEntry.entity == "payment_reminder")).one()
        assert entry.username == "finance" and entry.changes["despite_status"] == [None, "dormant"]
    history_page = text(browser.get(f"/customers/show/{ada}?tab=changes"))
    assert "Sent despite status" in history_page


@pytest.mark.parametrize("username", ["staff", "readonly"])
def test_who_only_reads_money_may_not_send_or_move(app, login, username):
    ada, _ = overdue_customer(app)
    browser = login(username)
    assert browser.post(f"/overdue-not-reminded/send/{ada}", {"form_key": key()}).status_code == 403
    assert browser.post(f"/overdue-not-reminded/next/{ada}", {"form_key": key(),
                                                              "next_reminder_on": "2099-01-01"}).status_code == 403


def test_the_overdue_list_is_paged_with_more(app, login, monkeypatch):
    from app.views import reminders as reminder_views
    monkeypatch.setattr(reminder_views, "PAGE", 2)
    ids = [overdue_customer(app, name)[0] for name in ("Ann", "Bob", "Cat")]
    browser = login("finance")
    first = text(browser.get("/overdue-not-reminded/"))
    assert "Ann Payer" in first and "Bob Payer" in first and "Cat Payer" not in first
    more = re.search(r'id="more" href="([^"]+)"', first).group(1)
    assert f"after={ids[1]}" in more
    second = text(browser.get(more))
    assert "Cat Payer" in second and "Ann Payer" not in second and 'id="more"' not in second
    assert 'id="first-page"' in second


# --- the customer's Finances tab -------------------------------------------------------------

def test_the_finances_tab_shows_the_reminders_and_moves_the_next(app, login):
    ada, _ = overdue_customer(app, "Ada", mode="automatic")
    with app.app_context():
        reminders.run(db.session, OLD + timedelta(days=8), current_app.config)
    browser = login("finance")
    url = f"/customers/show/{ada}?tab=finances"
    page = text(browser.get(url))
    panel = page[page.index('id="payment-reminders"'):page.index('id="finance-tabs"')]
    sent_on = (OLD + timedelta(days=8)).strftime("%d %b %Y")
    assert "Automatic" in panel and f"step 1 sent on {sent_on}" in panel and 'id="move-next-form"' in panel
    on = (date.today() + timedelta(days=10)).isoformat()
    done = landed(browser, browser.post(f"/overdue-not-reminded/next/{ada}?next=/customers/show/{ada}?tab=finances",
                                        {"form_key": keys(panel)[0], "next_reminder_on": on}))
    assert "The next payment reminder to Ada Payer is on" in done and "(moved)" in done
    with app.app_context():
        state = db.session.get(ReminderState, ada)
        assert (state.next_reminder_on.isoformat(), state.next_moved) == (on, True)
    past = landed(browser, browser.post(f"/overdue-not-reminded/next/{ada}", {
        "form_key": keys(text(browser.get(url)))[0], "next_reminder_on": "2000-01-01"}))
    assert "The next reminder cannot be in the past." in past
    read = text(login("readonly").get(url))
    assert 'id="payment-reminders"' in read and 'id="move-next-form"' not in read
    changes = text(browser.get(f"/customers/show/{ada}?tab=changes"))
    assert "payment reminder" in changes.lower() and "Next reminder" in changes


def test_another_resellers_customer_is_not_found_and_its_reminders_not_shown(app, login):
    theirs, _ = overdue_customer(app, "Theirs", reseller="Reseller B")
    ours, _ = overdue_customer(app, "Ours", reseller="Reseller A")
    browser = login("reseller_a")
    assert browser.get(f"/customers/show/{theirs}?tab=finances").status_code == 404
    page = text(browser.get(f"/customers/show/{ours}?tab=finances"))
    assert 'id="payment-reminders"' in page and "Reminders manual" not in page and 'id="move-next-form"' not in page


# --- the invoice's Disputed flag -------------------------------------------------------------

def test_a_disputed_invoice_is_left_out_of_the_run_and_resumed(app, login):
    ada, invoice_id = overdue_customer(app, "Ada", mode="automatic")
    browser = login("finance")
    page = text(browser.get(f"/invoices/show/{invoice_id}"))
    assert 'id="not-disputed"' in page and "Disputed: pause reminders" in page
    form_key = re.search(r'id="dispute-form">\s*<input[^>]+>\s*<input type="hidden" name="form_key" value="([^"]+)"',
                         page).group(1)
    page = landed(browser, browser.post(f"/invoices/{invoice_id}/dispute", {"form_key": form_key, "disputed": "1"}))
    assert "is disputed: it is left out of payment reminders" in page and "Disputed: reminders paused" in page
    with app.app_context():
        counts = reminders.run(db.session, date.today(), current_app.config)
        assert counts["reminded"] == 0 and db.session.get(ReminderState, ada) is None
        assert db.session.scalar(select(AuditEntry.changes).where(AuditEntry.entity == "invoice",
                                                                  AuditEntry.action == "update")
                                 .order_by(AuditEntry.id.desc()).limit(1))["disputed"] == [False, True]
    changes = text(browser.get(f"/customers/show/{ada}?tab=changes"))
    assert "Disputed (reminders paused)" in changes
    page = text(browser.get(f"/invoices/show/{invoice_id}"))
    form_key = re.search(r'id="dispute-form">\s*<input[^>]+>\s*<input type="hidden" name="form_key" value="([^"]+)"',
                         page).group(1)
    page = landed(browser, browser.post(f"/invoices/{invoice_id}/dispute", {"form_key": form_key, "disputed": ""}))
    assert "no longer disputed" in page
    with app.app_context():
        assert reminders.run(db.session, date.today(), current_app.config)["reminded"] == 1


@pytest.mark.parametrize("username", ["staff", "readonly", "reseller_a"])
def test_only_who_posts_money_marks_an_invoice_disputed(app, login, username):
    _, invoice_id = overdue_customer(app, "Ada", reseller="Reseller A")
    browser = login(username)
    assert "dispute-form" not in text(browser.get(f"/invoices/show/{invoice_id}"))
    assert browser.post(f"/invoices/{invoice_id}/dispute", {"form_key": key(), "disputed": "1"}).status_code == 403
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).disputed is False


def test_a_draft_or_another_resellers_invoice_cannot_be_disputed(app, login):
    ada, _ = overdue_customer(app, "Ada")
    _, theirs = overdue_customer(app, "Theirs", reseller="Reseller B")
    with app.app_context():
        draft = invoices.create_draft(db.session, f.user("finance"), ada, {
            "issue_date": OLD.isoformat(), "lines": [{"description": "Work", "quantity": 1, "unit_price": "5"}]},
            key()).id
    finance = login("finance")
    page = landed(finance, finance.post(f"/invoices/{draft}/dispute", {"form_key": key(), "disputed": "1"}))
    assert "Only an issued or part-paid invoice can be disputed." in page
    assert login("reseller_a").get(f"/invoices/show/{theirs}").status_code == 404
    with app.app_context():
        assert db.session.get(Invoice, draft).disputed is False


def test_history_reads_the_reminders_in_words(app):
    assert history.noun("payment_reminder") == "payment reminder"
    assert history.label({}, "reminder_state", "next_reminder_on") == "Next reminder"
    assert history.label({}, "invoice", "disputed") == "Disputed (reminders paused)"
