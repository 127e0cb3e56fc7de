"""Company settings for invoices: name, address, tax number, logo (PNG or JPEG by its bytes, at most
512 KB, previewed, removable), bank details, the invoice numbers (raised, never back onto an issued
number), the default creditor days and the default tax rate (one at a time); the base currency is
shown, not edited."""
import io
import uuid

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import AuditEntry, CompanySettings, DocumentSequence, TaxRate
from app.services import company
from app.services.billing import invoices
from app.services.errors import Invalid
from tests import factories as f

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


@pytest.fixture(autouse=True)
def sequence_back(app):
    """Each test leaves the invoice numbers as migration 0018 made them."""
    yield
    with app.app_context():
        db.session.execute(update(DocumentSequence).where(DocumentSequence.kind == "invoice")
                           .values(prefix="INV-", next_number=1))
        db.session.commit()


def rate_id(name):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def issue_one(customer):
    admin = f.user("admin")
    draft = invoices.create_draft(db.session, admin, customer.id, {"lines": [
        {"description": "Work", "quantity": 1, "unit_price": "10.00"}]}, str(uuid.uuid4()))
    return invoices.issue(db.session, admin, draft.id, str(uuid.uuid4()))


def test_an_admin_saves_what_invoices_say_and_the_form_names_what_changed(app, login):
    admin = login("admin")
    with app.app_context():
        reduced = rate_id("Reduced rate")
    r = admin.form("/company/", {"company_name": "Soapy Ltd", "company_address": "1 High St\nLeeds",
                                 "tax_number": "GB123456789", "bank_details": "Sort code 00-00-00\nAccount 12345678",
                                 "default_creditor_days": "30", "invoice_prefix": "INV-", "invoice_next_number": "1",
                                 "default_tax_rate_id": str(reduced)}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert ("Company settings saved: company name, company address, tax number, bank details, default creditor "
            "days, default tax rate changed.") in html
    assert 'id="base_currency">GBP<' in html and 'name="base_currency"' not in html  # shown, never posted
    with app.app_context():
        row = db.session.get(CompanySettings, 1)
        assert (row.company_name, row.company_address, row.tax_number, row.default_creditor_days) == (
            "Soapy Ltd", "1 High St\nLeeds", "GB123456789", 30)
        assert db.session.scalars(select(TaxRate.name).where(TaxRate.is_default.is_(True))).all() == ["Reduced rate"]
        entities = set(db.session.scalars(select(AuditEntry.entity)))
        assert {"company_settings", "tax_rate"} <= entities


def test_the_default_tax_rate_switches_in_one_transaction_and_new_lines_take_it(ctx):
    admin = f.user("admin")
    assert company.update(ctx, admin, {"default_tax_rate_id": str(rate_id("Zero rate"))}) == ["default_tax_rate_id"]
    assert ctx.scalars(select(TaxRate.name).where(TaxRate.is_default.is_(True))).all() == ["Zero rate"]
    customer = f.customer()
    draft = invoices.create_draft(ctx, admin, customer.id, {"lines": [
        {"description": "Work", "quantity": 1, "unit_price": "10.00"}]}, str(uuid.uuid4()))
    assert (draft.lines[0].tax_name, draft.tax_total) == ("Zero rate", 0)
    assert company.update(ctx, admin, {"default_tax_rate_id": str(rate_id("Zero rate"))}) == []
    with pytest.raises(Invalid) as error:
        company.update(ctx, admin, {"default_tax_rate_id": "999999"})
    assert "Pick a tax rate" in error.value.errors["default_tax_rate_id"][0]


def test_a_logo_is_checked_by_its_bytes_previewed_and_removable(app, login):
    admin = login("admin")
    admin.get("/company/")
    r = admin.post("/company/", {"logo": (io.BytesIO(b"GIF89a" + b"\x00" * 20), "logo.png")},
                   content_type="multipart/form-data")
    assert "The logo must be a PNG or JPEG image." in r.get_data(as_text=True)
    too_big = PNG + b"\x00" * (company.LOGO_BYTES)
    r = admin.post("/company/", {"logo": (io.BytesIO(too_big), "big.png")}, content_type="multipart/form-data")
    assert "The logo is too big: at most 512 KB." in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CompanySettings, 1) is None  # nothing saved
    r = admin.post("/company/", {"logo": (io.BytesIO(JPEG), "logo.txt")}, content_type="multipart/form-data",
                   follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "Company settings saved: logo changed." in html
    assert 'id="logo-preview"><img src="data:image/jpeg;base64,' in html and 'id="remove_logo"' in html
    with app.app_context():
        row = db.session.get(CompanySettings, 1)
        assert (row.logo, row.logo_type) == (JPEG, "image/jpeg")
        (entry,) = [e for e in db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "company_settings"))
                    if "logo" in (e.changes or {})]
        assert entry.changes["logo"] == [None, "image/jpeg, 0.1 KB"]  # never the bytes
    r = admin.post("/company/", {"remove_logo": "1"}, follow_redirects=True)
    assert "logo changed" in r.get_data(as_text=True) and "No logo yet." in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(CompanySettings, 1).logo is None


