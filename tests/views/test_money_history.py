"""What users do to money is in the customer's Changes tab, in words: an invoice added and issued
(one entry each), a payment recorded, a balance adjusted; amounts in the customer's currency."""
import re
import uuid
from decimal import Decimal

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, PaymentMethod, TaxRate
from app.services.billing import invoices, payments
from tests import factories


def key():
    return str(uuid.uuid4())


def test_the_changes_tab_tells_the_money_story(app, ctx, login):
    admin = factories.user("admin")
    customer = factories.customer(currency="JPY")
    zero = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    cash = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    draft = invoices.create_draft(ctx, admin, customer.id, {"lines": [
        {"description": "Visit", "quantity": 1, "unit_price": "1234", "tax_rate_id": zero}]}, key())
    invoice = invoices.issue(ctx, admin, draft.id, key())
    payments.record_payment(ctx, admin, invoice.id, {"amount": "1000", "method_id": cash, "reference": "BACS 7"},
                            key())
    payments.adjust_balance(ctx, admin, customer.id, {"amount": "-34", "reason": "Rounding agreed"}, key())
    assert [(e.entity, e.action) for e in ctx.scalars(select(AuditEntry).where(
        AuditEntry.entity == "invoice").order_by(AuditEntry.id))] == [("invoice", "create"), ("invoice", "update"),
                                                                      ("invoice", "update")]  # added, issued, paid part
    html = login("admin").get(f"/customers/show/{customer.id}?tab=changes").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Added invoice INV-1" in text and "Status : Draft → Issued" in text
    assert "Added payment or credit BACS 7" in text and "JP¥1,000" in text
    assert "Added balance adjustment" in text and "Rounding agreed" in text and "-JP¥34" in text
    db.session.rollback()


def test_an_allocation_and_its_undoing_are_in_the_changes_tab(app, ctx, login):
    from app.services.billing import allocation
    admin = factories.user("admin")
    customer = factories.customer()
    zero = ctx.scalar(select(TaxRate.id).where(TaxRate.name == "Zero rate"))
    cash = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    invoice = invoices.create_draft(ctx, admin, customer.id, {"lines": [
        {"description": "Visit", "quantity": 1, "unit_price": "40.00", "tax_rate_id": zero}]}, key(), issue_now=True)
    saved = allocation.save(ctx, admin, customer.id, {
        "amount": "25.00", "method_id": cash, "reference": "BACS 9",
        "rows": [{"invoice_id": invoice.id, "amount": "25.00", "seen_outstanding": "40.00"}]}, key())
    allocation.unallocate(ctx, admin, saved.allocations[0].id, key())
    entries = ctx.scalars(select(AuditEntry).where(AuditEntry.entity == "allocation").order_by(AuditEntry.id)).all()
    assert [(e.action, Decimal(e.changes["amount"][1])) for e in entries] == [("create", 25), ("create", -25)]
    assert entries[1].changes["reverses_id"][1] == saved.allocations[0].id
    html = login("admin").get(f"/customers/show/{customer.id}?tab=changes").get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    assert "Added allocation" in text and "-£25.00" in text and "BACS 9" in text and "INV-1" in text
    db.session.rollback()
