"""The Receivables page in a real browser: outstanding per currency (GBP and USD at least, with a
part payment and account credit), the base-currency totals at stored and today's rates, and the
aged totals per currency as at today. Screenshots at 1440 and 1024 px, and one of a quote's page
with its PDF and E-mail buttons."""
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def some_money(live_server) -> int:
    """A USD customer (its own, made once) with an issued invoice at a rate of 30 days ago, a part
    payment and the USD rate moved since; a GBP customer with an invoice and account credit. Returns
    a sent quote's id of the GBP customer."""
    def make(session):
        import uuid
        from datetime import date, timedelta
        from app.models import Customer, FxRate, PaymentMethod, Quote, TaxRate, User
        from app.services.billing import fx, invoices, payments, quotes
        from app.services.customers.create import create_customer
        admin = session.query(User).filter_by(username="admin").one()
        existing = session.query(Customer).filter_by(company_name="Receivables Dollar Inc").first()
        if existing is not None:
            return session.query(Quote.id).filter_by(customer_id=existing.id).scalar()
        today = date.today()
        month_ago = today - timedelta(days=30)
        for (from_, rate, on) in (("USD", "0.7874", month_ago), ("USD", "0.7410", today),
                                  ("EUR", "0.8562", month_ago)):
            if not session.query(FxRate).filter_by(from_currency=from_, to_currency="GBP", effective_on=on).count():
                fx.create_rate(session, admin, {"from_currency": from_, "to_currency": "GBP", "rate": rate,
                                                "effective_on": on.isoformat()})
        zero = session.query(TaxRate.id).filter_by(name="Zero rate").scalar()
        cash = session.query(PaymentMethod.id).filter_by(name="Cash").scalar()

        def issued(customer, price, on):
            draft = invoices.create_draft(session, admin, customer.id, {"issue_date": on.isoformat(), "lines": [
                {"description": "Maintenance contract", "quantity": 1, "unit_price": price, "tax_rate_id": zero}]},
                str(uuid.uuid4()))
            return invoices.issue(session, admin, draft.id, str(uuid.uuid4()))

        usd = create_customer(session, admin, {"customer_type": "company", "company_name": "Receivables Dollar Inc",
                                               "email": "accounts@dollar.example", "currency": "USD"})
        first = issued(usd, "1200.00", month_ago)
        issued(usd, "450.00", today - timedelta(days=75))
        payments.record_payment(session, admin, first.id, {"amount": "200.00", "method_id": cash,
                                                           "received_on": today.isoformat()}, str(uuid.uuid4()))
        eur = create_customer(session, admin, {"customer_type": "company", "company_name": "Receivables Euro GmbH",
                                               "currency": "EUR"})
        issued(eur, "300.00", today - timedelta(days=10))
        gbp = create_customer(session, admin, {"customer_type": "company", "company_name": "Receivables Pound Ltd"})
        issued(gbp, "640.00", today - timedelta(days=45))
        payments.add_credit(session, admin, gbp.id, {"amount": "40.00", "reason": "Goodwill",
                                                     "received_on": today.isoformat()}, str(uuid.uuid4()))
        quote = quotes.create_draft(session, admin, usd.id, {
            "expires_on": (today + timedelta(days=30)).isoformat(), "lines": [
                {"description": "Roof survey", "quantity": 1, "unit_price": "350.00", "tax_rate_id": zero}]},
            str(uuid.uuid4()), send_now=True)
        return quote.id
    return live_server.query(make)


def test_the_receivables_page_in_two_currencies_and_more(page_as, live_server, screenshots):
    some_money(live_server)
    page = page_as("finance")
    page.goto("/receivables/")
    expect(page.locator("#currency-GBP")).to_be_visible()
    expect(page.locator("#currency-USD")).to_contain_text("1 USD = 0.741 GBP")
    expect(page.locator("#base-total")).to_contain_text("£")
    expect(page.locator("#fx-scope-note")).to_contain_text("out of scope")
    with page.expect_navigation():
        page.locator("#aged-show").click()
    expect(page.locator("#aged-USD")).to_be_visible()
    shoot(page, screenshots, "receivables")


def test_a_quotes_page_offers_its_pdf_and_email(page_as, live_server, screenshots):
    quote_id = some_money(live_server)
    page = page_as("finance")
    page.goto(f"/quotes/show/{quote_id}")
    expect(page.locator("#action-pdf")).to_be_visible()
    expect(page.locator("#action-email")).to_be_visible()
    with page.expect_navigation():
        page.locator("#action-email").click()
    expect(page.locator("#quote-email-form")).to_be_visible()
    shoot(page, screenshots, "quote-email")
    page.goto("/quotes/list/")
    expect(page.locator("table.table-bordered")).to_contain_text("Receivables Dollar Inc")
    shoot(page, screenshots, "quotes-list")
