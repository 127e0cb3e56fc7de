"""Recurring billing's screens (issue 17) through HTTP: the service form's billing fields with their
errors next to them, the profile's Services list (next billing date, last invoice; queries do not
grow with the services), the bulk edit's confirmation naming the services, and the company settings'
Recurring billing section."""
import re
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import event, select

from app.extensions import db
from app.models import AuditEntry, CompanySettings, CustomerService, ServicePeriod, TaxRate
from app.services import company
from app.services.billing import invoices
from app.services.customers import services
from tests import factories as f


def _customer(app, **fields):
    with app.app_context():
        return f.customer(**fields).id


def test_a_service_is_added_with_its_billing_fields_and_bad_ones_are_shown_next_to_them(app, login):
    customer = _customer(app, currency="BHD")
    admin = login("admin")
    with app.app_context():
        reduced = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Reduced rate"))
    add = f"/services/add?_flt_0_customer={customer}"
    r = admin.form(add, {"name": "Fibre", "price": "12.3456", "billing_cycle": "monthly", "status": "active",
                         "started_on": "2027-01-10", "next_billing_on": "2026-12-01"})
    html = r.get_data(as_text=True)
    assert "Price can have at most 3 decimals in BHD." in html
    assert ("A next billing date before the start date (10 Jan 2027) must begin the period that includes the "
            "start.") in html
    with app.app_context():
        assert db.session.scalar(select(CustomerService.id)) is None
    r = admin.form(add, {"name": "Fibre", "price": "12.345", "billing_cycle": "monthly", "status": "active",
                         "started_on": "2027-01-10", "tax_rate": str(reduced)}, follow_redirects=True)
    assert "Service Fibre added" in r.get_data(as_text=True)
    with app.app_context():
        s = db.session.scalars(select(CustomerService)).one()
        assert (s.price, s.next_billing_on, s.billing_day, s.tax_rate_id) == (
            Decimal("12.345"), date(2027, 1, 10), 10, reduced)
        pk = s.id
    shown = admin.get(f"/services/show/{pk}").get_data(as_text=True).replace("\xa0", "")
    assert "BHD12.345" in shown and "Reduced rate" in shown


def test_cancelling_on_the_form_asks_for_the_end_and_refuses_one_before_the_start(app, login):
    customer = _customer(app)
    with app.app_context():
        pk = services.create_service(db.session, f.user("admin"), customer,
                                     {"name": "Fibre", "price": "30", "started_on": "2026-01-10"}).id
    admin = login("admin")
    form = {"name": "Fibre", "price": "30", "billing_cycle": "monthly", "status": "cancelled",
            "started_on": "2026-01-10", "next_billing_on": "2026-01-10", "ends_on": "2025-12-31"}
    html = admin.form(f"/services/edit/{pk}", form).get_data(as_text=True)
    assert "A service cannot end before it started (10 Jan 2026)." in html
    r = admin.form(f"/services/edit/{pk}", {**form, "ends_on": "2026-03-01"}, follow_redirects=True)
    assert "Service Fibre updated" in r.get_data(as_text=True)
    with app.app_context():
        s = db.session.get(CustomerService, pk)
        assert (s.status, s.ends_on) == ("cancelled", date(2026, 3, 1))


