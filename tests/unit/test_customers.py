"""Creating and changing customers: the rules from the iBill and Commusoft articles."""
import pytest

from app.models import AuditEntry, Customer
from app.services.customers.create import create_customer
from app.services.customers.delete import delete_customer
from app.services.customers.update import update_customer
from app.services.errors import Invalid, NotFound
from tests import factories as f


def errors_of(call):
    with pytest.raises(Invalid) as e:
        call()
    return e.value.errors


def test_private_customer_needs_a_surname(ctx):
    errors = errors_of(lambda: create_customer(ctx, f.user("admin"), {"customer_type": "private", "first_name": "Ada"}))
    assert errors == {"surname": ["Surname is required for a private customer."]}
    assert ctx.query(Customer).count() == 0


def test_company_needs_a_company_name(ctx):
    errors = errors_of(lambda: create_customer(ctx, f.user("admin"), {"customer_type": "company", "surname": "X"}))
    assert "company_name" in errors


def test_email_is_normalised_and_phone_stored_in_e164(ctx):
    c = f.customer(email="  Ada.Lovelace@EXAMPLE.com ", phone="020 7946 0001", mobile="+44 113 496 0123")
    assert c.email == "ada.lovelace@example.com"
    assert c.phone == "+442079460001"
    assert c.mobile == "+441134960123"


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "<script>@x.com", "x" * 250 + "@example.com"])
def test_invalid_email_is_refused_with_a_message(ctx, bad):
    errors = errors_of(lambda: f.customer(email=bad))
    assert list(errors) == ["email"]


@pytest.mark.parametrize("bad", ["12", "01632 960001", "phone me", "+44 20 7946 0001 0001 0001"])
def test_invalid_phone_is_refused_with_a_message(ctx, bad):
    errors = errors_of(lambda: f.customer(phone=bad))
    assert errors["phone"][0].startswith("Enter a valid phone number")


def test_email_is_unique_among_live_customers_only(ctx):
    first = f.customer(email="shared@example.com")
    errors = errors_of(lambda: f.customer(email="SHARED@example.com"))
    assert errors == {"email": ["Another customer already uses this e-mail address."]}
    update_customer(ctx, f.user("admin"), first.id, {"status": "archived"})
    second = f.customer(email="shared@example.com")
    assert second.email == "shared@example.com"


def test_restoring_an_archived_customer_whose_email_is_taken_is_refused(ctx):
    first = f.customer(email="shared@example.com")
    update_customer(ctx, f.user("admin"), first.id, {"status": "archived"})
    f.customer(email="shared@example.com")
    errors = errors_of(lambda: update_customer(ctx, f.user("admin"), first.id, {"status": "active"}))
    assert "email" in errors


def test_every_field_error_is_reported_at_once(ctx):
    errors = errors_of(lambda: create_customer(ctx, f.user("admin"), {
        "customer_type": "private", "email": "nope", "phone": "1", "currency": "XXQ", "creditor_days": 5}))
    assert set(errors) == {"surname", "email", "phone", "currency", "creditor_days"}


def test_unknown_fields_and_unknown_tags_are_refused(ctx):
    assert "is_admin" in errors_of(lambda: f.customer(is_admin=True))
    assert "tag_ids" in errors_of(lambda: f.customer(tag_ids=[999]))


def test_text_is_kept_as_typed_but_control_characters_and_huge_values_are_refused(ctx):
    c = f.customer(first_name="<script>alert(1)</script>", surname="=HYPERLINK(\"x\")",
                   third_party_reference="Zoë Ó'Súilleabháin 😀")
    assert c.first_name == "<script>alert(1)</script>"
    assert c.third_party_reference == "Zoë Ó'Súilleabháin 😀"
    assert "surname" in errors_of(lambda: f.customer(surname="a\x00b"))
    assert "surname" in errors_of(lambda: f.customer(surname="x" * 81))
    assert "surname" in errors_of(lambda: f.customer(surname="   "))


def test_name_and_sort_key_follow_the_customer_type(ctx):
    c = f.customer(first_name="Ada", surname="Lovelace")
    assert (c.name, c.sort_name) == ("Ada Lovelace", "lovelace ada")
    update_customer(ctx, f.user("admin"), c.id, {"customer_type": "company", "company_name": "Analytical Engines Ltd"})
    assert (c.name, c.sort_name) == ("Analytical Engines Ltd", "analytical engines ltd")


def test_currency_defaults_to_the_base_currency_and_must_be_iso_4217(ctx):
    assert f.customer().currency == "GBP"
    assert f.customer(currency="eur").currency == "EUR"
    assert "currency" in errors_of(lambda: f.customer(currency="POUNDS"))


def test_tags_are_set_and_changed(ctx):
    a, b = f.tag("residential"), f.tag("vip")
    c = f.customer(tag_ids=[a.id, b.id])
    assert [t.name for t in c.tags] == ["residential", "vip"]
    update_customer(ctx, f.user("admin"), c.id, {"tag_ids": [b.id]})
    assert [t.name for t in c.tags] == ["vip"]


def test_reseller_user_creates_customers_for_their_own_reseller_only(ctx):
    own = f.reseller_id("Reseller A")
    c = f.customer("reseller_a")
    assert c.reseller_id == own
    other = f.reseller_id("Reseller B")
    assert errors_of(lambda: f.customer("reseller_a", reseller_id=other)) == {
        "reseller_id": ["You cannot change a customer's reseller."]}
    assert errors_of(lambda: update_customer(ctx, f.user("reseller_a"), c.id, {"reseller_id": other})) == {
        "reseller_id": ["You cannot change a customer's reseller."]}


def test_another_resellers_customer_is_not_found(ctx):
    c = f.customer(reseller_id=f.reseller_id("Reseller B"))
    with pytest.raises(NotFound):
        update_customer(ctx, f.user("reseller_a"), c.id, {"first_name": "Hacked"})
    with pytest.raises(NotFound):
        delete_customer(ctx, f.user("reseller_a"), c.id)
    with pytest.raises(NotFound):
        update_customer(ctx, f.user("reseller_none"), c.id, {"first_name": "Hacked"})
    ctx.refresh(c)
    assert c.first_name == "Test"


def test_archived_customer_can_only_be_restored_to_active(ctx):
    c = f.customer()
    update_customer(ctx, f.user("admin"), c.id, {"status": "archived"})
    assert errors_of(lambda: update_customer(ctx, f.user("admin"), c.id, {"status": "blocked"})) == {
        "status": ["A customer cannot go from archived to blocked."]}
    update_customer(ctx, f.user("admin"), c.id, {"status": "active"})
    assert c.status == "active"


def test_delete_removes_the_customer_with_contacts_and_addresses_and_is_audited(ctx):
    from app.services.customers.addresses import create_address
    from app.services.customers.contacts import create_contact
    c = f.customer()
    create_contact(ctx, f.user("admin"), c.id, {"surname": "Tenant"})
    create_address(ctx, f.user("admin"), c.id, {"line1": "1 High Street", "postcode": "SW1A 1AA"})
    cid = c.id
    delete_customer(ctx, f.user("admin"), cid)
    assert ctx.get(Customer, cid) is None
    deletes = {(e.entity, e.action) for e in ctx.query(AuditEntry).filter_by(customer_id=cid, action="delete")}
    assert deletes == {("customer", "delete"), ("contact", "delete"), ("address", "delete")}
