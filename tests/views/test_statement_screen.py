"""A customer's Statement screen over HTTP: outstanding as at a date (the default) and activity for a
period, their errors said on the form, Print (inline) and Download (a file) of the same statement,
E-mail to one of the customer's addresses with the invoices ticked attached (once per form; only
invoices it lists); who sees money reads and prints, who posts money e-mails; another reseller's
customer is 404."""
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Message, MessageAttachment, PaymentMethod, TaxRate
from app.services.billing import invoices, payments
from tests import factories as f

D = Decimal
TODAY = date.today()


def issued(customer_id, amount, days_ago):
    day = TODAY - timedelta(days=days_ago)
    rate = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    return invoices.create_draft(db.session, f.user("admin"), customer_id, {
        "issue_date": day.isoformat(), "due_date": day.isoformat(),
        "lines": [{"description": "Work", "quantity": 1, "unit_price": amount, "tax_rate_id": rate}]},
        str(uuid.uuid4()), issue_now=True)


@pytest.fixture
def ada(app):
    """A customer with an e-mail address, invoices of £50 (45 days old, £20 paid) and £30 (10 days old)
    -> (customer id, [invoice numbers])."""
    with app.app_context():
        customer = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com")
        old, new = issued(customer.id, "50.00", 45), issued(customer.id, "30.00", 10)
        cash = db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
        payments.record_payment(db.session, f.user("finance"), old.id, {"amount": "20.00", "method_id": cash,
                                                                       "reference": "<script>x</script>"},
                                str(uuid.uuid4()))
        return customer.id, [old.number, new.number]


def text(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("\xa0", " ").split())


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def test_the_outstanding_statement_lists_what_is_owed_with_its_ageing(app, login, ada):
    pk, numbers = ada
    browser = login("finance")
    r = browser.get(f"/statements/{pk}")
    assert r.status_code == 200
    shown = text(r)
    assert numbers[0] in shown and numbers[1] in shown and "£30.00" in shown and "Balance owed: £60.00" in shown
    assert "31-60 days" in shown and 'id="statement-email"' in r.get_data(as_text=True)
    page = r.get_data(as_text=True)
    assert "Finances" in shown and f"/statements/{pk}/pdf?kind=outstanding" in page.replace("&amp;", "&")


def test_an_earlier_date_and_an_activity_period_are_statements_of_their_own(app, login, ada):
    pk, numbers = ada
    browser = login("finance")
    before = (TODAY - timedelta(days=20)).isoformat()
    shown = text(browser.get(f"/statements/{pk}?kind=outstanding&as_at={before}"))
    assert numbers[0] in shown and numbers[1] not in shown  # the newer invoice was not issued yet
    start, end = (TODAY - timedelta(days=60)).isoformat(), TODAY.isoformat()
    shown = text(browser.get(f"/statements/{pk}?kind=activity&start={start}&end={end}"))
    assert "Balance brought forward" in shown and "<script>x</script>" in shown and "£60.00" in shown


@pytest.mark.parametrize("query, field", [("kind=weekly", "kind"), ("as_at=yesterday", "as_at"),
                                          ("kind=activity&start=2026-05-02&end=2026-05-01", "start")])
def test_a_wrong_form_is_said_on_it(app, login, ada, query, field):
    pk, _ = ada
    r = login("finance").get(f"/statements/{pk}?{query}")
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True) and 'id="statement-panel"' not in \
        r.get_data(as_text=True)


def test_print_shows_the_pdf_and_download_saves_it(app, login, ada):
    pk, _ = ada
    browser = login("readonly")
    shown = browser.get(f"/statements/{pk}")
    assert shown.status_code == 200 and 'id="statement-email"' not in shown.get_data(as_text=True)
    r = browser.get(f"/statements/{pk}/pdf?kind=outstanding&as_at={TODAY.isoformat()}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF") and r.headers["Content-Disposition"].startswith("inline")
    r = browser.get(f"/statements/{pk}/pdf?kind=outstanding&download=1")
    assert r.headers["Content-Disposition"].startswith("attachment") and r.data.startswith(b"%PDF")
    assert browser.get(f"/statements/{pk}/email").status_code == 403


