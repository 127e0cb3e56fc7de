"""An admin writes an invoice with two lines (the preview adds them up as they are typed), saves and
issues it, opens its PDF (kept as a picture), records a part payment and then an overpayment, whose rest the form says becomes account
credit before it is sent and the message says became account credit after."""
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def look_at_pdf(data: bytes, stem) -> None:
    """The PDF's first page as <stem>.png (poppler's pdftoppm, installed with Chromium by ./test)."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "invoice.pdf"
        source.write_bytes(data)
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(source), str(stem)], check=True)


def a_customer(live_server) -> int:
    """An active customer billed in pounds that no other browser test picks."""
    def pick(session):
        from app.models import Customer
        return (session.query(Customer.id)
                .filter(Customer.status == "active", Customer.currency == "GBP", Customer.id % 5 == 4)
                .order_by(Customer.id.desc()).first())[0]
    return live_server.query(pick)


def test_an_invoice_is_written_issued_part_paid_and_overpaid(page_as, live_server, screenshots):
    customer_id = a_customer(live_server)
    page = page_as("admin")
    page.goto(f"/invoices/new/{customer_id}")
    expect(page.locator("tr.invoice-line")).to_have_count(1)
    page.locator("#lines-0-description").fill("Window cleaning, front and back")
    page.locator("#lines-0-category").select_option("labour")
    page.locator("#lines-0-quantity").fill("2")
    page.locator("#lines-0-unit_price").fill("15.00")
    page.locator("#add-line").click()
    expect(page.locator("tr.invoice-line")).to_have_count(2)
    page.locator("#lines-1-description").fill("Gutter clearing")
    page.locator("#lines-1-unit_price").fill("40.00")
    page.locator("#lines-1-tax_rate_id").select_option(label="Zero rate (0%)")
    # 2 × £15.00 at 20% and £40.00 at 0%: net £70.00, tax £6.00
    expect(page.locator("#line-0 .line-net")).to_have_text("£30.00")
    expect(page.locator("#preview-net")).to_have_text("£70.00")
    expect(page.locator("#preview-tax")).to_have_text("£6.00")
    expect(page.locator("#preview-total")).to_have_text("£76.00")
    # A third row, removed again, leaves the figures as they were.
    page.locator("#add-line").click()
    page.locator("tr.invoice-line").nth(2).locator(".remove-line").click()
    expect(page.locator("tr.invoice-line")).to_have_count(2)
    shoot(page, screenshots, "invoice-form")

    page.set_viewport_size({"width": 1400, "height": 900})
    with page.expect_navigation():
        page.locator("#save-issue").click()
    expect(page.locator(".alert-success")).to_contain_text("issued: £76.00")
    number = page.locator("#invoice-number").inner_text()
    expect(page.locator("#invoice-status")).to_have_text("Issued")
    expect(page.locator("#outstanding")).to_have_text("£76.00")
    expect(page.locator("tr.tax-rate")).to_have_count(2)
    shoot(page, screenshots, "invoice-page")

    # Its PDF, as the browser gets it from the Download PDF button, turned into a picture to look at.
    pdf = page.request.get(page.locator("#action-pdf").get_attribute("href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")
    look_at_pdf(pdf.body(), screenshots / "invoice-pdf")

    page.set_viewport_size({"width": 1400, "height": 900})
    with page.expect_navigation():
        page.locator("#action-pay").click()
    expect(page.locator("#amount")).to_have_value("76.00")
    expect(page.locator("#credit-note")).to_be_hidden()
    page.locator("#method_id").select_option(label="Cash")
    page.locator("#amount").fill("30.00")
    with page.expect_navigation():
        page.locator("#record-payment").click()
    expect(page.locator(".alert-success")).to_contain_text("Payment of £30.00 recorded on INV-")
    expect(page.locator("#invoice-status")).to_have_text("Part-paid")
    expect(page.locator("#outstanding")).to_have_text("£46.00")

    with page.expect_navigation():
        page.locator("#action-pay").click()
    expect(page.locator("#amount")).to_have_value("46.00")
    page.locator("#method_id").select_option(label="Bank transfer")
    page.locator("#reference").fill("FPS 0042")
    page.locator("#amount").fill("50.00")
    expect(page.locator("#credit-note")).to_have_text("£4.00 becomes account credit.")
    shoot(page, screenshots, "invoice-payment-form")

    page.set_viewport_size({"width": 1400, "height": 900})
    with page.expect_navigation():
        page.locator("#record-payment").click()
    expect(page.locator(".alert-success")).to_contain_text("Payment of £50.00 recorded on INV-")
    expect(page.locator(".alert-success")).to_contain_text("£4.00 became account credit")
    expect(page.locator("#invoice-status")).to_have_text("Paid")
    expect(page.locator("#outstanding")).to_have_text("£0.00")
    expect(page.locator("#invoice-allocations tr.allocation")).to_have_count(2)
    expect(page.locator("#action-pay")).to_have_count(0)
    shoot(page, screenshots, "invoice-page-paid")

    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/invoices/list/")
    expect(page.locator("a.invoice-link").first).to_have_text(number)
    expect(page.locator(".invoice-status").first).to_have_text("Paid")
    shoot(page, screenshots, "invoice-list")
