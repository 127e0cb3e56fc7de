"""A customer's Invoice settings in the browser: from the Finances tab, a tag clicked into the address
format and the preview following as one types, a bad tag said beside the box, the format saved, and the
draft invoice then issued made out as the preview said. An additional address added and chosen. The screen
at both widths, as Finance changes it and as a Read-only user reads it."""
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shoot

pytestmark = pytest.mark.e2e


def a_customer(live_server) -> int:
    """A customer of its own (no other browser test uses it) with a billing address and a primary contact."""
    def make(session):
        from app.services.customers.addresses import create_address
        from app.services.customers.create import create_customer
        from tests.factories import user
        admin = user("admin")
        customer = create_customer(session, admin, {"customer_type": "private", "first_name": "Grace",
                                                    "surname": "Hopper"})
        create_address(session, admin, customer.id, {"kind": "billing", "line1": "12 Harbour Row",
                                                     "town": "Whitby", "postcode": "YO21 3PU"})
        return customer.id
    return live_server.query(make)


def a_draft(live_server, customer_id) -> int:
    def make(session):
        from sqlalchemy import select

        from app.models import TaxRate
        from app.services.billing import invoices
        from tests.factories import user
        rate = session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        return invoices.create_draft(session, user("finance"), customer_id, {"lines": [
            {"description": "Boiler service", "quantity": "1", "unit_price": "80.00", "tax_rate_id": rate,
             "category": "labour"}]}, str(uuid.uuid4())).id
    return live_server.query(make)


def test_the_format_is_previewed_as_typed_saved_and_prints_on_the_invoice(page_as, live_server, screenshots):
    customer_id = a_customer(live_server)
    page = page_as("finance")
    page.goto(f"/customers/show/{customer_id}?tab=finances")
    with page.expect_navigation():
        page.locator("#invoice-settings-link").click()
    preview = page.locator("#preview")
    expect(preview).to_have_text("Grace Hopper\n12 Harbour Row\nWhitby\nYO21 3PU")

    box = page.locator("#format")
    box.fill("")
    box.press_sequentially("Attn: ", delay=20)
    page.locator(".insert-tag[data-tag='[customer_name]']").click()
    box.press_sequentially(", ", delay=20)
    page.locator(".insert-tag[data-tag='[town]']").click()
    box.press_sequentially(" [postcode]", delay=20)
    expect(box).to_have_value("Attn: [customer_name], [town] [postcode]")
    expect(preview).to_have_text("Attn: Grace Hopper, Whitby YO21 3PU")

    box.press_sequentially(" [nope]", delay=20)
    expect(page.locator("#format-errors")).to_contain_text("[nope] is not a tag.")
    expect(page.locator("#format-errors")).to_contain_text("Valid tags: [customer_name]")
    expect(preview).to_have_text("Attn: Grace Hopper, Whitby YO21 3PU")  # the last good one stays
    for _ in " [nope]":
        box.press("Backspace")
    expect(page.locator("#format-errors")).to_be_empty()
    with page.expect_navigation():
        page.locator("#save-format").click()
    expect(page.locator(".alert-success")).to_contain_text("Invoice address format saved")
    expect(preview).to_have_text("Attn: Grace Hopper, Whitby YO21 3PU")
    shoot(page, screenshots, "invoice-settings")

    # The draft is made out as the preview said, and its issued copy keeps it.
    draft = a_draft(live_server, customer_id)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"/invoices/show/{draft}")
    expect(page.locator("#billing-address")).to_have_text("Attn: Grace Hopper, Whitby YO21 3PU")
    expect(page.locator("#invoice-address-id")).to_be_visible()
    shoot(page, screenshots, "invoice-draft-address")
    page.set_viewport_size({"width": 1400, "height": 900})
    with page.expect_navigation():
        page.locator("#action-issue").click()
    expect(page.locator("#invoice-status")).to_have_text("Issued")
    expect(page.locator("#billing-address")).to_have_text("Attn: Grace Hopper, Whitby YO21 3PU")
    pdf = page.request.get(page.locator("#action-pdf").get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")


def test_an_address_is_added_and_chosen_and_read_only_users_only_read(page_as, live_server, screenshots):
    customer_id = a_customer(live_server)
    page = page_as("admin")
    page.goto(f"/invoice-settings/{customer_id}")
    with page.expect_navigation():
        page.locator("#add-address").click()
    page.locator("#name").fill("Harbour Lettings")
    page.locator("#contact_name").fill("Accounts")
    page.locator("#line1").fill("1 Quay Street")
    page.locator("#town").fill("Whitby")
    shoot(page, screenshots, "invoice-address-form")
    with page.expect_navigation():
        page.locator("#save").click()
    expect(page.locator(".alert-success")).to_contain_text("Invoice address Harbour Lettings added")
    page.locator("#address-q").fill("harbour")
    with page.expect_navigation():
        page.locator("#address-search-go").click()
    row = page.locator("tr.invoice-address", has_text="Harbour Lettings")
    with page.expect_navigation():
        row.locator(".choose-address").click()
    expect(page.locator("#chosen-address")).to_contain_text("Harbour Lettings")
    with page.expect_navigation():
        page.locator("tr.invoice-address", has_text="Harbour Lettings").locator(".delete-address").click()
    expect(page.locator("#usage")).to_have_text("Used by 1 customer.")
    shoot(page, screenshots, "invoice-address-delete")

    reader = page_as("readonly")
    reader.goto(f"/invoice-settings/{customer_id}")
    expect(reader.locator("#chosen-address")).to_contain_text("Harbour Lettings")
    expect(reader.locator("#billing-read")).to_be_visible()
    expect(reader.locator("form#format-form, form#billing-form, .choose-address")).to_have_count(0)
    shoot(reader, screenshots, "invoice-settings-read-only")