def test_the_next_invoice_number_is_never_set_back_onto_an_issued_one(ctx):
    admin = f.user("admin")
    customer = f.customer()
    issue_one(customer)
    issue_one(customer)  # INV-1, INV-2; next is 3
    with pytest.raises(Invalid) as error:
        company.update(ctx, admin, {"invoice_next_number": "2"})
    assert error.value.errors["invoice_next_number"] == [
        "Invoice INV-2 was already issued: the next number with the prefix INV- must be at least 3."]
    ctx.rollback()
    assert company.numbering(ctx).next == "INV-3"
    assert company.update(ctx, admin, {"invoice_next_number": "100"}) == ["invoice_next_number"]
    with pytest.raises(Invalid) as error:  # nothing issued past 2, but numbers only go up
        company.update(ctx, admin, {"invoice_next_number": "50"})
    assert "can only be raised: it is 100 now" in error.value.errors["invoice_next_number"][0]
    ctx.rollback()
    assert issue_one(customer).number == "INV-100"


def test_a_new_prefix_may_start_again_and_an_old_one_keeps_its_numbers_unique(ctx):
    admin = f.user("admin")
    customer = f.customer()
    issue_one(customer)  # INV-1
    assert company.update(ctx, admin, {"invoice_prefix": "2027/", "invoice_next_number": "1"}) == [
        "invoice_prefix", "invoice_next_number"]
    assert issue_one(customer).number == "2027/1"
    with pytest.raises(Invalid) as error:  # back to INV- at 1 would issue INV-1 again
        company.update(ctx, admin, {"invoice_prefix": "INV-", "invoice_next_number": "1"})
    assert "Invoice INV-1 was already issued" in error.value.errors["invoice_next_number"][0]
    ctx.rollback()
    for bad in ("INV1", "IN V-", "<b>"):
        with pytest.raises(Invalid) as error:
            company.update(ctx, admin, {"invoice_prefix": bad})
        assert "invoice_prefix" in error.value.errors
        ctx.rollback()


def test_a_lowered_next_number_in_the_browser_is_refused_next_to_its_field(app, login):
    with app.app_context():
        customer = f.customer()
        issue_one(customer)
        issue_one(customer)
    r = login("admin").form("/company/", {"invoice_prefix": "INV-", "invoice_next_number": "1"})
    html = r.get_data(as_text=True)
    assert "nothing was saved" in html
    assert "Invoice INV-2 was already issued: the next number with the prefix INV- must be at least 3." in html
    with app.app_context():
        assert company.numbering(db.session).next == "INV-3"


def test_creditor_days_are_one_of_the_customers_choices(ctx):
    with pytest.raises(Invalid) as error:
        company.update(ctx, f.user("admin"), {"default_creditor_days": "31"})
    assert "default_creditor_days" in error.value.errors


def test_the_write_off_limit_and_the_account_credit_default_are_set_on_the_form(app, login):
    from app.services.billing import allocation
    admin = login("admin")
    html = admin.client.get("/company/").get_data(as_text=True)
    assert 'id="write_off_limit"' in html and 'placeholder="£5.00"' in html and 'id="use_credit_default"' in html
    r = admin.form("/company/", {"write_off_limit": "2.5", "use_credit_default": "ask"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "write-off limit, account credit on new invoices changed." in html
    assert 'value="2.50"' in html and '<option value="ask" selected>' in html
    with app.app_context():
        assert allocation.write_off_limit(db.session) == 2.5
        assert allocation.use_credit(db.session, f.customer()) == "ask"
    for bad, field in (("-1", "write_off_limit"), ("<script>", "write_off_limit"), ("always", "use_credit_default")):
        r = admin.form("/company/", {field: bad})
        page = r.get_data(as_text=True)
        assert r.status_code == 200 and "Company settings saved" not in page and "has-error" in page, bad
        assert "<script>" not in page.split('id="write_off_limit"')[1].split(">")[0]  # shown escaped
    with app.app_context():
        row = db.session.get(CompanySettings, 1)
        assert (row.write_off_limit, row.use_credit_default) == (2.5, "ask")
    r = admin.form("/company/", {"write_off_limit": "", "use_credit_default": ""}, follow_redirects=True)
    with app.app_context():
        assert allocation.write_off_limit(db.session) == allocation.WRITE_OFF_LIMIT_DEFAULT
        assert allocation.use_credit(db.session, f.customer()) == "off"


def test_the_grace_period_before_suspension_for_late_payment_is_set_on_the_form(app, login):
    admin = login("admin")
    html = admin.client.get("/company/").get_data(as_text=True)
    assert 'id="suspend_grace_days"' in html and 'placeholder="No automatic suspension"' in html
    r = admin.form("/company/", {"suspend_grace_days": "14"}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "grace period before suspension changed." in html and 'value="14"' in html
    r = admin.form("/company/", {"suspend_grace_days": "-3"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "has-error" in page and "0 to 365 days" in page
    with app.app_context():
        assert db.session.get(CompanySettings, 1).suspend_grace_days == 14
