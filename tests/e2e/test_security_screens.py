"""The security screens in a real browser, at 1440 and 1024 px: a role's permissions ticked in
groups per screen, the roles list in words, and a reseller's own admin adding a user to their
reseller (shown fixed)."""
import pytest
from playwright.sync_api import expect

from tests.roles import make_role_user, remove_role_user

pytestmark = pytest.mark.e2e

WIDTHS = (1440, 1024)


def at_width(page, width):
    """The page loaded again at `width` (Select2 sizes its boxes when the page loads); True when
    nothing runs off the page or out of its form's table."""
    page.set_viewport_size({"width": width, "height": 900})
    page.reload()
    return page.evaluate("""() => document.documentElement.scrollWidth <= window.innerWidth &&
        [...document.querySelectorAll(".table-responsive")].every(t => t.scrollWidth <= t.clientWidth)""")


def test_the_role_form_ticks_permissions_in_groups_and_saves_what_is_ticked(page_as, live_server, screenshots):
    from flask_appbuilder.security.sqla.models import Role

    staff = live_server.query(lambda s: s.query(Role).filter_by(name="Staff").one().id)
    page = page_as("admin")
    page.goto("/roles/list/")
    staff_row = page.locator("tr", has=page.locator("td", has_text="Staff"))
    expect(staff_row.first).to_contain_text("Customers: list, show, add, edit, export CSV")
    expect(page.locator("body")).not_to_contain_text("can list on CustomerView")
    for width in WIDTHS:
        assert at_width(page, width)
        page.screenshot(path=str(screenshots / f"roles-list-{width}.png"), full_page=True)

    page.goto(f"/roles/edit/{staff}")
    customers = page.locator("fieldset[data-group='Customers']")
    expect(customers.get_by_label("bulk e-mail")).to_be_checked()
    expect(customers.get_by_label("delete in bulk")).not_to_be_checked()
    expect(customers.locator(".permission-all")).not_to_be_checked()
    expect(page.locator("fieldset[data-group='Audit log']")).to_be_visible()
    for width in WIDTHS:
        assert at_width(page, width)
        page.screenshot(path=str(screenshots / f"role-edit-{width}.png"), full_page=True)
    # "all" ticks a whole screen; finding narrows the groups shown (nothing saved here).
    customers.locator(".permission-all").check()
    expect(customers.get_by_label("delete in bulk")).to_be_checked()
    page.locator(".permission-filter").fill("audit")
    expect(page.locator("fieldset[data-group='Audit log']")).to_be_visible()
    expect(customers).to_be_hidden()

    # A new role from the add form holds exactly what was ticked.
    page.goto("/roles/add")
    page.fill("input[name=name]", "E2E clerk")
    page.locator("fieldset[data-group='Customers']").get_by_label("list", exact=True).check()
    page.locator("fieldset[data-group='Customers']").get_by_label("show", exact=True).check()
    with page.expect_navigation():
        page.locator("form#model_form [type=submit]").first.click()
    try:
        page.goto("/roles/list/")  # FAB goes back to the page before the form; the list is what we read
        expect(page.locator("tr", has=page.locator("td", has_text="E2E clerk"))).to_contain_text("Customers: list, show")
        held = live_server.query(lambda s: sorted(
            (pv.permission.name, pv.view_menu.name) for pv in s.query(Role).filter_by(name="E2E clerk").one().permissions))
        assert held == [("can_list", "CustomerView"), ("can_show", "CustomerView")]
    finally:
        def drop(session):
            session.query(Role).filter_by(name="E2E clerk").delete()
            session.commit()
        live_server.query(drop)


@pytest.fixture
def reseller_admin(live_server):
    """A user of Reseller A whose role is Reseller's plus the user screen."""
    from app.models import Reseller

    grants = [("can_list", "UserView"), ("can_show", "UserView"), ("can_add", "UserView"),
              ("can_edit", "UserView"), ("menu_access", "List Users"), ("menu_access", "Security")]
    app = live_server.app
    live_server.query(lambda s: make_role_user(
        app, s, "E2EResellerAdmin", like="Reseller", grants=grants,
        reseller_id=s.query(Reseller).filter_by(name="Reseller A").one().id))
    yield "e2ereselleradmin"

    def drop(session):
        from app.models import User
        session.query(User).filter_by(username="e2e_added").delete()
        session.commit()
        remove_role_user(app, session, "E2EResellerAdmin")
    live_server.query(drop)


def test_a_reseller_admin_adds_a_user_to_their_own_reseller_shown_fixed(page_as, live_server, screenshots,
                                                                       reseller_admin):
    from app.models import User

    page = page_as(reseller_admin)
    page.goto("/users/add")
    fixed = page.locator("[data-fixed=reseller]")
    expect(fixed).to_have_text("Reseller A")
    expect(page.locator("select[name=reseller]")).to_have_count(0)
    expect(page.locator("body")).to_contain_text("Every user you add or change belongs to your reseller.")
    for width in WIDTHS:
        assert at_width(page, width)
        page.screenshot(path=str(screenshots / f"user-add-reseller-{width}.png"), full_page=True)

    page.fill("input[name=first_name]", "Added")
    page.fill("input[name=last_name]", "ByReseller")
    page.fill("input[name=username]", "e2e_added")
    page.fill("input[name=email]", "e2e_added@example.com")
    page.evaluate("""() => {  // Select2 hides the roles' <select>: pick Reseller there
        const select = document.querySelector("select[name=roles]");
        for (const option of select.options) { option.selected = option.text === "Reseller"; }
    }""")
    page.fill("input[name=password]", "Corr3ct-Horse-Battery-99")
    page.fill("input[name=conf_password]", "Corr3ct-Horse-Battery-99")
    with page.expect_navigation():
        page.locator("form#model_form [type=submit]").first.click()
    page.goto("/users/list/")
    expect(page.locator("tr", has=page.locator("td", has_text="e2e_added@example.com"))).to_contain_text("Reseller A")
    reseller = live_server.query(lambda s: s.query(User).filter_by(username="e2e_added").one().reseller.name)
    assert reseller == "Reseller A"


def test_an_admins_user_form_picks_any_reseller(admin_page):
    admin_page.goto("/users/add")
    expect(admin_page.locator("select[name=reseller] option", has_text="Reseller B")).to_have_count(1)
    expect(admin_page.locator("[data-fixed=reseller]")).to_have_count(0)
