"""Commusoft: "Changing the status to Dormant marks all work addresses as dormant." They come
back when the customer is made active again; the billing address is not a work address."""
from sqlalchemy import select

from app.models import Address, AuditEntry
from app.services.customers import addresses, bulk, notes
from app.services.customers.update import update_customer
from tests import factories as f


def customer_with_addresses(ctx):
    admin = f.user("admin")
    c = f.customer()
    for kind, line1 in (("billing", "1 Home"), ("site", "2 Shop"), ("site", "3 Flat")):
        addresses.create_address(ctx, admin, c.id, {"kind": kind, "line1": line1, "postcode": "E1 1AA"})
    return admin, c.id


def dormant(ctx, customer_id):
    ctx.expire_all()
    return dict(ctx.execute(select(Address.line1, Address.dormant).where(Address.customer_id == customer_id)).all())


def test_a_dormant_customers_site_addresses_go_dormant_and_come_back(ctx):
    admin, cid = customer_with_addresses(ctx)
    update_customer(ctx, admin, cid, {"status": "dormant"})
    assert dormant(ctx, cid) == {"1 Home": False, "2 Shop": True, "3 Flat": True}
    audited = ctx.scalars(select(AuditEntry.changes).where(AuditEntry.entity == "address",
                                                           AuditEntry.action == "update")).all()
    assert audited == [{"dormant": [False, True]}] * 2
    update_customer(ctx, admin, cid, {"status": "active"})
    assert dormant(ctx, cid) == {"1 Home": False, "2 Shop": False, "3 Flat": False}


def test_the_same_through_a_bulk_edit_and_a_do_not_work_note(ctx):
    admin, cid = customer_with_addresses(ctx)
    job = bulk.prepare(ctx, admin, "edit", {"status": "dormant"}, ids=[cid])
    ctx.commit()
    bulk.run(ctx, job)
    assert dormant(ctx, cid)["2 Shop"] is True
    admin, other = customer_with_addresses(ctx)
    notes.add_note(ctx, admin, other, {"body": "never again", "do_not_work": "1"})
    assert dormant(ctx, other) == {"1 Home": False, "2 Shop": True, "3 Flat": True}
