"""A customer's Allocate cash screen over HTTP: a new payment over three invoices (one part paid, the excess
account credit), an existing credit picked, errors next to their rows with nothing written (above the
outstanding, below zero, a write-off without its reason; another reseller's invoice forged in and an invoice
paid meanwhile, not rows of the table, said above it), a double submit recorded once, the changed-meanwhile
message with its Reload link, un-allocating one allocation, read-only roles, 404 across resellers and the
oldest-first JSON."""
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Allocation, Invoice, Payment, PaymentMethod, TaxRate
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
        str(uuid.uuid4()), issue_now=True).id


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


@pytest.fixture
def ada(app):
    """A customer with three open invoices (£50, £40, £30: oldest first) -> (customer id, invoice ids)."""
    with app.app_context():
        customer = f.customer(first_name="Ada", surname="Lovelace")
        ids = [issued(customer.id, "50.00", 30), issued(customer.id, "40.00", 20), issued(customer.id, "30.00", 10)]
        return customer.id, ids


def screen(browser, pk, status=200) -> str:
    page = browser.get(f"/cash-allocation/{pk}")
    assert page.status_code == status
    return unescape(page.get_data(as_text=True))


def form_key(page: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', page).group(1)


def form(ids, amounts, key, **fields) -> dict:
    """The screen's form: one row per open invoice (oldest first), an amount where given."""
    data = {"form_key": key, "row_count": str(len(ids)), "source": "new", "received_on": TODAY.isoformat(),
            "method_id": str(cash()), "reference": "BACS 42", "amount": "", "allocated_on": "", **fields}
    with db.session.no_autoflush:
        for i, invoice_id in enumerate(ids):
            data[f"rows.{i}.invoice_id"] = str(invoice_id)
            data[f"rows.{i}.seen_outstanding"] = str(db.session.get(Invoice, invoice_id).outstanding)
            data[f"rows.{i}.amount"] = amounts[i] if i < len(amounts) else ""
    return data


def save(app, browser, pk, ids, amounts, **fields):
    with app.app_context():
        data = form(ids, amounts, fields.pop("key", None) or form_key(screen(browser, pk)), **fields)
    return browser.post(f"/cash-allocation/{pk}/save", data)


def landed(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    return unescape(browser.get(response.headers["Location"]).get_data(as_text=True))


def outstanding(app, ids):
    with app.app_context():
        return [db.session.get(Invoice, i).outstanding for i in ids]


def allocations(app, pk):
    with app.app_context():
        return db.session.scalar(select(func.count(Allocation.id)).where(Allocation.customer_id == pk))


def credit(app, pk):
    with app.app_context():
        return db.session.scalar(select(func.coalesce(func.sum(Payment.unallocated), 0))
                                 .where(Payment.customer_id == pk))


@pytest.mark.parametrize("username", ["admin", "finance"])
def test_a_payment_over_three_invoices_one_part_paid_and_the_excess_is_credit(app, login, ada, username):
    pk, ids = ada
    browser = login(username)
    page = screen(browser, pk)
    assert 'id="allocation-form"' in page and "Allocate oldest first" in page and "becomes account credit" not in page
    assert [m for m in re.findall(r'name="rows\.(\d)\.invoice_id" value="(\d+)"', page)] == \
        [("0", str(ids[0])), ("1", str(ids[1])), ("2", str(ids[2]))]
    page = landed(browser, save(app, browser, pk, ids, ["50.00", "40.00", "10.00"], amount="110.00"))
    assert "£100.00 allocated to 3 invoices; £10.00 becomes account credit" in page
    assert outstanding(app, ids) == [D("0.00"), D("0.00"), D("20.00")]
    assert credit(app, pk) == D("10.00")
    with app.app_context():
        assert db.session.get(Invoice, ids[2]).status == "part_paid"
    assert page.count('class="allocation') == 3 and page.count("Un-allocate") == 3
    assert "£10.00 unallocated" in page  # the new payment's excess is one of the credits now


def test_existing_credit_is_picked_and_allocated(app, login, ada):
    pk, ids = ada
    with app.app_context():
        source = payments.record_external(db.session, f.user("finance"), pk, {"amount": "45.00", "method_id": cash()},
                                          str(uuid.uuid4())).id
    browser = login("finance")
    page = screen(browser, pk)
    assert f'name="source" value="{source}"' in page and "External payment" in page
    response = save(app, browser, pk, ids, ["45.00"], source=str(source), method_id="", reference="",
                    **{f"seen_unallocated.{source}": "45.00"})
    assert "£45.00 allocated to 1 invoice" in landed(browser, response)
    assert outstanding(app, ids) == [D("5.00"), D("40.00"), D("30.00")] and credit(app, pk) == D("0.00")
    assert f'source={source}' not in screen(browser, pk)  # nothing left of it to allocate


@pytest.mark.parametrize("amounts, field, said", [
    (["60.00"], "rows.0.amount", "Only £50.00 of invoice"),
    (["", "-5.00"], "rows.1.amount", "cannot be below zero"),
])
def test_a_refused_row_is_said_next_to_it_and_nothing_is_written(app, login, ada, amounts, field, said):
    pk, ids = ada
    browser = login("finance")
    response = save(app, browser, pk, ids, amounts, amount="100.00")
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    row = page[page.index(f'name="{field}"'):]
    assert said in row[:row.index("</td>")]
    assert f'value="{amounts[-1]}"' in page and 'value="100.00"' in page  # what was typed stays
    assert allocations(app, pk) == 0 and credit(app, pk) == 0
    assert outstanding(app, ids) == [D("50.00"), D("40.00"), D("30.00")]


def test_another_resellers_invoice_forged_into_the_form_is_refused_on_its_row(app, login, ada):
    pk, ids = ada
    with app.app_context():
        other = f.customer(reseller_id=f.reseller_id("Reseller B"))
        theirs = issued(other.id, "20.00", 5)
        data = form(ids, ["10.00", "", ""], form_key(screen(login("finance"), pk)), amount="30.00")
    browser = login("finance")
    data = {**data, "form_key": form_key(screen(browser, pk)), "rows.1.invoice_id": str(theirs),
            "rows.1.amount": "20.00"}
    response = browser.post(f"/cash-allocation/{pk}/save", data)
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    said = page[page.index('data-field="rows"'):]  # not a row of the table: said above it
    assert "No such open invoice of this customer." in said[:said.index("</div>")]
    assert page.count("No such open invoice") == 1
    assert allocations(app, pk) == 0 and outstanding(app, [theirs]) == [D("20.00")]


def test_a_double_submit_is_recorded_once(app, login, ada):
    pk, ids = ada
    browser = login("finance")
    key = form_key(screen(browser, pk))
    first = save(app, browser, pk, ids, ["50.00"], amount="50.00", key=key)
    again = landed(browser, save(app, browser, pk, ids, ["50.00"], amount="50.00", key=key))
    assert first.status_code == 302 and "already recorded" in again
    assert allocations(app, pk) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id)).where(Payment.customer_id == pk)) == 1


