"""The customer's page in a real browser: open it from the list, see the side panel and the
mini-map, add a contact and a pinned note (issue 4)."""
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def a_customer_with_a_billing_address(live_server):
    def pick(session):
        from app.models import Address, Customer
        row = (session.query(Customer.id, Customer.name, Address.id).join(Address, Address.customer_id == Customer.id)
               .filter(Address.kind == "billing", Customer.status == "active", Customer.customer_type == "private")
               .order_by(Customer.id).first())
        address = session.get(Address, row[2])
        address.latitude, address.longitude = 51.4545, -2.5879  # Bristol
        session.commit()
        return row[0], row[1]
    return live_server.query(pick)


def test_open_a_profile_add_a_contact_and_a_pinned_note(admin_page, live_server, screenshots):
    page = admin_page
    customer_id, name = a_customer_with_a_billing_address(live_server)
    page.goto(f"/customers/list/?_flt_0_id={customer_id}")
    with page.expect_navigation():
        page.locator(f'a[href="/customers/show/{customer_id}"]').first.click()
    expect(page.locator(".profile-name")).to_contain_text(name)
    expect(page.locator("#minimap.leaflet-container")).to_be_visible()  # Leaflet drew it
    expect(page.locator("#distance")).to_contain_text("km from the office, as the crow flies")
    expect(page.locator("#annual-value")).to_contain_text("0.00")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(screenshots / "profile-details.png"), full_page=True)

    page.locator("#tab-contacts").click()
    with page.expect_navigation():
        page.locator("#add-contact").click()
    page.locator("#first_name").fill("Grace")
    page.locator("#surname").fill("Hopper")
    page.locator("#email").fill("grace.hopper@example.com")
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").first.click()
    expect(page).to_have_url(f"{live_server.url}/customers/show/{customer_id}?tab=contacts")  # back on the tab
    expect(page.locator(".alert")).to_contain_text("Contact Grace Hopper added")
    expect(page.locator("#contacts")).to_contain_text("Grace Hopper")

    page.locator("#tab-notes").click()
    page.locator("#note-body").fill("Side gate sticks: lift it first.")
    with page.expect_navigation():
        page.locator("#add-note").click()
    page.locator("#note-body").fill("Dog in the garden: call before arriving.")
    page.locator("#note-important").check()
    with page.expect_navigation():
        page.locator("#add-note").click()
    first = page.locator("#notes li.note").first
    expect(first).to_contain_text("Dog in the garden")
    expect(first.locator(".label-danger")).to_have_text("Important")
    expect(page.locator("#notes li.note").nth(1)).to_contain_text("Side gate sticks")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(screenshots / "profile-notes.png"), full_page=True)

    page.locator("#tab-changes").click()
    expect(page.locator("#changes")).to_contain_text("Added note")
    expect(page.locator("#changes")).to_contain_text("Hopper")


def test_merge_two_customers_from_the_profile(admin_page, live_server, screenshots):
    def two(session):
        from app.models import Customer
        rows = (session.query(Customer.id, Customer.name).filter(Customer.status == "active", Customer.currency == "GBP")
                .order_by(Customer.id.desc()).limit(2).all())
        return [tuple(r) for r in rows]
    (survivor, survivor_name), (duplicate, duplicate_name) = live_server.query(two)
    page = admin_page
    page.goto(f"/customers/show/{survivor}")
    page.locator("#profile-actions").click()
    with page.expect_navigation():
        page.locator("a.profile-action-merge").click()
    page.locator("#duplicate").fill(str(duplicate))
    with page.expect_navigation():
        page.locator("#merge-preview").click()
    expect(page.locator("#merge-plan")).to_contain_text(duplicate_name)
    page.screenshot(path=str(screenshots / "profile-merge.png"), full_page=True)
    with page.expect_navigation():
        page.locator("#merge-confirm").click()
    expect(page.locator(".alert")).to_contain_text(f"Customer #{duplicate} was merged into this one")
    expect(page.locator(".profile-name")).to_contain_text(survivor_name)
    page.goto(f"/customers/show/{duplicate}")  # the old id leads to the survivor
    assert page.url.endswith(f"/customers/show/{survivor}?tab=details")
    page.locator("#tab-changes").click()
    expect(page.locator("#changes")).to_contain_text("Merged into customer")


