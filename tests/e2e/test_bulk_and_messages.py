"""Bulk actions and messages in a real browser (iBill's "tick customers, then enable, disable,
e-mail..."): tick three and disable them; select all that match a filter and e-mail them."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

LIST = "/customers/list/"
LIST_TABLE = "div.table-responsive > table.table-hover"


def choose_action(page, css_class):
    """FAB's "Actions" menu above the list, then one of its items."""
    page.locator(".well .btn-group button.dropdown-toggle", has_text="Actions").click()
    with page.expect_navigation():
        page.locator(f"a.{css_class}").click()


def test_tick_three_customers_disable_them_and_see_their_status_change(page_as, live_server, screenshots):
    def three_active(session):
        from app.models import Customer
        return [c.id for c in session.query(Customer).filter(Customer.status == "active")
                .order_by(Customer.sort_name, Customer.id).limit(3)]
    ids = live_server.query(three_active)
    page = page_as("staff")
    page.goto(LIST + "?_flt_0_status=active")
    for customer_id in ids:
        page.locator(f"input.action_check[value='{customer_id}']").check()
    choose_action(page, "disable_menu_item")

    expect(page.locator("#bulk-count")).to_contain_text("This will disable 3 customers")
    page.screenshot(path=str(screenshots / "bulk-confirm.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#bulk-confirm").click()
    expect(page.locator("#job-status")).to_have_text("Done.")
    expect(page.locator("#job-changed")).to_contain_text("3 changed")
    page.screenshot(path=str(screenshots / "bulk-result.png"), full_page=True)

    page.goto(LIST + "?_flt_0_status=disabled")
    shown = [int(t) for t in page.locator(f"{LIST_TABLE} tbody tr td:nth-child(3)").all_inner_texts()]
    assert set(ids) <= set(shown)
    for customer_id in ids:
        row = page.locator(f"{LIST_TABLE} tbody tr", has=page.locator(f"input[value='{customer_id}']"))
        expect(row.locator(".label", has_text="disabled")).to_be_visible()


def test_select_all_matching_a_filter_send_an_email_and_see_it_on_each_customer(page_as, live_server, screenshots):
    def tag_with_customers(session):
        from sqlalchemy import func, select

        from app.models import Customer, Tag, customer_tag
        row = session.execute(
            select(Tag.id, Tag.name, func.count()).join(customer_tag, customer_tag.c.tag_id == Tag.id)
            .join(Customer, Customer.id == customer_tag.c.customer_id).where(Customer.status != "archived")
            .group_by(Tag.id, Tag.name).order_by(func.count().desc(), Tag.id).limit(1)).one()
        ids = session.scalars(select(customer_tag.c.customer_id).join(Customer, Customer.id == customer_tag.c.customer_id)
                              .where(customer_tag.c.tag_id == row[0], Customer.status != "archived")).all()
        return row[0], row[1], sorted(ids)
    tag_id, tag_name, ids = live_server.query(tag_with_customers)
    page = page_as("admin")
    page.goto(f"{LIST}?_flt_0_tags={tag_id}&psize_CustomerView=25")
    if len(ids) > 25:
        expect(page.locator("label.select-all-matching")).to_contain_text(f"Select all {len(ids)} matching")
        page.locator("#select-all-matching").check()
    else:  # a single page: tick the header box, which ticks every row
        page.locator("#check_all").check()
        page.locator("#select-all-matching").count() and page.locator("#select-all-matching").check()
    choose_action(page, "send_email_menu_item")

    expect(page.locator("#compose-count")).to_contain_text(f"To {len(ids)} customers")
    page.fill("#subject", "News for {first_name}")
    page.fill("#body", "Dear {name},\nyour balance is {balance}.\n<script>alert(1)</script>")
    with page.expect_navigation():
        page.locator("#compose-preview").click()
    expect(page.locator("#preview")).to_contain_text("your balance is")
    expect(page.locator("#preview")).to_contain_text("<script>alert(1)</script>")  # shown as text, not run
    page.screenshot(path=str(screenshots / "compose-email.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#compose-send").click()
    expect(page.locator("#job-status")).to_have_text("Done.")
    page.screenshot(path=str(screenshots / "email-sent.png"), full_page=True)

    def messages_by_customer(session):
        from app.models import Message
        return {m.customer_id: m.subject for m in session.query(Message).filter(Message.subject.like("News for %"))}
    written = live_server.query(messages_by_customer)
    assert set(written) == set(ids)
    page.goto(f"/customers/show/{ids[0]}")
    page.locator("#tab-messages").click()
    expect(page.locator("#messages")).to_contain_text(written[ids[0]])
    expect(page.locator("#toggle-logs")).to_be_visible()
    page.screenshot(path=str(screenshots / "customer-messages.png"), full_page=True)