def test_a_row_changed_meanwhile_saves_nothing_and_offers_to_reload(app, login, ada):
    pk, ids = ada
    browser = login("finance")
    with app.app_context():
        data = form(ids, ["50.00", "40.00"], form_key(screen(browser, pk)), amount="90.00")
        invoice = db.session.get(Invoice, ids[1])
        payments.record_payment(db.session, f.user("admin"), ids[1], {
            "amount": "15.00", "method_id": cash(), "seen_outstanding": str(invoice.outstanding)}, str(uuid.uuid4()))
    response = browser.post(f"/cash-allocation/{pk}/save", data)
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    warning = page[page.index('id="changed-meanwhile"'):]
    warning = warning[:warning.index("</div>")]
    assert "Another user changed 1 row meanwhile: nothing was saved." in warning
    assert "has £25.00 outstanding now" in warning and 'id="reload"' in warning
    assert allocations(app, pk) == 1 and outstanding(app, ids) == [D("50.00"), D("25.00"), D("30.00")]
    assert 'name="rows.1.seen_outstanding" value="25.00' in page  # the figures are fresh for the retry


def test_unallocating_one_allocation_names_its_invoice_and_amount(app, login, ada):
    pk, ids = ada
    browser = login("finance")
    landed(browser, save(app, browser, pk, ids, ["50.00", "40.00"], amount="90.00"))
    with app.app_context():
        second = db.session.scalar(select(Allocation.id).where(Allocation.invoice_id == ids[1]))
        number = db.session.get(Invoice, ids[1]).number
    page = screen(browser, pk)
    response = browser.post(f"/cash-allocation/{pk}/unallocate/{second}", {"form_key": form_key(page)})
    page = landed(browser, response)
    assert f"£40.00 un-allocated from invoice {number}: it has £40.00 outstanding again" in page
    assert outstanding(app, ids) == [D("0.00"), D("40.00"), D("30.00")] and credit(app, pk) == D("40.00")
    assert page.count("Un-allocate") == 1 and "(un-allocated)" in page and "(un-allocation)" in page
    again = browser.post(f"/cash-allocation/{pk}/unallocate/{second}", {"form_key": form_key(page)})
    assert "already reversed" in landed(browser, again) and allocations(app, pk) == 3


