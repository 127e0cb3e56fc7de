"""A customer's cards over HTTP: the list, Add card (the number and CVC never shown back), Set default,
Remove, Charge a card (approved: a payment; declined: nothing), the Finances tab's Cards button, scope
(404) and who may see cards (403). And the issue's test: after a card sent through the form, once
with an error, the full number and the CVC are nowhere in the database nor in the log."""
import logging
import re
import uuid
from datetime import date
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import func, inspect, select, text

from app.extensions import db
from app.models import Customer, LedgerEntry, Payment, StoredCard
from app.services.billing import cards
from tests import factories as f

NUMBER, SPACED, CVC = "4242424242424242", "4242 4242 4242 4242", "9731"
NEXT_YEAR = str(date.today().year + 1)


def ALONE(digits):
    return re.compile(rf"(?<![0-9a-fA-F.:-]){digits}(?![0-9a-fA-F])")


def form_key(html: str) -> str:
    return re.search(r'name="form_key" value="([^"]+)"', html).group(1)


def post_form(browser, url, data):
    page = browser.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return browser.post(url, {"form_key": form_key(page.get_data(as_text=True)), **data})


@pytest.fixture
def processor():
    fake = cards.FakeProcessor()
    before, cards._processor = cards._processor, fake
    yield fake
    cards._processor = before


@pytest.fixture
def ada(app, resellers):
    with app.app_context():
        return f.customer(first_name="Ada", surname="Lovelace", reseller_id=resellers["Reseller A"]).id


def stored(app, customer_id):
    with app.app_context():
        return [(c.id, c.brand, c.last4, c.is_default, c.removed_at is not None)
                for c in db.session.scalars(select(StoredCard).where(StoredCard.customer_id == customer_id)
                                            .order_by(StoredCard.id))]


def add(browser, customer_id, number=SPACED, **more):
    return post_form(browser, f"/cards/{customer_id}/add", {"number": number, "exp_month": "7", "exp_year": NEXT_YEAR,
                                                            "cvc": CVC, "name": "Ada Lovelace", **more})


def test_add_a_card_and_see_it_listed_as_the_default(app, login, ada, processor):
    browser = login("finance")
    response = add(browser, ada)
    assert response.status_code == 302
    page = unescape(browser.get(response.headers["Location"]).get_data(as_text=True))
    assert "Visa \u2022\u2022\u2022\u2022 4242 added to Ada Lovelace as the default card" in page
    assert "07/" + NEXT_YEAR in page and "default-card" in page
    assert NUMBER not in page and SPACED not in page


def test_an_error_brings_the_form_back_without_the_number_or_the_cvc(app, login, ada, processor):
    browser = login("finance")
    response = add(browser, ada, exp_year="2001")
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "This card has expired" in html
    assert NUMBER not in html and SPACED not in html and CVC not in html
    assert re.search(r'id="number" name="number" value="" autocomplete="off"', html)
    assert re.search(r'id="cvc" name="cvc" value="" autocomplete="off"', html)
    assert 'value="Ada Lovelace"' in html  # the rest is kept
    assert stored(app, ada) == []


def test_set_default_and_remove(app, login, ada, processor):
    browser = login("finance")
    add(browser, ada)
    add(browser, ada, number="5555 5555 5555 4444")
    (first, *_), (second, *_) = stored(app, ada)
    list_page = browser.get(f"/cards/{ada}").get_data(as_text=True)
    assert browser.post(f"/cards/{ada}/{second}/default", {"form_key": form_key(list_page)}).status_code == 302
    assert [row[3] for row in stored(app, ada)] == [False, True]
    list_page = browser.get(f"/cards/{ada}").get_data(as_text=True)
    assert browser.post(f"/cards/{ada}/{second}/remove", {"form_key": form_key(list_page)}).status_code == 302
    assert [(row[3], row[4]) for row in stored(app, ada)] == [(True, False), (False, True)]
    assert "5555" not in browser.get(f"/cards/{ada}").get_data(as_text=True).split('id="card-list"')[1]


def test_charge_a_card_records_a_payment_and_a_declined_one_writes_nothing(app, login, ada, processor):
    browser = login("finance")
    add(browser, ada)
    ((card_id, *_),) = stored(app, ada)
    declined = post_form(browser, f"/cards/{ada}/charge", {"card_id": card_id, "amount": "20.13"})
    assert declined.status_code == 422 and "was declined" in unescape(declined.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 0
    response = post_form(browser, f"/cards/{ada}/charge", {"card_id": card_id, "amount": "20.00"})
    assert response.status_code == 302
    page = unescape(browser.get(response.headers["Location"]).get_data(as_text=True))
    assert "£20.00 charged to Visa \u2022\u2022\u2022\u2022 4242 of Ada Lovelace" in page
    with app.app_context():
        assert db.session.scalar(select(Customer.balance).where(Customer.id == ada)) == Decimal("-20.00")
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert len(processor.charges) == 1


def test_the_finances_tab_has_a_cards_button_for_finance_only(app, login, ada):
    assert 'id="cards"' in login("finance").get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True)
    assert 'id="cards"' not in login("staff").get(f"/customers/show/{ada}?tab=finances").get_data(as_text=True)