def test_an_admin_defines_a_custom_field_and_a_file_is_attached(admin_page, live_server, screenshots, tmp_path):
    customer_id, _ = a_customer_with_a_billing_address(live_server)
    page = admin_page
    page.goto("/custom-fields/add")
    page.locator("#name").fill("Gate code")
    page.locator("#kind").select_option("text")
    with page.expect_navigation():
        page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.goto(f"/customers/show/{customer_id}?tab=details")
    field = page.locator("#custom-fields-form input[type=text]").first
    field.fill("4321#")
    with page.expect_navigation():
        page.locator("#save-custom-fields").click()
    expect(page.locator("#custom-fields-form input[type=text]").first).to_have_value("4321#")
    page.locator("#custom-fields-heading").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "profile-custom-fields.png"), full_page=True)

    page.locator("#tab-files").click()
    upload = tmp_path / "Survey report.pdf"
    upload.write_bytes(b"%PDF-1.4\n% a small survey\n")
    page.locator("#file-input").set_input_files(str(upload))
    with page.expect_navigation():
        page.locator("#upload-file").click()
    expect(page.locator("#files")).to_contain_text("Survey report.pdf")
    with page.expect_download() as info:
        page.locator("a.file-download").first.click()
    assert open(info.value.path(), "rb").read() == upload.read_bytes()
    expect(page.locator("#tab-files .badge")).to_have_text("1")
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(path=str(screenshots / "profile-files.png"), full_page=True)


def test_deleting_a_note_asks_first_and_the_menu_makes_the_customer_dormant(admin_page, live_server, screenshots):
    customer_id, _ = a_customer_with_a_billing_address(live_server)
    page = admin_page
    page.goto(f"/customers/show/{customer_id}?tab=notes")
    page.locator("#note-body").fill("Ring twice.")
    with page.expect_navigation():
        page.locator("#add-note").click()
    note = page.locator("#notes li.note", has_text="Ring twice.")
    page.once("dialog", lambda dialog: dialog.dismiss())
    note.locator("button[title=Delete]").click()
    page.wait_for_timeout(300)
    expect(note).to_have_count(1)  # cancelled: nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        note.locator("button[title=Delete]").click()
    expect(page.locator(".alert")).to_contain_text("Note deleted.")
    expect(page.locator("#notes li.note", has_text="Ring twice.")).to_have_count(0)

    page.locator("#profile-actions").click()
    expect(page.locator("a.profile-action-enable")).to_have_count(0)  # an active customer: nothing to enable
    page.screenshot(path=str(screenshots / "profile-actions.png"), full_page=True)
    with page.expect_navigation():
        page.locator("a.profile-action-make_dormant").click()
    expect(page.locator("#bulk-count")).to_contain_text("This will make dormant 1 customer")
    with page.expect_navigation():
        page.locator("#bulk-confirm").click()
    # one customer's action is done at once: back on its page, not the job's
    expect(page).to_have_url(f"{live_server.url}/customers/show/{customer_id}")
    expect(page.locator(".alert")).to_contain_text(f"(#{customer_id}) made dormant")
    expect(page.locator(".profile-name")).to_contain_text("Dormant")


def test_change_the_customer_type_from_the_menu(admin_page, live_server, screenshots):
    customer_id, _ = a_customer_with_a_billing_address(live_server)
    page = admin_page
    page.goto(f"/customers/show/{customer_id}")
    page.locator("#profile-actions").click()
    with page.expect_navigation():
        page.locator("a.profile-action-type").click()
    page.locator("#customer_type").select_option("company")
    with page.expect_navigation():
        page.locator("#change-type-save").click()
    expect(page.locator("#change-type .has-error")).to_contain_text("Company name is required for a company.")
    page.screenshot(path=str(screenshots / "profile-change-type.png"), full_page=True)
    page.locator("#company_name").fill("Hall & Daughters Ltd")
    with page.expect_navigation():
        page.locator("#change-type-save").click()
    expect(page.locator(".profile-name")).to_contain_text("Hall & Daughters Ltd")
    expect(page.locator(".profile-name small")).to_contain_text("Company customer")