def test_another_resellers_customer_is_404(app, login):
    with app.app_context():
        theirs = f.customer(actor="reseller_b").id
    browser = login("reseller_a")
    for url in (f"/statements/{theirs}", f"/statements/{theirs}/pdf", f"/statements/999999999"):
        assert browser.get(url).status_code == 404, url


def test_the_statement_is_e_mailed_once_with_the_invoices_ticked(app, login, ada):
    pk, numbers = ada
    browser = login("finance")
    page = browser.get(f"/statements/{pk}/email?kind=outstanding").get_data(as_text=True)
    assert "The balance owed is £60.00" in unescape(page).replace("\xa0", " ") and page.count('class="attach-invoice"') == 2
    ids = re.findall(r'name="invoice_ids" value="(\d+)"', page)
    data = {"form_key": form_key(page), "to": "ada@example.com", "subject": "Your statement",
            "body": "Hello", "invoice_ids": [ids[0]]}
    r = browser.post(f"/statements/{pk}/email?kind=outstanding", data)
    assert r.status_code == 302 and f"/statements/{pk}" in r.headers["Location"]
    again = browser.post(f"/statements/{pk}/email?kind=outstanding", data)
    assert again.status_code == 302
    with app.app_context():
        sent = db.session.scalars(select(Message).where(Message.customer_id == pk)).all()
        assert len(sent) == 1 and sent[0].recipient == "ada@example.com"
        names = db.session.scalars(select(MessageAttachment.filename).where(MessageAttachment.message_id == sent[0].id)
                                   .order_by(MessageAttachment.id)).all()
        assert names[0].startswith("statement-") and names[1] == f"invoice-{numbers[0]}.pdf" and len(names) == 2


def test_only_invoices_the_statement_lists_may_go_with_it(app, login, ada):
    pk, _ = ada
    with app.app_context():
        other = f.customer(email="bob@example.com")
        stranger = issued(other.id, "10.00", 1).id
    browser = login("finance")
    page = browser.get(f"/statements/{pk}/email").get_data(as_text=True)
    r = browser.post(f"/statements/{pk}/email", {"form_key": form_key(page), "to": "ada@example.com",
                                                  "subject": "S", "body": "B", "invoice_ids": [str(stranger)]})
    assert r.status_code == 422 and "Attach only invoices this statement lists." in r.get_data(as_text=True)
    r = browser.post(f"/statements/{pk}/email", {"form_key": form_key(page), "to": "mallory@example.com",
                                                  "subject": "S", "body": "B"})
    assert r.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Message).where(Message.customer_id == pk)) == 0


def test_the_finances_tab_links_the_statement(app, login, ada):
    pk, _ = ada
    page = login("readonly").get(f"/customers/show/{pk}?tab=finances").get_data(as_text=True)
    assert f'id="statement-link" href="/statements/{pk}"' in page


@pytest.fixture
def grouped(app):
    """Ada (who groups her statements by contact) owes £40 herself and £150 on an invoice made out to her
    insurer (which has an e-mail address) -> (customer id, insurer id)."""
    from app.services.billing import invoice_addresses
    from app.models import Customer
    with app.app_context():
        customer = f.customer(first_name="Ada", surname="Grouped", email="ada.g@example.com")
        customer.group_statements_by_contact = True
        db.session.commit()
        insurer = invoice_addresses.add(db.session, f.user("admin"), {
            "name": "Acme Insurance", "contact_name": "Claims Dept", "line1": "1 Policy Road",
            "email": "claims@example.com"})
        issued(customer.id, "40.00", 20)
        invoice_addresses.choose_for_customer(db.session, f.user("admin"), customer.id, insurer.id)
        issued(customer.id, "150.00", 40)
        invoice_addresses.choose_for_customer(db.session, f.user("admin"), customer.id, None)
        assert db.session.get(Customer, customer.id).group_statements_by_contact
        return customer.id, insurer.id


