"""Money > Recurring billing in the browser (issue 17): Finance reads the preview (a GBP customer's monthly and
one-off services, a JPY customer's monthly one), confirms "Bill due services now", lands on the run's job, and
opens an invoice the run made. The preview and the invoice at both widths."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def customers_with_services_due(live_server) -> tuple[int, int]:
    """A GBP customer (Broadband monthly, Installation one-off at the standard rate) and a JPY one (Fibre
    monthly), their services due today; the company's e-mails off for the run."""
    def make(session):
        from sqlalchemy import select

        from app.models import CompanySettings, CustomerService, TaxRate
        from app.services.customers.create import create_customer
        from tests.factories import user
        today, n = date.today(), uuid.uuid4().hex[:6]
        rates = dict(session.execute(select(TaxRate.name, TaxRate.id)).all())
        gbp = create_customer(session, user("admin"), {"customer_type": "private", "first_name": "Grace",
                                                       "surname": f"Recurring{n}", "currency": "GBP"})
        jpy = create_customer(session, user("admin"), {"customer_type": "private", "first_name": "Haruki",
                                                       "surname": f"Recurring{n}", "currency": "JPY"})
        for owner, name, price, cycle, rate in ((gbp, "Broadband 40 Mb", "30.00", "monthly", "Zero rate"),
                                                (gbp, "Installation", "49.99", "one-off", "Standard rate"),
                                                (jpy, "Fibre 1 Gb", "3000", "monthly", "Standard rate")):
            session.add(CustomerService(customer_id=owner.id, name=name, price=Decimal(price), billing_cycle=cycle,
                                        status="active", started_on=today, next_billing_on=today,
                                        billing_day=today.day, tax_rate_id=rates[rate]))
        row = session.get(CompanySettings, 1) or CompanySettings(id=1)
        row.billing_email = False
        session.add(row)
        session.commit()
        return gbp.id, jpy.id
    return live_server.query(make)


def invoice_of(live_server, customer_id: int) -> int:
    def find(session):
        from sqlalchemy import select

        from app.models import Invoice
        return session.scalar(select(Invoice.id).where(Invoice.customer_id == customer_id))
    return live_server.query(find)


def test_finance_previews_runs_and_opens_an_invoice_the_run_made(page_as, live_server, screenshots):
    gbp, jpy = customers_with_services_due(live_server)
    page = page_as("finance")
    page.goto("/recurring-billing/")
    mine = page.locator(f"tbody.preview-customer[data-customer='{gbp}']")
    expect(mine).to_contain_text("Broadband 40 Mb")
    expect(mine).to_contain_text("Installation")
    expect(mine).to_contain_text("£59.99")
    expect(mine).to_contain_text("£89.99")
    expect(page.locator(f"tbody.preview-customer[data-customer='{jpy}']")).to_contain_text("¥3,600")
    expect(page.locator("#billing-settings")).to_contain_text("Invoices are not e-mailed.")
    shoot(page, screenshots, "recurring-billing-preview")

    with page.expect_navigation():
        page.locator("#bill-now").click()
    expect(page.locator("#confirm-counts")).to_contain_text("£89.99")
    shoot(page, screenshots, "recurring-billing-confirm")
    with page.expect_navigation():
        page.locator("#start-billing").click()
    expect(page.locator("body")).to_contain_text("Bill due services")
    expect(page.locator("body")).to_contain_text("£89.99 invoiced")

    invoice_id = invoice_of(live_server, gbp)
    page.goto(f"/invoices/show/{invoice_id}")
    expect(page.locator("body")).to_contain_text("Broadband 40 Mb")
    expect(page.locator("body")).to_contain_text("£89.99")
    shoot(page, screenshots, "recurring-billing-invoice")

    page.goto("/recurring-billing/")
    expect(page.locator("#billing-runs tr.billing-run").first).to_contain_text("Finished")
    shoot(page, screenshots, "recurring-billing-after-run")
