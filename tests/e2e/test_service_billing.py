"""Recurring billing's screens in a real browser (issue 17): the profile's Services list with each
service's next billing date and last invoice, and the company settings' Recurring billing section."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WIDTHS, shoot

pytestmark = pytest.mark.e2e


def _billed_customer(live_server) -> tuple[int, str]:
    """A GBP customer with three services, one of them billed once by an issued invoice."""
    def make(session):
        from app.models import Customer, ServicePeriod, TaxRate, User
        from app.services.billing import invoices
        from app.services.customers import services
        admin = session.query(User).filter_by(username="admin").one()
        customer_id = (session.query(Customer.id).filter(Customer.status == "active", Customer.currency == "GBP",
                                                         ~Customer.services.any())  # others' tests add some
                       .order_by(Customer.id.desc()).first())[0]
        fibre = services.create_service(session, admin, customer_id, {
            "name": "Broadband 40 Mb", "price": "29.99", "billing_cycle": "monthly", "started_on": "2027-01-01"}).id
        services.create_service(session, admin, customer_id, {
            "name": "Web hosting", "price": "120", "billing_cycle": "annually", "started_on": "2027-03-15"})
        services.create_service(session, admin, customer_id, {
            "name": "Router set-up", "price": "45", "billing_cycle": "one-off", "started_on": "2027-01-01",
            "status": "cancelled", "ends_on": "2027-01-02"})
        zero = session.query(TaxRate.id).filter_by(name="Standard rate").scalar()
        draft = invoices.create_draft(session, admin, customer_id, {"issue_date": "2027-01-01", "lines": [
            {"description": "Broadband 40 Mb, 1–31 Jan 2027", "quantity": 1, "unit_price": "29.99",
             "tax_rate_id": zero}]}, str(uuid.uuid4()))
        invoice = invoices.issue(session, admin, draft.id, str(uuid.uuid4()))
        session.add(ServicePeriod(service_id=fibre, starts_on=date(2027, 1, 1), ends_on=date(2027, 1, 31),
                                  amount=Decimal("29.99"), invoice_id=invoice.id))
        services.update_service(session, admin, fibre, {"next_billing_on": "2027-02-01"})
        return customer_id, invoice.number
    return live_server.query(make)


def test_the_services_tab_shows_next_billing_dates_and_last_invoices(page_as, live_server, screenshots):
    customer_id, number = _billed_customer(live_server)
    page = page_as("admin")
    page.goto(f"/customers/show/{customer_id}?tab=services")
    rows = page.locator("#services tr.service")
    broadband = rows.filter(has_text="Broadband 40 Mb")
    expect(broadband.locator(".service-next-billing")).to_have_text("2027-02-01")
    expect(broadband.locator(".service-last-invoice a")).to_have_text(number)
    expect(rows.filter(has_text="Router set-up").locator(".service-next-billing")).to_contain_text("2027-01-01")
    shoot(page, screenshots, "profile-services-billing")
    with page.expect_navigation():
        broadband.locator(".service-last-invoice a").click()
    expect(page.locator("body")).to_contain_text(number)


def test_the_company_settings_show_the_recurring_billing_section(page_as, screenshots):
    page = page_as("admin")
    page.goto("/company/")
    section = page.locator("#recurring-billing")
    expect(section).to_contain_text("Recurring billing")
    expect(section.locator("#billing_pro_rata option").first).to_have_text(
        "Not set: bill whole periods only (the default)")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        section.screenshot(path=str(screenshots / f"company-recurring-billing-{width}.png"))