@pytest.mark.parametrize("username", ["staff", "readonly"])
def test_roles_that_see_money_read_the_screen_without_forms(app, login, ada, username):
    pk, ids = ada
    with app.app_context():
        payments.record_external(db.session, f.user("finance"), pk, {"amount": "5.00", "method_id": cash()},
                                 str(uuid.uuid4()))
    browser = login(username)
    page = screen(browser, pk)
    assert "Ada Lovelace" in page and "£5.00 unallocated" in page and "£50.00" in page
    for part in ("allocation-form", "oldest-first", "rows.0.amount", "Un-allocate", "save-allocation"):
        assert part not in page
    key = str(uuid.uuid4())
    with app.app_context():
        data = form(ids, ["50.00"], key, amount="50.00")
    assert browser.post(f"/cash-allocation/{pk}/save", data).status_code == 403
    assert browser.get(f"/cash-allocation/{pk}/oldest-first?amount=10").status_code == 403
    assert allocations(app, pk) == 0


def test_another_resellers_customer_is_404_and_the_finances_tab_links_the_screen(app, login, ada):
    pk, ids = ada
    with app.app_context():
        theirs = f.customer(reseller_id=f.reseller_id("Reseller B")).id
        mine = f.customer(reseller_id=f.reseller_id("Reseller A")).id
    browser = login("reseller_a")
    assert browser.get(f"/cash-allocation/{theirs}").status_code == 404
    assert browser.get(f"/cash-allocation/{mine}").status_code == 200
    finance = login("finance")
    tab = finance.get(f"/customers/show/{pk}?tab=finances").get_data(as_text=True)
    assert f'href="/cash-allocation/{pk}"' in tab
    with app.app_context():
        payments.record_external(db.session, f.user("finance"), pk, {"amount": "5.00", "method_id": cash()},
                                 str(uuid.uuid4()))
    credits = finance.get(f"/customers/show/{pk}?tab=finances&sub=credits").get_data(as_text=True)
    assert f"/cash-allocation/{pk}?source=" in credits


