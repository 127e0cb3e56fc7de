

def test_pages_render_for_admin(app, login):
    browser = login("admin")
    r = browser.form("/customers/add", {"customer_type": "private", "first_name": "Ada", "surname": "Lovelace",
                                        "email": "ADA@Example.com", "phone": "020 7946 0001", "currency": "GBP"})
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    r = browser.get("/customers/list/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Ada Lovelace" in html
    from app.extensions import db
    from app.models import Customer
    with app.app_context():
        cid = db.session.query(Customer.id).scalar()
    for url in (f"/customers/show/{cid}", f"/customers/edit/{cid}", "/contacts/list/", "/addresses/list/",
                "/tags/list/", "/resellers/list/", "/audit/list/", "/customers/export.csv",
                f"/contacts/add?_flt_0_customer={cid}", "/users/list/", "/roles/list/"):
        r = browser.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[-2000:])