def test_another_resellers_customer_is_404_and_staff_is_403(app, login, ada, processor):
    theirs = None
    with app.app_context():
        theirs = f.customer(reseller_id=f.reseller_id("Reseller B")).id
    assert login("admin").get(f"/cards/{theirs}").status_code == 200
    for user, status in (("staff", 403), ("readonly", 403), ("reseller_a", 403)):
        assert login(user).get(f"/cards/{ada}").status_code == status, user
    assert login("finance").get("/cards/999999").status_code == 404


def _everything_in_the_database(app) -> str:
    """Every row of every table, as text (the audit trail and the submitted forms included)."""
    with app.app_context():
        names = inspect(db.engine).get_table_names()
        rows = []
        with db.engine.connect() as conn:
            for name in names:
                rows += [repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{name}"'))]
        assert "stored_card" in names and "audit_entry" in names and "submitted_form" in names
        return "\n".join(rows)


@pytest.fixture
def every_logger_heard(caplog):
    """caplog at DEBUG with every logger on (the migrations' logging.config.fileConfig turned off the
    loggers that existed when it ran, the app's among them)."""
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    were = [(logger, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.disabled = False
    caplog.set_level(logging.DEBUG)
    yield caplog
    for logger, disabled in were:
        logger.disabled = disabled


def test_a_card_number_and_cvc_sent_through_the_form_are_nowhere_in_the_database_nor_the_log(app, login, ada,
                                                                                              processor,
                                                                                              every_logger_heard):
    caplog = every_logger_heard
    browser = login("finance")
    failed = add(browser, ada, cvc=CVC, exp_month="13")  # a field wrong: the error page
    assert failed.status_code == 422
    assert NUMBER not in failed.get_data(as_text=True) and CVC not in failed.get_data(as_text=True)
    assert add(browser, ada).status_code == 302
    with app.app_context():
        card = db.session.scalar(select(StoredCard).where(StoredCard.customer_id == ada))
        assert card is not None and card.last4 == "4242"
        # A payment that used it, and a card number typed in a reference, refused: nothing of it kept either.
        payment = cards.charge_card(db.session, f.user("finance"), ada, card.id, {"amount": "3.00"}, str(uuid.uuid4()))
        assert payment.reference.endswith("4242")
    refused = post_form(browser, f"/credits/external/{ada}", {"amount": "1.00", "received_on": str(date.today()),
                                                              "method_id": "1", "reference": SPACED})
    assert refused.status_code == 422 and "Do not type card numbers here" in unescape(refused.get_data(as_text=True))
    dump = _everything_in_the_database(app)
    assert "Visa" in dump and "4242" in dump  # the dump does hold the card's row
    for secret in (NUMBER, SPACED, "4242-4242-4242-4242"):
        assert secret not in dump, secret
    assert not ALONE(CVC).search(dump)  # not as a value of its own (a UUID or a time may hold the digits)
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records  # the requests were logged
    for secret in (NUMBER, SPACED):
        assert secret not in logged, secret
    assert not ALONE(CVC).search(logged)
    with browser.client.session_transaction() as session:
        assert NUMBER not in repr(dict(session)) and not ALONE(CVC).search(repr(dict(session)))


def test_a_charge_left_pending_is_shown_and_settled_from_the_cards_page(app, login, ada, processor, monkeypatch):
    from app.services.billing import payments

    class Died(BaseException):
        pass

    def die(*args, **kwargs):
        raise Died()
    browser = login("finance")
    add(browser, ada)
    ((card_id, *_),) = stored(app, ada)
    monkeypatch.setattr(payments, "record_external", die)
    with pytest.raises(Died):
        post_form(browser, f"/cards/{ada}/charge", {"card_id": card_id, "amount": "15.00"})
    monkeypatch.undo()
    with app.app_context():
        db.session.rollback()
    page = unescape(browser.get(f"/cards/{ada}").get_data(as_text=True))
    assert 'id="pending-charges"' in page and "£15.00, started" in page
    charge_id = re.search(r'class="pending-charge" data-id="(\d+)"', page).group(1)
    response = browser.post(f"/cards/{ada}/charges/{charge_id}/settle")
    assert response.status_code == 302
    page = unescape(browser.get(response.headers["Location"]).get_data(as_text=True))
    assert "The charge of £15.00 was approved: its payment is recorded" in page and 'id="pending-charges"' not in page
    assert login("staff").post(f"/cards/{ada}/charges/{charge_id}/settle").status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(select(Customer.balance).where(Customer.id == ada)) == Decimal("-15.00")
    assert len(processor.charges) == 1
