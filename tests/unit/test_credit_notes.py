"""Credit notes through their service: a source of account credit that pays its invoice first,
never credits an invoice beyond its total, numbered without gaps, voided by reversing what it did."""
import uuid
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from app.extensions import db
from app.models import Allocation, CreditNote, Customer, Invoice, LedgerEntry, Payment, PaymentMethod, Release, \
    TaxRate
from app.services import money
from app.services.billing import credit_notes, invoices, ledger, payments
from app.services.errors import AlreadyDone, Forbidden, Invalid, NotFound
from tests import factories

D = Decimal
TODAY = date.today()


def key():
    return str(uuid.uuid4())


def rate(name="Zero rate"):
    return db.session.scalar(select(TaxRate.id).where(TaxRate.name == name))


def rows(*lines, tax="Zero rate", category="labour"):
    return [{"description": f"Line {i}", "quantity": q, "unit_price": p, "tax_rate_id": rate(tax), "category": category}
            for i, (q, p) in enumerate(lines)]


def issued(customer, *lines, tax="Zero rate"):
    return invoices.create_draft(db.session, factories.user("admin"), customer.id, {"lines": rows(*lines, tax=tax)},
                                 key(), issue_now=True)


def against_invoice(invoice, *lines, actor="finance", form_key=None, **data):
    data.setdefault("description", "Labour reduction")
    return credit_notes.create(db.session, factories.user(actor), {"lines": rows(*lines), **data}, form_key or key(),
                               invoice_id=invoice.id)


def against_customer(customer, *lines, actor="finance", **data):
    data.setdefault("description", "Goodwill")
    return credit_notes.create(db.session, factories.user(actor), {"lines": rows(*lines), **data}, key(),
                               customer_id=customer.id)


def cash():
    return db.session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == "Cash"))


def balance(customer):
    return db.session.scalar(select(Customer.balance).where(Customer.id == customer.id))


def test_against_an_invoice_it_pays_the_outstanding_first_and_the_rest_is_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    payments.record_payment(ctx, factories.user("finance"), invoice.id, {"amount": "70", "method_id": cash()}, key())
    note = against_invoice(invoice, ("1", "50"))
    source = ctx.get(Payment, note.payment_id)
    ctx.refresh(invoice)
    assert note.number == "CN-1" and note.status == "issued" and note.total == D("50")
    assert (source.kind, source.amount, source.reference) == ("credit_note", D("50"), "CN-1")
    assert invoice.outstanding == 0 and invoice.status == "paid"
    assert source.unallocated == D("20") and source.is_credit
    assert balance(customer) == D("-20")
    entry = ctx.scalars(select(LedgerEntry).where(LedgerEntry.source_table == "credit_note")).one()
    assert (entry.kind, entry.amount, entry.source_id) == ("credit_note", D("-50"), note.id)
    assert ledger.check(ctx) == []


def test_a_credit_note_for_part_of_an_unpaid_invoice_leaves_it_part_paid_and_no_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    note = against_invoice(invoice, ("1", "30"))
    ctx.refresh(invoice)
    source = ctx.get(Payment, note.payment_id)
    assert (invoice.outstanding, invoice.status) == (D("70"), "part_paid")
    assert source.unallocated == 0 and not source.is_credit
    assert balance(customer) == D("70")


def test_against_the_customer_all_of_it_is_account_credit(ctx):
    customer = factories.customer()
    note = against_customer(customer, ("2", "12.50"), notes="Sorry for the delay")
    source = ctx.get(Payment, note.payment_id)
    assert note.invoice_id is None and note.total == D("25")
    assert source.unallocated == D("25") and source.is_credit and source.invoice_id is None
    assert balance(customer) == D("-25")
    assert ctx.scalar(select(func.count(Allocation.id))) == 0


def test_its_credit_is_applied_refunded_and_listed_as_any_other_credit(ctx):
    customer = factories.customer()
    note = against_customer(customer, ("1", "40"))
    invoice = issued(customer, ("1", "30"))
    used, _ = payments.apply_to_oldest(ctx, factories.user("finance"), [note.payment_id], key())
    ctx.refresh(invoice)
    assert used == 1 and invoice.status == "paid"
    payments.refund(ctx, factories.user("finance"), note.payment_id, {"amount": "10", "method_id": cash()}, key())
    assert ctx.get(Payment, note.payment_id).unallocated == 0