def test_oldest_first_answers_the_rows_and_the_excess(app, login, ada):
    pk, ids = ada
    browser = login("finance")
    answer = browser.get(f"/cash-allocation/{pk}/oldest-first?amount=100.00")
    assert answer.status_code == 200
    assert answer.json == {"rows": {str(ids[0]): "50.00", str(ids[1]): "40.00", str(ids[2]): "10.00"},
                           "excess": "0.00"}
    assert browser.get(f"/cash-allocation/{pk}/oldest-first?amount=130").json["excess"] == "10.00"
    assert browser.get(f"/cash-allocation/{pk}/oldest-first?amount=-1").status_code == 422
    with app.app_context():
        theirs = f.customer(reseller_id=f.reseller_id("Reseller B")).id
    assert login("reseller_a").get(f"/cash-allocation/{theirs}/oldest-first?amount=1").status_code in (403, 404)


def test_finance_writes_off_a_small_rest_with_a_reason_said_next_to_the_row(app, login, ada):
    pk, ids = ada
    browser = login("finance")
    page = screen(browser, pk)
    assert 'name="rows.2.write_off"' in page and "at most £5.00" in page
    refused = save(app, browser, pk, ids, ["", "", "28.00"], amount="28.00", **{"rows.2.write_off": "1"})
    assert refused.status_code == 422 and allocations(app, pk) == 0
    page = unescape(refused.get_data(as_text=True))
    row = page[page.index('name="rows.2.reason"'):]
    assert "Reason" in row[:row.index("</td>")] and "field-error" in row[:row.index("</td>")]
    done = save(app, browser, pk, ids, ["", "", "28.00"], amount="28.00",
                **{"rows.2.write_off": "1", "rows.2.reason": "Rounding"})
    assert "£28.00 allocated to 1 invoice; £2.00 written off" in landed(browser, done)
    assert outstanding(app, ids)[2] == D("0.00")


def test_a_row_paid_in_full_meanwhile_leaves_the_table_and_is_said_on_top(app, login, ada):
    pk, ids = ada
    browser = login("finance")
    with app.app_context():
        data = form(ids, ["50.00", "10.00"], form_key(screen(browser, pk)), amount="60.00")
        number = db.session.get(Invoice, ids[0]).number
        payments.record_payment(db.session, f.user("admin"), ids[0], {
            "amount": "50.00", "method_id": cash(), "seen_outstanding": "50.00"}, str(uuid.uuid4()))
    response = browser.post(f"/cash-allocation/{pk}/save", data)
    assert response.status_code == 422
    page = unescape(response.get_data(as_text=True))
    said = page[page.index('data-field="rows"'):]
    assert f"Invoice {number} is paid: nothing can be paid on it." in said[:said.index("</div>")]
    assert 'name="rows.0.amount"' in page and 'name="rows.2.amount"' not in page  # two open invoices left
    assert 'value="10.00"' in page  # what was typed for the second invoice stays on its row
    assert allocations(app, pk) == 1 and outstanding(app, ids) == [D("0.00"), D("40.00"), D("30.00")]


def test_recent_allocations_page_down_by_twenty_and_back(app, login, ada):
    pk, ids = ada
    with app.app_context():
        cash_id, admin = cash(), f.user("admin")
        for n in range(25):  # 25 payments of 1.00 on the oldest invoice: allocations 1..25
            payments.record_payment(db.session, admin, ids[0], {"amount": "1.00", "method_id": cash_id,
                                                                "reference": f"P{n:02}"}, str(uuid.uuid4()))
    browser = login("readonly")
    page = screen(browser, pk)
    assert page.count('class="allocation') == 20 and "P24" in page and "P04" not in page
    older = re.search(r'href="([^"]+)" id="older-allocations"', page).group(1)
    assert 'id="newest-allocations"' not in page
    down = unescape(browser.get(older).get_data(as_text=True))
    assert down.count('class="allocation') == 5 and "P04" in down and "P00" in down and "P05" not in down
    assert 'id="older-allocations"' not in down and 'id="newest-allocations"' in down and "Older allocations" in down
    assert browser.get(f"/cash-allocation/{pk}?older_than=<script>").status_code == 200  # not an id: the newest
