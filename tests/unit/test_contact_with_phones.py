"""A contact and its phone numbers are one command: validated together (every error at once,
each phone row's next to its row), written in one transaction and audited, nothing written
when anything is wrong."""
import pytest
from sqlalchemy import func, select

from app.models import AuditEntry, Contact, ContactPhone
from app.services.customers import contacts
from app.services.errors import Invalid, NotFound
from tests import factories as f

BLANK = {"kind": "mobile", "number": ""}


def count(ctx, model) -> int:
    return ctx.scalar(select(func.count()).select_from(model))


def test_a_contact_is_added_with_its_phone_numbers_and_blank_rows_are_ignored(ctx):
    c = f.customer()
    contact = contacts.create_contact(ctx, f.user("admin"), c.id, {
        "first_name": "Ada", "surname": "Okafor",
        "phones": [{"kind": "mobile", "number": "07911 123456"}, BLANK, {"kind": "office", "number": "020 7946 0000"}],
    })
    ctx.expire_all()
    assert [(p.kind, p.number) for p in ctx.get(Contact, contact.id).phones] == [
        ("mobile", "+447911123456"), ("office", "+442079460000")]
    audited = ctx.scalars(select(AuditEntry.entity).where(AuditEntry.customer_id == c.id,
                                                          AuditEntry.action == "create",
                                                          AuditEntry.entity != "customer")).all()
    assert sorted(audited) == ["contact", "contact_phone", "contact_phone"]


def test_an_invalid_phone_in_row_two_is_reported_with_the_contacts_errors_and_nothing_is_written(ctx):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {
            "first_name": "Ada", "surname": "", "email": "not-an-address",
            "phones": [{"kind": "mobile", "number": "07911 123456"}, {"kind": "office", "number": "12345"}, BLANK],
        })
    ctx.rollback()
    errors = e.value.errors
    assert set(errors) == {"surname", "email", "phones.1.number"}
    assert "valid phone number" in errors["phones.1.number"][0]
    assert count(ctx, Contact) == count(ctx, ContactPhone) == 0
    assert not ctx.scalars(select(AuditEntry.entity).where(AuditEntry.entity.in_(("contact", "contact_phone")))).all()


def test_a_phone_row_needs_a_known_type_and_nothing_but_a_type_and_number(ctx):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {
            "surname": "Okafor",
            "phones": [{"kind": "pager", "number": "07911 123456"}, {"kind": "mobile", "number": "07911 123457",
                                                                      "colour": "red"}],
        })
    assert set(e.value.errors) == {"phones.0.kind", "phones.1.colour"}


def test_the_same_number_twice_is_refused_on_the_second_row(ctx):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {
            "surname": "Okafor",
            "phones": [{"kind": "mobile", "number": "07911 123456"}, {"kind": "home", "number": "+44 7911 123456"}],
        })
    assert list(e.value.errors) == ["phones.1.number"]
    assert "already" in e.value.errors["phones.1.number"][0]


def test_too_many_phone_numbers_are_refused(ctx):
    c = f.customer()
    rows = [{"kind": "mobile", "number": f"07911 12{i:04d}"} for i in range(contacts.MAX_PHONES + 1)]
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {"surname": "Okafor", "phones": rows})
    assert list(e.value.errors) == ["phones"]


def test_phones_must_be_a_list_of_rows(ctx):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {"surname": "Okafor", "phones": "07911 123456"})
    assert list(e.value.errors) == ["phones"]


def test_editing_a_contact_changes_removes_and_adds_its_phones_in_one_audited_commit(ctx):
    admin = f.user("admin")
    c = f.customer()
    contact = contacts.create_contact(ctx, admin, c.id, {"surname": "Okafor", "phones": [
        {"kind": "mobile", "number": "07911 123456"}, {"kind": "office", "number": "020 7946 0000"}]})
    mobile, office = [p.id for p in contact.phones]
    contacts.update_contact(ctx, admin, contact.id, {"surname": "Okafor-Lee", "phones": [
        {"id": str(mobile), "kind": "home", "number": "07911 123456"},
        {"id": str(office), "kind": "office", "number": ""},  # cleared: removed
        {"id": "", "kind": "other", "number": "020 7946 0001"},
    ]})
    ctx.expire_all()
    saved = ctx.get(Contact, contact.id)
    assert saved.surname == "Okafor-Lee"
    assert [(p.id == mobile, p.kind, p.number) for p in saved.phones] == [
        (True, "home", "+447911123456"), (False, "other", "+442079460001")]
    assert ctx.get(ContactPhone, office) is None
    actions = ctx.execute(select(AuditEntry.entity, AuditEntry.action).where(AuditEntry.action != "create")).all()
    assert sorted(actions) == [("contact", "update"), ("contact_phone", "delete"), ("contact_phone", "update")]


