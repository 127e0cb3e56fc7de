"""A customer's billing settings, read by whoever may see the customer and changed by who posts money
(Finance, Admin): creditor days, currency (only while it has no money record), tax exemption or special
rate, price book, do not suspend, payment reminders (none: the company's default), statements."""
import uuid

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, CompanySettings, PriceBook, TaxRate
from app.services import company
from app.services.billing import billing_settings, invoices
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories


def save(customer, actor="finance", **data):
    return billing_settings.save(db.session, factories.user(actor), customer.id, data)


def read(customer, actor="finance"):
    return billing_settings.read(db.session, factories.user(actor), customer.id)


def rate(name):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def test_a_new_customer_has_the_companys_defaults(ctx):
    c = factories.customer()
    settings = read(c, "readonly")
    assert settings.values["payment_reminders"] is None and settings.payment_reminders == "automatic"
    assert settings.values["do_not_suspend"] is False and settings.values["creditor_days"] is None
    assert not settings.currency_fixed and not settings.may_change
    assert read(c, "admin").may_change
    ctx.add(CompanySettings(id=1, default_payment_reminders="manual", default_creditor_days=30))
    ctx.commit()
    settings = read(c)
    assert (settings.payment_reminders, settings.default_creditor_days) == ("manual", 30)


def test_each_setting_is_saved_and_audited(ctx):
    c = factories.customer()
    book = PriceBook(name="Trade", active=True, is_default=False)
    ctx.add(book)
    ctx.commit()
    changed = save(c, creditor_days="30", currency="eur", tax_exempt="", tax_rate_id=rate("Reduced rate"),
                   price_book_id=book.id, do_not_suspend="on", payment_reminders="off", use_credit="ask",
                   group_statements_by_contact="yes", attach_invoices_to_statements="1")
    assert set(changed) == set(billing_settings.FIELDS) - {"tax_exempt"}
    assert read(c).values == {"creditor_days": 30, "currency": "EUR", "tax_exempt": False,
                              "tax_rate_id": rate("Reduced rate"), "price_book_id": book.id, "do_not_suspend": True,
                              "payment_reminders": "off", "use_credit": "ask", "group_statements_by_contact": True,
                              "attach_invoices_to_statements": True}
    assert save(c, payment_reminders="off", do_not_suspend="on") == []  # the same again changes nothing
    assert save(c, tax_exempt="y", tax_rate_id="", payment_reminders="", price_book_id="") == \
        ["tax_exempt", "tax_rate_id", "price_book_id", "payment_reminders"]
    assert read(c).payment_reminders == "automatic"
    changes = ctx.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "customer",
                                                          AuditEntry.entity_id == c.id)).all()
    assert any("do_not_suspend" in change for change in changes)


def test_the_creditor_days_set_the_due_date(ctx):
    from datetime import date, timedelta
    c = factories.customer()
    save(c, creditor_days=14)
    assert invoices.due_date_default(ctx, c, date(2026, 1, 1)) == date(2026, 1, 1) + timedelta(days=14)


def test_bad_values_are_refused_all_at_once(ctx):
    c = factories.customer()
    with pytest.raises(Invalid) as caught:
        save(c, creditor_days="13", currency="XXY", tax_rate_id="999999", price_book_id="999999",
             payment_reminders="sometimes", use_credit="always")
    assert set(caught.value.errors) == {"creditor_days", "currency", "tax_rate_id", "price_book_id",
                                        "payment_reminders", "use_credit"}


def test_account_credit_used_on_issue_is_a_billing_setting(ctx):
    c = factories.customer()
    assert save(c, use_credit="automatic") == ["use_credit"]
    assert read(c).values["use_credit"] == "automatic"
    assert save(c, use_credit="") == ["use_credit"] and read(c).values["use_credit"] is None  # the default


def test_the_currency_is_fixed_once_the_customer_has_money(ctx):
    c = factories.customer()
    rows = [{"description": "Work", "quantity": "1", "unit_price": "10", "tax_rate_id": rate("Zero rate"),
             "category": "labour"}]
    invoices.create_draft(ctx, factories.user("finance"), c.id, {"lines": rows}, str(uuid.uuid4()))
    assert read(c).currency_fixed
    with pytest.raises(Invalid) as caught:
        save(c, currency="USD")
    assert "cannot change to USD" in caught.value.messages
    assert save(c, currency="gbp", creditor_days="7") == ["creditor_days"]  # its own currency is no change


def test_only_who_posts_money_changes_them_and_others_read_within_scope(ctx):
    c = factories.customer("reseller_a")
    for actor in ("staff", "readonly", "reseller_a"):
        with pytest.raises(Forbidden):
            save(c, actor, do_not_suspend="on")
        assert read(c, actor).values["do_not_suspend"] is False
    assert save(c, "admin", do_not_suspend="on") == ["do_not_suspend"]
    with pytest.raises(NotFound):
        read(c, "reseller_b")


def test_the_company_default_reminders_and_format_are_company_settings(ctx):
    company.update(ctx, factories.user("admin"), {"default_payment_reminders": "manual",
                                                  "invoice_address_format": "[customer_name], [postcode]"})
    row = ctx.get(CompanySettings, 1)
    assert (row.default_payment_reminders, row.invoice_address_format) == ("manual", "[customer_name], [postcode]")
    with pytest.raises(Invalid) as caught:
        company.update(ctx, factories.user("admin"), {"default_payment_reminders": "never",
                                                      "invoice_address_format": "{{ x }}"})
    assert set(caught.value.errors) == {"default_payment_reminders", "invoice_address_format"}
