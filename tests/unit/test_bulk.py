"""Bulk actions (iBill's enable, disable, delete, edit on ticked customers): set-based, scoped, audited."""
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.models import (
    AuditEntry,
    Contact,
    Customer,
    CustomerService,
    Message,
    Tag,
    customer_tag,
    job_customer,
)
from app.services.customers import bulk
from app.services.customers.update import update_customer
from app.services.errors import Forbidden, Invalid
from tests import factories as f


def service(ctx, customer_id, name="Broadband 40", status="active"):
    s = CustomerService(customer_id=customer_id, name=name, price=Decimal("25.00"), status=status)
    ctx.add(s)
    ctx.commit()
    return s.id


def do(ctx, actor, action, ids=None, matching=None, **params):
    job = bulk.prepare(ctx, f.user(actor), action, params, ids=ids, matching=matching)
    ctx.commit()
    return bulk.run(ctx, job, chunk=2)


def statuses(ctx, ids):
    return [ctx.get(Customer, i).status for i in ids]


def test_disable_suspends_active_services_and_enable_restores_only_those(ctx):
    a, b = f.customer().id, f.customer().id
    broadband, old = service(ctx, a), service(ctx, a, "Old hosting", status="suspended")
    job = do(ctx, "admin", "disable", ids=[a, b])
    assert job.status == "done" and job.result["changed"] == 2 and job.done == 2
    ctx.expire_all()
    assert statuses(ctx, [a, b]) == ["disabled", "disabled"]
    assert ctx.get(CustomerService, broadband).status == "suspended"
    do(ctx, "admin", "enable", ids=[a, b])
    ctx.expire_all()
    assert statuses(ctx, [a, b]) == ["active", "active"]
    assert ctx.get(CustomerService, broadband).status == "active"
    assert ctx.get(CustomerService, old).status == "suspended"  # not suspended by the disable


def test_each_status_change_is_audited_per_customer_with_old_and_new(ctx):
    a, b = f.customer().id, f.customer(status="dormant").id
    do(ctx, "staff", "disable", ids=[a, b])
    entries = ctx.scalars(select(AuditEntry).where(AuditEntry.entity == "customer", AuditEntry.action == "update")
                          .order_by(AuditEntry.customer_id)).all()
    assert [(e.customer_id, e.changes, e.username) for e in entries] == [
        (a, {"status": ["active", "disabled"]}, "staff"), (b, {"status": ["dormant", "disabled"]}, "staff")]


def test_customers_an_action_does_not_apply_to_are_left_alone_and_counted(ctx):
    active, archived, disabled = f.customer().id, f.customer(status="archived").id, f.customer(status="disabled").id
    job = do(ctx, "admin", "enable", ids=[active, archived, disabled])
    assert job.result["changed"] == 1
    assert job.result["skipped"] == {"already active": 1, "archived: cannot be made active": 1}
    job = do(ctx, "admin", "unarchive", ids=[active, archived])
    ctx.expire_all()
    assert statuses(ctx, [active, archived]) == ["active", "active"]
    assert job.result == {"changed": 1, "skipped": {"already active": 1}}


def test_archive_keeps_the_data(ctx):
    c = f.customer(email="keep@example.com").id
    do(ctx, "admin", "archive", ids=[c])
    ctx.expire_all()
    assert ctx.get(Customer, c).status == "archived" and ctx.get(Customer, c).email == "keep@example.com"


def test_a_reseller_acts_only_within_their_scope_and_forged_ids_are_reported(ctx):
    own = f.customer(reseller_id=f.reseller_id("Reseller A")).id
    other = f.customer(reseller_id=f.reseller_id("Reseller B")).id
    job = do(ctx, "reseller_a", "disable", ids=[own, other, 999_999_999])
    ctx.expire_all()
    assert statuses(ctx, [own, other]) == ["disabled", "active"]
    assert job.total == 1 and job.result["not_found"] == 2
    with pytest.raises(Invalid):
        bulk.prepare(ctx, f.user("reseller_a"), "disable", {}, ids=[other])
    ctx.rollback()


