

def test_pages_render_for_admin(app, login):
    browser = login("admin")
    r = browser.form("/customers/add", {"customer_type": "private", "first_name": "Ada", "surname": "Lovelace",
                                        "email": "ADA@Example.com", "phone": "020 7946 0001", "currency": "GBP"})
    assert r.status_code == 302, r.get_data(as_text=True)[-3000:]
    r = browser.get("/customers/list/")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Ada Lovelace" in html
    for url in ("/customers/show/1", "/customers/edit/1", "/contacts/list/", "/addresses/list/", "/tags/list/",
                "/resellers/list/", "/audit/list/", "/customers/export.csv", "/contacts/add?_flt_0_customer=1",
                ):
        r = browser.get(url)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[-2000:])
