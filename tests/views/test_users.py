"""Admins link a user to a reseller in FAB's user screen; the link confines that user."""
from app.extensions import db
from app.models import User
from tests import factories as f


def test_admin_sets_a_users_reseller_and_the_user_is_confined_to_it(app, login):
    with app.app_context():
        a, b = f.reseller_id("Reseller A"), f.reseller_id("Reseller B")
        f.customer(surname="OfA", reseller_id=a)
        f.customer(surname="OfB", reseller_id=b)
        staff = db.session.query(User).filter_by(username="staff").one()
        staff_id, roles = staff.id, [r.id for r in staff.roles]
    admin = login("admin")
    page = admin.get(f"/users/edit/{staff_id}").get_data(as_text=True)
    assert 'name="reseller"' in page
    r = admin.form(f"/users/edit/{staff_id}", {"first_name": "staff", "last_name": "Test", "username": "staff",
                                              "email": "staff@example.com", "active": "y",
                                              "roles": [str(i) for i in roles], "reseller": str(b)})
    assert r.status_code == 302
    try:
        html = login("staff").get("/customers/list/").get_data(as_text=True)
        assert "OfB" in html and "OfA" not in html
    finally:
        with app.app_context():
            db.session.query(User).filter_by(id=staff_id).update({"reseller_id": None})
            db.session.commit()