def test_all_matching_a_filter_across_pages(ctx):
    ids = [f.customer(surname=f"Match{i}").id for i in range(5)] + [f.customer(surname="Other").id]
    matching = select(Customer.id).where(Customer.surname.like("Match%"))
    job = do(ctx, "admin", "archive", matching=matching)
    ctx.expire_all()
    assert job.total == 5 and job.result["changed"] == 5
    assert statuses(ctx, ids) == ["archived"] * 5 + ["active"]
    assert ctx.scalar(select(job_customer.c.job_id).limit(1)) is None  # cleaned up


def test_delete_needs_the_typed_word_and_an_admin(ctx):
    c = f.customer().id
    with pytest.raises(Invalid) as e:
        bulk.prepare(ctx, f.user("admin"), "delete", {"confirm": "yes"}, ids=[c])
    assert e.value.errors == {"confirm": ['Type the word "delete" to confirm.']}
    ctx.rollback()
    with pytest.raises(Forbidden):
        bulk.prepare(ctx, f.user("reseller_a"), "delete", {"confirm": "delete"}, ids=[c])
    ctx.rollback()
    assert ctx.get(Customer, c) is not None


def test_delete_removes_the_customers_and_everything_theirs_and_audits_it(ctx):
    from app.services.customers import contacts
    c = f.customer(email="gone@example.com", tag_ids=[f.tag("vip").id])
    keep = f.customer().id
    contact = contacts.create_contact(ctx, f.user("admin"), c.id, {"surname": "Child"})
    contacts.add_phone(ctx, f.user("admin"), contact.id, {"kind": "mobile", "number": "020 7946 0123"})
    service(ctx, c.id)
    ctx.add(Message(customer_id=c.id, channel="email", body="hi", status="sent"))
    ctx.commit()
    cid = c.id
    job = do(ctx, "admin", "delete", ids=[cid], confirm="DELETE")
    assert job.result["changed"] == 1
    ctx.expire_all()
    assert ctx.get(Customer, cid) is None and ctx.get(Customer, keep) is not None
    assert ctx.scalar(select(Contact.id).where(Contact.customer_id == cid)) is None
    assert ctx.scalar(select(customer_tag.c.tag_id).where(customer_tag.c.customer_id == cid)) is None
    assert ctx.scalar(select(Message.id).where(Message.customer_id == cid)) is None
    entries = ctx.scalars(select(AuditEntry).where(AuditEntry.action == "delete", AuditEntry.customer_id == cid)).all()
    assert {e.entity for e in entries} == {"customer", "contact", "contact_phone", "service"}
    entry = next(e for e in entries if e.entity == "customer")
    assert entry.changes["email"] == ["gone@example.com", None]


def test_edit_adds_removes_and_clears_tags_with_the_names_audited(ctx):
    vip, trade = f.tag("vip"), f.tag("trade")
    a, b = f.customer(tag_ids=[vip.id]).id, f.customer().id
    job = do(ctx, "staff", "edit", ids=[a, b], tag_mode="add", tag_ids=[trade.id])
    assert job.result["changed"] == 2

    def tags(cid):
        return sorted(ctx.scalars(select(Tag.name).join(customer_tag).where(customer_tag.c.customer_id == cid)))
    assert tags(a) == ["trade", "vip"] and tags(b) == ["trade"]
    do(ctx, "staff", "edit", ids=[a, b], tag_mode="remove", tag_ids=[vip.id])
    assert tags(a) == ["trade"] and tags(b) == ["trade"]
    job = do(ctx, "staff", "edit", ids=[a, b], tag_mode="clear")
    assert tags(a) == [] and tags(b) == []
    entry = ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == a).order_by(AuditEntry.id.desc())).first()
    assert entry.changes == {"tags": [["trade"], []]}
    job = do(ctx, "staff", "edit", ids=[a, b], tag_mode="clear")
    assert job.result == {"changed": 0, "skipped": {"nothing to change": 2}}


