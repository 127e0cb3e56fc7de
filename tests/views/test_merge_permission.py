"""Merging on screen is decided by the can_merge permission, whichever role holds it."""
from app.extensions import db
from app.models import Customer
from tests import factories as f
from tests.roles import make_role_user, remove_role_user


def test_a_role_given_can_merge_in_the_browser_merges_on_screen_and_staff_cannot(app, login):
    with app.app_context():
        survivor, duplicate = f.customer(surname="Keep").id, f.customer(surname="Dupe").id
        make_role_user(app, db.session, "Merger", like="Staff", grants=[("can_merge", "CustomerView")])
    try:
        staff = login("staff")
        assert staff.get(f"/customers/show/{survivor}/merge").status_code == 403
        assert staff.post(f"/customers/show/{survivor}/merge", {"duplicate": str(duplicate)}).status_code == 403
        with app.app_context():
            assert db.session.get(Customer, duplicate) is not None
        finance = login("merger")
        page = finance.get(f"/customers/show/{survivor}/merge?duplicate={duplicate}")
        assert page.status_code == 200
        r = finance.post(f"/customers/show/{survivor}/merge", {"duplicate": str(duplicate)})
        assert r.status_code == 302, r.get_data(as_text=True)[-800:]
    finally:
        with app.app_context():
            remove_role_user(app, db.session, "Merger")
    with app.app_context():
        assert db.session.get(Customer, duplicate) is None and db.session.get(Customer, survivor) is not None
