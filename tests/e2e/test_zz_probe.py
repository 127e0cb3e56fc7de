def test_probe(page, live_server):
    msgs=[]; fails=[]
    page.on("console", lambda m: msgs.append((m.type, m.text)))
    page.on("requestfailed", lambda r: fails.append(r.url))
    page.on("response", lambda r: r.status >= 400 and fails.append((r.status, r.url)))
    page.goto("/login/")
    open("/tmp/probe/login.html","w").write(page.content())
    from tests.e2e.conftest import login
    login(page, "admin")
    print("URL", page.url)
    open("/tmp/probe/index.html","w").write(page.content())
    r = page.goto("/customers/list/")
    print(r.headers)
    page.locator("#ContactView").count()
    r = page.goto("/customers/show/5")
    page.click("text=Contacts")
    page.wait_for_timeout(500)
    print("visible", page.locator("#ContactView_href").is_visible())
    print(msgs, fails)
    def q(s):
        from app.models import Customer
        from collections import Counter
        cs = s.query(Customer).all()
        print(Counter(c.status for c in cs))
        print(Counter(c.surname for c in cs if c.status!="archived").most_common(8))
        print(Counter(c.reseller.name if c.reseller else None for c in cs))
    live_server.query(q)