def test_edit_sets_currency_creditor_days_and_status_together(ctx):
    a = f.customer(currency="GBP").id
    do(ctx, "admin", "edit", ids=[a], currency="eur", creditor_days="30", status="dormant")
    ctx.expire_all()
    c = ctx.get(Customer, a)
    assert (c.currency, c.creditor_days, c.status) == ("EUR", 30, "dormant")


def test_customers_moved_to_another_reseller_leave_their_old_resellers_invoice_address(ctx):
    from app.services.billing import invoice_addresses
    a_id = f.reseller_id("Reseller A")
    moved, kept = f.customer(reseller_id=a_id), f.customer(reseller_id=a_id)
    ours = invoice_addresses.add(ctx, f.user("admin"), {"name": "A's insurer", "line1": "1 Road", "reseller_id": a_id})
    for c in (moved, kept):
        invoice_addresses.choose_for_customer(ctx, f.user("admin"), c.id, ours.id)
    do(ctx, "admin", "edit", ids=[moved.id], reseller_id=str(f.reseller_id("Reseller B")))
    do(ctx, "admin", "edit", ids=[kept.id], reseller_id=str(a_id))  # the same reseller: nothing moves
    ctx.expire_all()
    assert (ctx.get(Customer, moved.id).invoice_address_id, ctx.get(Customer, kept.id).invoice_address_id) == \
        (None, ours.id)
    entry = ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == moved.id)
                        .order_by(AuditEntry.id.desc())).first()
    assert entry.changes["invoice_address_id"] == [ours.id, None]


@pytest.mark.parametrize("params, field", [
    ({"currency": "XXY"}, "currency"), ({"creditor_days": "-1"}, "creditor_days"),
    ({"status": "gone"}, "status"), ({"tag_mode": "add"}, "tag_ids"), ({"tag_mode": "add", "tag_ids": [987654]}, "tag_ids"),
    ({}, "_"), ({"reseller_id": "999999"}, "reseller_id"),
])
def test_edit_refuses_bad_values_and_changes_nothing(ctx, params, field):
    a = f.customer().id
    with pytest.raises(Invalid) as e:
        bulk.prepare(ctx, f.user("admin"), "edit", params, ids=[a])
    assert field in e.value.errors
    ctx.rollback()


def test_only_unscoped_users_may_move_customers_to_another_reseller(ctx):
    a = f.customer(reseller_id=f.reseller_id("Reseller A")).id
    with pytest.raises(Invalid) as e:
        bulk.prepare(ctx, f.user("reseller_a"), "edit", {"reseller_id": f.reseller_id("Reseller B")}, ids=[a])
    assert "reseller_id" in e.value.errors
    ctx.rollback()
    do(ctx, "admin", "edit", ids=[a], reseller_id=str(f.reseller_id("Reseller B")))
    ctx.expire_all()
    assert ctx.get(Customer, a).reseller_id == f.reseller_id("Reseller B")


@pytest.mark.parametrize("ids", [[], ["x"], ["<script>"]])
def test_nothing_ticked_or_nonsense_ids_are_refused(ctx, ids):
    with pytest.raises(Invalid):
        bulk.prepare(ctx, f.user("admin"), "disable", {}, ids=ids)
    ctx.rollback()


def test_a_single_customer_disabled_from_its_form_suspends_its_services_too(ctx):
    c = f.customer().id
    s = service(ctx, c)
    update_customer(ctx, f.user("admin"), c, {"status": "disabled"})
    ctx.expire_all()
    assert ctx.get(CustomerService, s).status == "suspended"
    update_customer(ctx, f.user("admin"), c, {"status": "active"})
    ctx.expire_all()
    assert ctx.get(CustomerService, s).status == "active"


@pytest.mark.parametrize("action", ["disable", "archive", "edit"])
def test_a_user_whose_role_lacks_the_action_cannot_start_it_by_the_service_either(ctx, action):
    customer = f.customer(surname="Okafor").id
    with pytest.raises(Forbidden):
        bulk.prepare(ctx, f.user("readonly"), action, {"status": "dormant"}, ids=[customer])
    ctx.rollback()
    assert statuses(ctx, [customer]) == ["active"]
