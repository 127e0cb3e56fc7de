"""Property-based: any sequence of invoices, payments, external payments, credits, refunds, voids,
applications and adjustments, in any currency, leaves books that agree.

After each random history: `flask ledger check` finds nothing, every invoice's totals are the sums
of its lines, no outstanding and no unallocated rest is below zero, and the balance equals what
is owed on invoices minus the account credit plus the adjustments. A command the rules refuse
(more refund than credit, a payment on a void invoice...) writes nothing and the history goes on.
"""
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Adjustment, Customer, Invoice, InvoiceLine, Payment, PaymentMethod, TaxRate
from app.services import money
from app.services.billing import invoices, ledger, payments
from app.services.errors import AlreadyDone, Invalid
from tests import factories

AMOUNTS = st.integers(min_value=-500, max_value=200_000)  # in minor units; some are refused
INDEX = st.integers(min_value=0, max_value=5)
STEPS = st.one_of(
    st.tuples(st.just("invoice"), st.lists(st.tuples(st.integers(1, 5), AMOUNTS), min_size=0, max_size=3),
              st.sampled_from(["Standard rate", "Reduced rate", "Zero rate"])),
    st.tuples(st.just("pay"), INDEX, AMOUNTS),
    st.tuples(st.just("external"), AMOUNTS),
    st.tuples(st.just("credit"), AMOUNTS),
    st.tuples(st.just("refund"), INDEX, AMOUNTS),
    st.tuples(st.just("void_invoice"), INDEX),
    st.tuples(st.just("void_credit"), INDEX),
    st.tuples(st.just("apply"), INDEX),
    st.tuples(st.just("adjust"), AMOUNTS),
)


def _amount(minor: int, currency: str) -> str:
    return str(Decimal(minor).scaleb(-money.minor_units(currency)))


def _key():
    return str(uuid.uuid4())


def _pick(items, index):
    return items[index % len(items)] if items else None


def _run(session, actor, customer, step, made_invoices, made_sources, cash, rate_ids):
    kind, currency = step[0], customer.currency
    if kind == "invoice":
        lines = [{"description": f"Line {i}", "quantity": q, "unit_price": _amount(p, currency),
                  "tax_rate_id": rate_ids[step[2]]} for i, (q, p) in enumerate(step[1])]
        draft = invoices.create_draft(session, actor, customer.id, {"lines": lines}, _key())
        made_invoices.append(draft.id)
        invoices.issue(session, actor, draft.id, _key())
    elif kind == "pay" and made_invoices:
        payment = payments.record_payment(session, actor, _pick(made_invoices, step[1]),
                                          {"amount": _amount(step[2], currency), "method_id": cash}, _key())
        made_sources.append(payment.id)
    elif kind == "external":
        made_sources.append(payments.record_external(
            session, actor, customer.id, {"amount": _amount(step[1], currency), "method_id": cash}, _key()).id)
    elif kind == "credit":
        made_sources.append(payments.add_credit(
            session, actor, customer.id, {"amount": _amount(step[1], currency), "reason": "Goodwill"}, _key()).id)
    elif kind == "refund" and made_sources:
        payments.refund(session, actor, _pick(made_sources, step[1]),
                        {"amount": _amount(step[2], currency), "method_id": cash}, _key())
    elif kind == "void_invoice" and made_invoices:
        invoices.void(session, actor, _pick(made_invoices, step[1]), "Wrong", _key())
    elif kind == "void_credit" and made_sources:
        payments.void_credit(session, actor, _pick(made_sources, step[1]), "Withdrawn", _key())
    elif kind == "apply" and made_sources:
        payments.apply_to_oldest(session, actor, [_pick(made_sources, step[1])], _key())
    elif kind == "adjust":
        payments.adjust_balance(session, actor, customer.id, {"amount": _amount(step[1], currency),
                                                              "reason": "Correction"}, _key())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(currency=st.sampled_from(["GBP", "JPY", "BHD"]), steps=st.lists(STEPS, min_size=1, max_size=14))
def test_any_history_leaves_books_that_agree(ctx, currency, steps):
    actor = factories.user("finance")
    customer = factories.customer(currency=currency)
    cash = ctx.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))
    rate_ids = dict(ctx.execute(select(TaxRate.name, TaxRate.id)).all())
    made_invoices, made_sources = [], []
    for step in steps:
        try:
            _run(ctx, actor, customer, step, made_invoices, made_sources, cash, rate_ids)
        except (Invalid, AlreadyDone):
            ctx.rollback()  # refused: nothing written, the history goes on

    assert ledger.check(ctx) == []
    mine = Invoice.customer_id == customer.id
    for invoice in ctx.scalars(select(Invoice).where(mine)):
        lines = ctx.execute(select(func.coalesce(func.sum(InvoiceLine.net), 0), func.coalesce(func.sum(InvoiceLine.tax), 0))
                            .where(InvoiceLine.invoice_id == invoice.id)).one()
        assert (invoice.net_total, invoice.tax_total) == (Decimal(lines[0]), Decimal(lines[1]))
        assert invoice.total == invoice.net_total + invoice.tax_total
        assert invoice.outstanding >= 0
        assert invoice.status == "draft" or invoice.outstanding <= invoice.total  # a draft may total below 0
        assert invoice.total == money.quantize(invoice.total, currency)
    for payment in ctx.scalars(select(Payment).where(Payment.customer_id == customer.id)):
        assert 0 <= payment.unallocated <= payment.amount
    owed = ctx.scalar(select(func.coalesce(func.sum(Invoice.outstanding), 0)).where(mine))
    credit = ctx.scalar(select(func.coalesce(func.sum(Payment.unallocated), 0)).where(Payment.customer_id == customer.id))
    adjusted = ctx.scalar(select(func.coalesce(func.sum(Adjustment.amount), 0)).where(Adjustment.customer_id == customer.id))
    balance = ctx.scalar(select(Customer.balance).where(Customer.id == customer.id))
    assert balance == Decimal(owed) - Decimal(credit) + Decimal(adjusted)
    db.session.rollback()