def test_it_can_never_credit_more_than_is_left_across_several_credit_notes(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    against_invoice(invoice, ("1", "60"))
    against_invoice(invoice, ("1", "30"))
    assert credit_notes.left_to_credit(ctx, invoice) == D("10")
    with pytest.raises(Invalid) as error:
        against_invoice(invoice, ("1", "10.01"))
    ctx.rollback()
    assert "£10.00" in " ".join(error.value.errors["total"])
    assert ctx.scalar(select(func.count(CreditNote.id))) == 2
    against_invoice(invoice, ("1", "10"))
    assert credit_notes.left_to_credit(ctx, invoice) == 0


def test_a_void_credit_note_gives_back_what_it_took_of_the_limit(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    note = against_invoice(invoice, ("1", "100"))
    credit_notes.void(ctx, factories.user("finance"), note.id, "Raised by mistake", key())
    assert credit_notes.left_to_credit(ctx, invoice) == D("100")
    again = against_invoice(invoice, ("1", "100"))
    assert again.number == "CN-2"


def test_numbers_are_gap_free_even_when_a_save_is_refused(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "50"))
    first = against_customer(customer, ("1", "5"))
    with pytest.raises(Invalid):
        against_invoice(invoice, ("1", "80"))  # above what is left: refused after the lock
    ctx.rollback()
    second = against_invoice(invoice, ("1", "5"))
    assert (first.number, second.number) == ("CN-1", "CN-2")


def test_void_reverses_its_allocations_and_withdraws_its_credit(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    note = against_invoice(invoice, ("1", "100"))
    other = issued(customer, ("1", "20"))
    ctx.refresh(invoice)
    assert invoice.status == "paid"
    voided = credit_notes.void(ctx, factories.user("finance"), note.id, "Customer kept the boiler", key())
    ctx.refresh(invoice)
    source = ctx.get(Payment, note.payment_id)
    assert voided.status == "void" and voided.number == "CN-1" and voided.void_reason == "Customer kept the boiler"
    assert (invoice.outstanding, invoice.status) == (D("100"), "issued")
    reversal = ctx.scalars(select(Allocation).where(Allocation.amount < 0)).one()
    assert reversal.amount == D("-100") and reversal.reverses_id is not None
    assert source.unallocated == 0
    assert ctx.scalars(select(Release)).one().kind == "void"
    assert balance(customer) == D("120")
    assert other.outstanding == D("20")
    with pytest.raises(AlreadyDone):
        credit_notes.void(ctx, factories.user("finance"), note.id, "Again", key())
    assert ledger.check(ctx) == []


def test_a_credit_note_part_of_which_was_refunded_cannot_be_voided(ctx):
    customer = factories.customer()
    note = against_customer(customer, ("1", "40"))
    payments.refund(ctx, factories.user("finance"), note.payment_id, {"amount": "15", "method_id": cash()}, key())
    with pytest.raises(Invalid) as error:
        credit_notes.void(ctx, factories.user("finance"), note.id, "Wrong", key())
    ctx.rollback()
    assert "refunded" in error.value.messages
    assert ctx.get(CreditNote, note.id).status == "issued"


def test_its_credit_is_voided_with_the_credit_note_never_on_its_own(ctx):
    customer = factories.customer()
    note = against_customer(customer, ("1", "40"))
    with pytest.raises(Invalid) as error:
        payments.void_credit(ctx, factories.user("finance"), note.payment_id, "Withdrawn", key())
    ctx.rollback()
    assert "void the credit note" in error.value.messages


@pytest.mark.parametrize("currency, price, total", [("JPY", "1001", D("1001")), ("BHD", "1.005", D("1.005")),
                                                    ("GBP", "0.33", D("0.33"))])
def test_amounts_round_to_the_currency(ctx, currency, price, total):
    customer = factories.customer(currency=currency)
    invoice = issued(customer, ("3", price), tax="Standard rate")
    note = credit_notes.create(ctx, factories.user("finance"),
                               {"description": "Part", "lines": rows(("1", price), tax="Standard rate")}, key(),
                               invoice_id=invoice.id)
    assert note.net_total == total
    assert note.tax_total == money.quantize(total * D("0.2"), currency)
    assert note.total == note.net_total + note.tax_total


def test_jpy_decimals_are_refused(ctx):
    customer = factories.customer(currency="JPY")
    with pytest.raises(Invalid) as error:
        against_customer(customer, ("1", "10.5"))
    assert "lines.0.unit_price" in error.value.errors


@pytest.mark.parametrize("lines, field", [
    ([("1", "-5")], "lines"),
    ([("1", "0")], "lines"),
    ([("1", "99999999999")], "total"),
    ([], "lines"),
    ([("1", "abc")], "lines.0.unit_price"),
    ([("-1", "5")], "lines.0.quantity"),
])
def test_bad_lines_are_refused_and_nothing_is_written(ctx, lines, field):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    with pytest.raises(Invalid) as error:
        against_invoice(invoice, *lines)
    ctx.rollback()
    assert field in error.value.errors
    assert ctx.scalar(select(func.count(CreditNote.id))) == 0
    assert ctx.scalar(select(func.count(Payment.id))) == 0


def test_a_huge_line_is_refused_on_its_quantity(ctx):
    customer = factories.customer()
    with pytest.raises(Invalid) as error:
        against_customer(customer, ("99999999", "99999999999"))
    assert "lines.0.quantity" in error.value.errors


def test_the_description_is_required_and_text_is_kept_as_typed(ctx):
    customer = factories.customer()
    with pytest.raises(Invalid) as error:
        against_customer(customer, ("1", "5"), description="  ")
    assert "description" in error.value.errors
    ctx.rollback()
    note = against_customer(customer, ("1", "5"), description="<script>alert(1)</script> Ürün ☃",
                            notes="=HYPERLINK(\"http://x\")")
    assert note.description == "<script>alert(1)</script> Ürün ☃"
    with pytest.raises(Invalid) as error:
        against_customer(customer, ("1", "5"), description="x" * 256, breakdown_style="fancy")
    assert {"description", "breakdown_style"} <= set(error.value.errors)


def test_the_breakdown_style_defaults_from_the_company_setting(ctx):
    from app.models import CompanySettings
    customer = factories.customer()
    assert against_customer(customer, ("1", "5")).breakdown_style == "full"
    ctx.add(CompanySettings(id=1, credit_note_breakdown="category"))
    ctx.commit()
    assert against_customer(customer, ("1", "5")).breakdown_style == "category"
    assert against_customer(customer, ("1", "5"), breakdown_style="none").breakdown_style == "none"


def test_draft_and_void_invoices_cannot_be_credited(ctx):
    customer = factories.customer()
    draft = invoices.create_draft(ctx, factories.user("admin"), customer.id, {"lines": rows(("1", "10"))}, key())
    with pytest.raises(Invalid) as error:
        against_invoice(draft, ("1", "5"))
    assert "invoice_id" in error.value.errors
    ctx.rollback()
    invoice = issued(customer, ("1", "10"))
    invoices.void(ctx, factories.user("admin"), invoice.id, "Wrong", key())
    with pytest.raises(Invalid):
        against_invoice(invoice, ("1", "5"))


def test_a_line_must_credit_a_line_of_its_own_invoice(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "10"))
    other = issued(customer, ("1", "10"))
    line = {**rows(("1", "5"))[0], "invoice_line_id": other.lines[0].id}
    with pytest.raises(Invalid) as error:
        credit_notes.create(ctx, factories.user("finance"), {"description": "x", "lines": [line]}, key(),
                            invoice_id=invoice.id)
    assert "lines.0.description" in error.value.errors
    ctx.rollback()
    line["invoice_line_id"] = invoice.lines[0].id
    note = credit_notes.create(ctx, factories.user("finance"), {"description": "x", "lines": [line]}, key(),
                               invoice_id=invoice.id)
    assert note.lines[0].invoice_line_id == invoice.lines[0].id


def test_the_currency_sent_must_be_the_customers(ctx):
    customer = factories.customer(currency="GBP")
    with pytest.raises(Invalid) as error:
        against_customer(customer, ("1", "5"), currency="EUR")
    assert "currency" in error.value.errors


def test_a_double_submit_records_once(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    form_key = key()
    against_invoice(invoice, ("1", "10"), form_key=form_key)
    with pytest.raises(AlreadyDone):
        against_invoice(invoice, ("1", "10"), form_key=form_key)
    ctx.rollback()
    assert ctx.scalar(select(func.count(CreditNote.id))) == 1


@pytest.mark.parametrize("actor", ["readonly", "staff", "reseller_a"])
def test_only_who_posts_money_raises_or_voids_credit_notes(ctx, actor):
    customer = factories.customer(reseller_id=factories.reseller_id("Reseller A"))
    invoice = issued(customer, ("1", "100"))
    with pytest.raises(Forbidden):
        against_invoice(invoice, ("1", "10"), actor=actor)
    ctx.rollback()
    note = against_invoice(invoice, ("1", "10"))
    with pytest.raises(Forbidden):
        credit_notes.void(ctx, factories.user(actor), note.id, "No", key())


def test_another_resellers_invoice_and_credit_note_are_not_found(ctx):
    mine = factories.customer(reseller_id=factories.reseller_id("Reseller A"))
    theirs = factories.customer(reseller_id=factories.reseller_id("Reseller B"))
    invoice = issued(theirs, ("1", "100"))
    note = against_invoice(invoice, ("1", "10"))
    reseller = factories.user("reseller_a")
    with pytest.raises(NotFound):
        credit_notes.get_credit_note(ctx, reseller, note.id)
    with pytest.raises(NotFound):
        credit_notes.page(ctx, reseller, theirs.id)
    assert credit_notes.get_credit_note(ctx, factories.user("reseller_b"), note.id).id == note.id
    assert credit_notes.page(ctx, reseller, mine.id) == ([], None)


def test_a_missing_or_nonsense_id_is_not_found(ctx):
    for value in (999999, "abc", None, -1, 10**30):
        with pytest.raises(NotFound):
            credit_notes.get_credit_note(ctx, factories.user("admin"), value)


def test_the_ledger_check_finds_a_credit_note_that_disagrees_with_its_source(ctx):
    customer = factories.customer()
    note = against_customer(customer, ("1", "40"))
    ctx.execute(CreditNote.__table__.update().where(CreditNote.id == note.id).values(total=D("41")))
    found = ledger.check(ctx)
    assert any(d.what == "credit_note" and d.id == note.id for d in found)
    ctx.rollback()


# ---- random histories ---------------------------------------------------------------------------
STEPS = st.lists(st.one_of(
    st.tuples(st.just("note"), st.integers(0, 3), st.integers(-50, 150_000)),
    st.tuples(st.just("void"), st.integers(0, 5)),
    st.tuples(st.just("pay"), st.integers(0, 3), st.integers(1, 100_000)),
    st.tuples(st.just("void_invoice"), st.integers(0, 3)),
), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(currency=st.sampled_from(["GBP", "JPY", "BHD"]), steps=STEPS)
def test_random_credit_notes_never_credit_an_invoice_beyond_its_total(ctx, currency, steps):
    actor = factories.user("finance")
    customer = factories.customer(currency=currency)
    places = money.minor_units(currency)
    made = [issued(customer, ("1", str(D(n * 10 ** places).scaleb(-places)))).id for n in (100, 250)]
    notes = []
    for step in steps:
        try:
            if step[0] == "note":
                amount = str(D(step[2]).scaleb(-places))
                target = made[step[1]] if step[1] < len(made) else None
                note = credit_notes.create(ctx, actor, {"description": "Random", "lines": rows(("1", amount))},
                                           key(), invoice_id=target, customer_id=customer.id)
                notes.append(note.id)
            elif step[0] == "void" and notes:
                credit_notes.void(ctx, actor, notes[step[1] % len(notes)], "Random", key())
            elif step[0] == "pay":
                payments.record_payment(ctx, actor, made[step[1] % len(made)],
                                        {"amount": str(D(step[2]).scaleb(-places)), "method_id": cash()}, key())
            elif step[0] == "void_invoice":
                invoices.void(ctx, actor, made[step[1] % len(made)], "Random", key())
        except (Invalid, AlreadyDone):
            ctx.rollback()
    assert ledger.check(ctx) == []
    for invoice in ctx.scalars(select(Invoice).where(Invoice.customer_id == customer.id)):
        assert credit_notes.credited(ctx, invoice.id) <= invoice.total
        assert 0 <= invoice.outstanding <= invoice.total
    for payment in ctx.scalars(select(Payment).where(Payment.customer_id == customer.id)):
        assert 0 <= payment.unallocated <= payment.amount
    db.session.rollback()


def test_a_merge_moves_the_duplicates_credit_notes_to_the_survivor(ctx):
    from app.services.customers import merge
    survivor, duplicate = factories.customer(), factories.customer()
    note = against_customer(duplicate, ("1", "25"))
    sid = survivor.id
    merge.merge(ctx, factories.user("admin"), sid, duplicate.id)
    assert ctx.get(CreditNote, note.id).customer_id == sid
    assert balance(ctx.get(Customer, sid)) == D("-25")
    assert ledger.check(ctx) == []


def test_the_company_settings_keep_the_prefix_and_the_default_style(ctx):
    from app.services import company
    admin = factories.user("admin")
    changed = company.update(ctx, admin, {"credit_note_prefix": "CR/", "credit_note_breakdown": "full_category"})
    assert set(changed) == {"credit_note_prefix", "credit_note_breakdown"}
    note = against_customer(factories.customer(), ("1", "5"))
    assert note.number == "CR/1" and note.breakdown_style == "full_category"
    company.update(ctx, admin, {"credit_note_prefix": "CN-"})
    assert against_customer(factories.customer(), ("1", "5")).number == "CN-2"  # the count goes on: no repeat
    for bad in ({"credit_note_prefix": "CN1"}, {"credit_note_prefix": "C N"}, {"credit_note_breakdown": "fancy"}):
        with pytest.raises(Invalid) as error:
            company.update(ctx, admin, bad)
        assert set(error.value.errors) == set(bad)
        ctx.rollback()
    with pytest.raises(Forbidden):
        company.update(ctx, factories.user("finance"), {"credit_note_prefix": "X-"})


def test_a_credit_notes_number_is_not_changed_through_its_credit(ctx):
    note = against_customer(factories.customer(), ("1", "5"))
    with pytest.raises(Invalid) as error:
        payments.update_source(ctx, factories.user("finance"), note.payment_id, {"reference": "Something else"})
    ctx.rollback()
    assert "reference" in error.value.errors
    assert payments.update_source(ctx, factories.user("finance"), note.payment_id,
                                  {"reference": "CN-1", "notes": "Called the customer"}).notes == "Called the customer"


def test_an_invoice_with_a_standing_credit_note_is_not_voided_until_the_credit_note_is(ctx):
    customer = factories.customer()
    invoice = issued(customer, ("1", "100"))
    note = against_invoice(invoice, ("1", "100"))
    with pytest.raises(Invalid) as error:
        invoices.void(ctx, factories.user("finance"), invoice.id, "Wrong customer", key())
    assert f"credit note {note.number}: void it first" in error.value.errors["status"][0]
    ctx.rollback()
    ctx.refresh(invoice)
    assert invoice.status == "paid" and balance(customer) == 0
    credit_notes.void(ctx, factories.user("finance"), note.id, "Raised in error", key())
    invoices.void(ctx, factories.user("finance"), invoice.id, "Wrong customer", key())
    ctx.refresh(invoice)
    assert invoice.status == "void" and balance(customer) == 0
    assert ctx.scalar(select(func.sum(Payment.unallocated)).where(Payment.customer_id == customer.id)) == 0
    assert ledger.check(ctx) == []