def test_grouping_defaults_to_the_customers_setting_and_shows_each_contacts_statement(app, login, grouped):
    pk, insurer = grouped
    browser = login("finance")
    r = browser.get(f"/statements/{pk}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and '<option value="yes" selected>' in page
    assert page.count('class="panel panel-default statement-group"') == 2
    shown = text(r)
    assert shown.index("Ada Grouped · Outstanding") < shown.index("Acme Insurance (Claims Dept) · Outstanding")
    assert "Balance owed: £40.00" in shown and "Balance owed: £150.00" in shown
    links = unescape(page)
    assert f"/statements/{pk}/email?kind=outstanding&as_at={TODAY.isoformat()}&by_contact=yes&contact={insurer}" \
        in links and f"by_contact=yes&contact=customer" in links
    whole = text(browser.get(f"/statements/{pk}?by_contact=no"))
    assert "Balance owed: £190.00" in whole and "Acme Insurance (Claims Dept) ·" not in whole
    activity = text(browser.get(f"/statements/{pk}?kind=activity"))
    assert "An activity statement is not grouped by contact" in activity


def test_each_group_prints_alone_and_all_of_them_print_together(app, login, grouped):
    pk, insurer = grouped
    browser = login("readonly")
    one = browser.get(f"/statements/{pk}/pdf?by_contact=yes&contact={insurer}&download=1")
    assert one.status_code == 200 and one.data.startswith(b"%PDF")
    assert f'statement-{pk}-{insurer}-' in one.headers["Content-Disposition"]
    from app.services.billing.documents import page_count
    both = browser.get(f"/statements/{pk}/pdf?by_contact=yes")
    assert both.data.startswith(b"%PDF") and page_count(both.data) == 2  # each group from a page of its own
    assert page_count(browser.get(f"/statements/{pk}/pdf?by_contact=no").data) == 1
    for bad in ("999999", "nobody", ""):
        r = browser.get(f"/statements/{pk}/pdf?by_contact=yes&contact={bad}")
        assert r.status_code == (200 if bad == "" else 404), bad
    assert browser.get(f"/statements/{pk}?by_contact=maybe").status_code == 422
    assert browser.get(f"/statements/{pk}/email?by_contact=yes&contact={insurer}").status_code == 403


def test_another_customers_address_is_no_group_of_this_statement(app, login, grouped, ada):
    pk, insurer = grouped
    other, _ = ada
    browser = login("finance")
    assert browser.get(f"/statements/{other}/pdf?by_contact=yes&contact={insurer}").status_code == 404
    assert browser.get(f"/statements/{other}/email?by_contact=yes&contact={insurer}").status_code == 404
    assert login("reseller_a").get(f"/statements/{pk}?by_contact=yes&contact={insurer}").status_code == 404


def test_a_groups_e_mail_goes_to_its_address_first_with_its_own_amounts(app, login, grouped):
    pk, insurer = grouped
    browser = login("finance")
    url = f"/statements/{pk}/email?kind=outstanding&by_contact=yes&contact={insurer}"
    page = browser.get(url).get_data(as_text=True)
    options = re.findall(r'<option value="([^"]+)"', page)
    assert options[:2] == ["claims@example.com", "ada.g@example.com"]
    words = unescape(page).replace("\xa0", " ")
    assert "The balance owed is £150.00" in words and "for the account of Ada Grouped" in words
    assert page.count('class="attach-invoice"') == 1
    r = browser.post(url, {"form_key": form_key(page), "to": "claims@example.com", "subject": "Statement",
                           "body": "Hello"})
    assert r.status_code == 302 and "&contact=" not in r.headers["Location"]
    with app.app_context():
        (sent,) = db.session.scalars(select(Message).where(Message.customer_id == pk)).all()
        assert sent.recipient == "claims@example.com"
        name = db.session.scalar(select(MessageAttachment.filename).where(MessageAttachment.message_id == sent.id))
        assert name.startswith(f"statement-{pk}-{insurer}-")
    # With several groups and none named, the e-mail asks which.
    r = browser.get(f"/statements/{pk}/email?by_contact=yes")
    assert r.status_code == 302
