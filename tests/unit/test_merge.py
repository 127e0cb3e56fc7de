"""Merging customers (issue 4): what moves, collisions, the alias, the refusals."""
import io
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.models import (Address, AuditEntry, Contact, Customer, CustomerAlias, CustomerFile, CustomerService, Message,
                        Note, customer_tag)
from app.models.custom_fields import CustomField, CustomValue
from app.services.customers import addresses, contacts, files, merge, notes
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories as f
from tests.roles import role_user


@pytest.fixture
def pair(ctx):
    admin = f.user("admin")
    vip, trade, late = f.tag("vip"), f.tag("trade"), f.tag("late payer")
    survivor = f.customer(first_name="Ada", surname="Lovelace", email=None, phone="020 7946 0001",
                          tag_ids=[vip.id, trade.id])
    duplicate = f.customer(first_name="Ada", surname="Lovelace", email="ada@example.com", mobile="07911 123456",
                           tag_ids=[trade.id, late.id], advertising_source="Google")
    for c, name in ((survivor, "Kept"), (duplicate, "Moved")):
        contacts.create_contact(ctx, admin, c.id, {"first_name": name, "surname": "Primary", "is_primary": "y"})
        addresses.create_address(ctx, admin, c.id, {"kind": "billing", "line1": f"{name} Street", "postcode": "E1 1AA"})
        notes.add_note(ctx, admin, c.id, {"body": f"{name} note"})
    ctx.add(Message(customer_id=duplicate.id, channel="email", subject="Hello", body="B", status="sent"))
    field = CustomField(name="Gate code", kind="text")
    other = CustomField(name="Meter", kind="text")
    ctx.add_all([field, other])
    ctx.flush()
    ctx.add_all([CustomValue(customer_id=survivor.id, field_id=field.id, value="1234"),
                 CustomValue(customer_id=duplicate.id, field_id=field.id, value="9999"),
                 CustomValue(customer_id=duplicate.id, field_id=other.id, value="M-77")])
    ctx.commit()
    return admin, survivor.id, duplicate.id, {t.name: t.id for t in (vip, trade, late)}, (field.id, other.id)


def test_everything_moves_to_the_survivor_in_one_go(ctx, pair, tmp_path):
    admin, sid, did, tags, (gate, meter) = pair
    attached = files.attach(ctx, admin, did, io.BytesIO(b"%PDF-1.4 survey"), "survey.pdf", tmp_path)
    ctx.add(CustomerService(customer_id=did, name="Window round", price=Decimal("12.00")))
    ctx.commit()
    merge.merge(ctx, admin, sid, did)
    ctx.expire_all()
    assert ctx.get(Customer, did) is None
    assert files.path_of(files.get_file(ctx, admin, attached.id), tmp_path).read_bytes() == b"%PDF-1.4 survey"
    for model in (Contact, Address, Note, Message, CustomerFile, CustomerService):
        assert ctx.scalar(select(func.count()).select_from(model).where(model.customer_id == did)) == 0
    assert sorted(ctx.scalars(select(Contact.first_name).where(Contact.customer_id == sid))) == ["Kept", "Moved"]
    # one primary contact and one billing address: the survivor's
    assert ctx.scalars(select(Contact.first_name).where(Contact.customer_id == sid, Contact.is_primary)).all() == ["Kept"]
    kinds = dict(ctx.execute(select(Address.line1, Address.kind).where(Address.customer_id == sid)).all())
    assert kinds == {"Kept Street": "billing", "Moved Street": "site"}
    # a tag on both is kept once
    assert sorted(ctx.scalars(select(customer_tag.c.tag_id).where(customer_tag.c.customer_id == sid))) == \
        sorted(tags.values())
    # custom fields: the survivor's own value wins, an empty one is filled
    assert dict(ctx.execute(select(CustomValue.field_id, CustomValue.value).where(CustomValue.customer_id == sid))
                .all()) == {gate: "1234", meter: "M-77"}
    survivor = ctx.get(Customer, sid)
    assert (survivor.email, survivor.mobile, survivor.phone, survivor.advertising_source) == (
        "ada@example.com", "+447911123456", "+442079460001", "Google")


def test_the_duplicates_id_becomes_an_alias_and_its_history_moves(ctx, pair):
    admin, sid, did, _, _ = pair
    before = ctx.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.customer_id == did))
    merge.merge(ctx, admin, sid, did)
    assert merge.alias_target(ctx, admin, did) == sid
    assert merge.alias_target(ctx, admin, 99_999_999_999) is None
    assert ctx.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.customer_id == did)) == 0
    trail = ctx.scalars(select(AuditEntry).where(AuditEntry.customer_id == sid, AuditEntry.action == "merge")).all()
    assert len(trail) == 1 and trail[0].changes["merged"] == [did, None] and "email" in trail[0].changes
    assert ctx.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.customer_id == sid)) > before


def test_an_alias_of_an_alias_leads_to_the_last_survivor(ctx, pair):
    admin, sid, did, _, _ = pair
    third = f.customer(surname="Third").id
    merge.merge(ctx, admin, sid, did)
    merge.merge(ctx, admin, third, sid)
    assert merge.alias_target(ctx, admin, did) == third


def test_different_currencies_are_refused_and_nothing_changes(ctx, pair):
    admin, sid, did, _, _ = pair
    ctx.get(Customer, did).currency = "EUR"
    ctx.commit()
    with pytest.raises(Invalid) as e:
        merge.merge(ctx, admin, sid, did)
    assert "different currencies (EUR and GBP)" in e.value.errors["duplicate"][0]
    ctx.rollback()
    assert ctx.get(Customer, did) is not None
    assert ctx.scalar(select(func.count()).select_from(Note).where(Note.customer_id == did)) == 1


def test_only_an_admin_merges_and_only_customers_in_scope(ctx, pair, resellers):
    admin, sid, did, _, _ = pair
    with pytest.raises(Forbidden):
        merge.merge(ctx, f.user("staff"), sid, did)
    theirs = f.customer(reseller_id=resellers["Reseller B"]).id
    with pytest.raises(NotFound):
        merge.merge(ctx, f.user("reseller_a"), theirs, did)
    with pytest.raises(Invalid):
        merge.merge(ctx, admin, sid, sid)
    with pytest.raises(Invalid):
        merge.merge(ctx, admin, sid, "not a number")
    assert ctx.get(Customer, did) is not None


def test_deleting_the_survivor_removes_its_aliases(ctx, pair):
    from app.services.customers.delete import delete_customer
    admin, sid, did, _, _ = pair
    merge.merge(ctx, admin, sid, did)
    delete_customer(ctx, admin, sid)
    assert ctx.get(CustomerAlias, did) is None and merge.alias_target(ctx, admin, did) is None


def test_a_role_granted_merge_in_the_browser_merges_and_one_without_it_may_not(app, ctx, pair):
    _, sid, did, _, _ = pair
    with role_user(app, ctx, "Clerk", like="Staff") as clerk:
        with pytest.raises(Forbidden):
            merge.preview(ctx, clerk, sid, did)
        ctx.rollback()
    assert ctx.get(Customer, did) is not None
    with role_user(app, ctx, "Merger", like="Staff", grants=[("can_merge", "CustomerView")]) as finance:
        assert merge.preview(ctx, finance, sid, did).duplicate.id == did
        assert merge.merge(ctx, finance, sid, did).id == sid
    ctx.expire_all()
    assert ctx.get(Customer, did) is None and ctx.get(CustomerAlias, did).merged_by == "merger"