def test_the_services_tab_shows_next_billing_dates_and_last_invoices_in_a_fixed_number_of_queries(app, login):
    customer = _customer(app)
    with app.app_context():
        admin = f.user("admin")
        fibre = services.create_service(db.session, admin, customer, {"name": "Fibre", "price": "30",
                                                                     "started_on": "2027-01-31"}).id
        zero = db.session.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
        draft = invoices.create_draft(db.session, admin, customer, {"issue_date": "2027-01-01", "lines": [
            {"description": "Fibre", "quantity": 1, "unit_price": "30", "tax_rate_id": zero}]}, str(uuid.uuid4()))
        invoice = invoices.issue(db.session, admin, draft.id, str(uuid.uuid4()))
        db.session.add(ServicePeriod(service_id=fibre, starts_on=date(2027, 1, 31), ends_on=date(2027, 2, 27),
                                     amount=Decimal("30"), invoice_id=invoice.id))
        db.session.commit()
        invoice_id, number = invoice.id, invoice.number
    browser = login("staff")

    def statements_for_tab():
        found = []
        listen = lambda *args: found.append(args[2])  # noqa: E731
        with app.app_context():
            event.listen(db.engine, "before_cursor_execute", listen)
        try:
            html = browser.get(f"/customers/show/{customer}?tab=services").get_data(as_text=True)
        finally:
            with app.app_context():
                event.remove(db.engine, "before_cursor_execute", listen)
        return html, len(found)

    html, few = statements_for_tab()
    table = html[html.index('id="services"'):html.index("</table>", html.index('id="services"'))]
    assert f'href="/invoices/show/{invoice_id}">{number}</a>' in table
    assert "2027-01-31" in table and "None yet" not in table
    with app.app_context():
        for n in range(5):
            services.create_service(db.session, f.user("admin"), customer, {"name": f"Extra {n}", "price": "1"})
    html, many = statements_for_tab()
    assert many == few and html.count("None yet") == 5


def test_the_bulk_edits_confirmation_names_the_services_and_the_change_is_audited(app, login):
    ids = [_customer(app), _customer(app)]
    with app.app_context():
        for customer in ids:
            for name, cycle in (("Fibre", "monthly"), ("Set-up", "one-off")):
                services.create_service(db.session, f.user("admin"), customer,
                                        {"name": name, "price": "5", "billing_cycle": cycle})
    browser = login("staff")
    data = {"rowid": [str(i) for i in ids]}
    html = browser.post("/customers/action_post", {"action": "bulk_edit", **data}).get_data(as_text=True)
    assert "4 services not cancelled, 2 of them recurring." in html and "one-off services keep theirs" in html
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    bad = browser.post("/customers/bulk/bulk_edit", {**data, "form_key": key, "next_billing_on": "2027-13-01"})
    assert bad.status_code == 422 and "Enter a date as YYYY-MM-DD." in bad.get_data(as_text=True)
    html = browser.post("/customers/action_post", {"action": "bulk_edit", **data}).get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', html).group(1)
    r = browser.post("/customers/bulk/bulk_edit", {**data, "form_key": key, "billing_cycle": "quarterly"},
                     follow_redirects=True)
    assert "2 services' billing changed" in r.get_data(as_text=True)
    with app.app_context():
        assert sorted(db.session.scalars(select(CustomerService.billing_cycle))) == [
            "one-off", "one-off", "quarterly", "quarterly"]
        assert len(db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "service",
                                                               AuditEntry.action == "update")).all()) == 2


def test_the_company_settings_recurring_billing_section_shows_defaults_saves_and_audits(app, login):
    admin = login("admin")
    html = admin.get("/company/").get_data(as_text=True)
    section = html[html.index('id="recurring-billing"'):html.index("</fieldset>", html.index('id="recurring-billing"'))]
    assert "Not set: bill whole periods only (the default)" in section
    assert "Not set: issue them at once (the default)" in section
    assert "Not set: e-mail them with their PDF (the default)" in section
    r = admin.form("/company/", {"billing_pro_rata": "1", "billing_drafts": "1", "billing_email": "0",
                                 "bill_suspended": ""}, follow_redirects=True)
    assert "pro rata billing, billed invoices left as drafts, e-mailing billed invoices changed" in r.get_data(as_text=True)
    with app.app_context():
        row = db.session.get(CompanySettings, 1)
        assert (row.billing_pro_rata, row.billing_drafts, row.billing_email, row.bill_suspended) == (
            True, True, False, None)
        assert company.billing(db.session) == company.Billing(pro_rata=True, drafts=True, email=False,
                                                              bill_suspended=True)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "company_settings")).one()
        assert entry.changes["billing_email"] == [None, False]
    bad = admin.form("/company/", {"billing_pro_rata": "maybe"})
    assert "Pick one of the choices." in bad.get_data(as_text=True)