def test_an_edit_without_phones_leaves_the_phones_alone(ctx):
    admin = f.user("admin")
    c = f.customer()
    contact = contacts.create_contact(ctx, admin, c.id, {"surname": "Okafor", "phones": [
        {"kind": "mobile", "number": "07911 123456"}]})
    contacts.update_contact(ctx, admin, contact.id, {"position": "Owner"})
    ctx.expire_all()
    assert [p.number for p in ctx.get(Contact, contact.id).phones] == ["+447911123456"]


def test_an_edit_with_an_invalid_phone_changes_nothing(ctx):
    admin = f.user("admin")
    c = f.customer()
    contact = contacts.create_contact(ctx, admin, c.id, {"surname": "Okafor", "phones": [
        {"kind": "mobile", "number": "07911 123456"}]})
    phone_id = contact.phones[0].id
    with pytest.raises(Invalid) as e:
        contacts.update_contact(ctx, admin, contact.id, {"surname": "Changed", "phones": [
            {"id": str(phone_id), "kind": "mobile", "number": ""}, {"kind": "mobile", "number": "abc"}]})
    ctx.rollback()
    assert list(e.value.errors) == ["phones.1.number"]
    ctx.expire_all()
    saved = ctx.get(Contact, contact.id)
    assert saved.surname == "Okafor" and [p.id for p in saved.phones] == [phone_id]


def test_another_contacts_phone_cannot_be_taken_over_by_its_id(ctx):
    admin = f.user("admin")
    c = f.customer()
    one = contacts.create_contact(ctx, admin, c.id, {"surname": "One", "phones": [
        {"kind": "mobile", "number": "07911 123456"}]})
    two = contacts.create_contact(ctx, admin, c.id, {"surname": "Two"})
    theirs = one.phones[0].id
    for phone_id in (str(theirs), "99999999", "x"):
        with pytest.raises(NotFound):
            contacts.update_contact(ctx, admin, two.id, {"phones": [
                {"id": phone_id, "kind": "mobile", "number": "07911 000000"}]})
        ctx.rollback()
    with pytest.raises(NotFound):  # one phone in two rows
        contacts.update_contact(ctx, admin, one.id, {"phones": [
            {"id": str(theirs), "kind": "mobile", "number": "07911 000001"},
            {"id": str(theirs), "kind": "home", "number": "07911 000002"}]})
    ctx.rollback()
    with pytest.raises(NotFound):
        contacts.create_contact(ctx, admin, c.id, {"surname": "Three", "phones": [
            {"id": str(theirs), "kind": "mobile", "number": "07911 000000"}]})
    ctx.rollback()
    assert ctx.get(ContactPhone, theirs).number == "+447911123456"


def test_another_resellers_customer_is_not_found(ctx, resellers):
    theirs = f.customer(reseller_id=resellers["Reseller B"])
    with pytest.raises(NotFound):
        contacts.create_contact(ctx, f.user("reseller_a"), theirs.id, {"surname": "Okafor", "phones": [
            {"kind": "mobile", "number": "07911 123456"}]})
    ctx.rollback()
    assert count(ctx, Contact) == count(ctx, ContactPhone) == 0


def test_names_in_any_script_are_kept_and_over_long_ones_refused(ctx):
    c = f.customer()
    contact = contacts.create_contact(ctx, f.user("admin"), c.id, {"first_name": "Zoë", "surname": "Ōkafor-李"})
    assert contact.name == "Zoë Ōkafor-李"
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {"first_name": "A" * 10_000, "surname": "B" * 81})
    assert set(e.value.errors) == {"first_name", "surname"}


def test_the_primary_contact_stays_primary_until_another_is_made_primary(ctx):
    admin = f.user("admin")
    c = f.customer()
    first = contacts.create_contact(ctx, admin, c.id, {"surname": "One"})
    with pytest.raises(Invalid) as e:
        contacts.update_contact(ctx, admin, first.id, {"is_primary": False})
    ctx.rollback()
    assert list(e.value.errors) == ["is_primary"]
    assert ctx.get(Contact, first.id).is_primary


def test_a_contact_is_made_primary_with_a_tick_not_a_typed_word(ctx):
    admin = f.user("admin")
    c = f.customer()
    first = contacts.create_contact(ctx, admin, c.id, {"surname": "One"})
    second = contacts.create_contact(ctx, admin, c.id, {"surname": "Two"})
    with pytest.raises(Invalid) as e:
        contacts.make_primary(ctx, admin, second.id, None)  # the box left unticked
    ctx.rollback()
    assert "Tick" in e.value.messages
    contacts.make_primary(ctx, admin, second.id, "1")
    ctx.expire_all()
    assert (ctx.get(Contact, first.id).is_primary, ctx.get(Contact, second.id).is_primary) == (False, True)
