"""Contacts (one primary) and addresses (exactly one billing), as in Payaca and Commusoft."""
import pytest

from app.models import Address, Contact
from app.services.customers import addresses, contacts
from app.services.errors import Invalid, NotFound
from tests import factories as f

SW1 = {"line1": "1 High Street", "postcode": "sw1a 1aa"}


def test_first_contact_becomes_primary_and_a_new_primary_demotes_the_old(ctx):
    admin = f.user("admin")
    c = f.customer()
    first = contacts.create_contact(ctx, admin, c.id, {"surname": "One"})
    second = contacts.create_contact(ctx, admin, c.id, {"surname": "Two"})
    assert (first.is_primary, second.is_primary) == (True, False)
    contacts.update_contact(ctx, admin, second.id, {"is_primary": True})
    ctx.refresh(first)
    assert (first.is_primary, second.is_primary) == (False, True)
    third = contacts.create_contact(ctx, admin, c.id, {"surname": "Three", "is_primary": True})
    primaries = ctx.query(Contact).filter_by(customer_id=c.id, is_primary=True).all()
    assert primaries == [third]


def test_deleting_the_primary_contact_promotes_the_next(ctx):
    admin = f.user("admin")
    c = f.customer()
    first = contacts.create_contact(ctx, admin, c.id, {"surname": "One"})
    second = contacts.create_contact(ctx, admin, c.id, {"surname": "Two"})
    contacts.delete_contact(ctx, admin, first.id)
    ctx.refresh(second)
    assert second.is_primary


def test_contact_needs_a_surname_and_valid_email_and_urls(ctx):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        contacts.create_contact(ctx, f.user("admin"), c.id, {"first_name": "No", "email": "bad",
                                                             "linkedin_url": "javascript:alert(1)"})
    assert set(e.value.errors) == {"surname", "email", "linkedin_url"}
    assert ctx.query(Contact).count() == 0


def test_contact_urls_get_a_scheme(ctx):
    c = f.customer()
    contact = contacts.create_contact(ctx, f.user("admin"), c.id, {"surname": "X", "website_url": "example.com/about"})
    assert contact.website_url == "https://example.com/about"


def test_contact_has_several_typed_phone_numbers(ctx):
    admin = f.user("admin")
    contact = contacts.create_contact(ctx, admin, f.customer().id, {"surname": "X"})
    contacts.add_phone(ctx, admin, contact.id, {"kind": "office", "number": "020 7946 0001"})
    contacts.add_phone(ctx, admin, contact.id, {"kind": "mobile", "number": "+44 113 496 0123"})
    ctx.refresh(contact)
    assert [(p.kind, p.number) for p in contact.phones] == [("office", "+442079460001"), ("mobile", "+441134960123")]
    with pytest.raises(Invalid) as e:
        contacts.add_phone(ctx, admin, contact.id, {"kind": "pager", "number": "12"})
    assert set(e.value.errors) == {"kind", "number"}


def test_another_resellers_contact_is_not_found(ctx):
    c = f.customer(reseller_id=f.reseller_id("Reseller B"))
    contact = contacts.create_contact(ctx, f.user("admin"), c.id, {"surname": "X"})
    with pytest.raises(NotFound):
        contacts.create_contact(ctx, f.user("reseller_a"), c.id, {"surname": "Intruder"})
    with pytest.raises(NotFound):
        contacts.update_contact(ctx, f.user("reseller_a"), contact.id, {"surname": "Changed"})
    with pytest.raises(NotFound):
        contacts.add_phone(ctx, f.user("reseller_a"), contact.id, {"number": "020 7946 0001"})


def test_first_address_is_the_billing_address(ctx):
    c = f.customer()
    a = addresses.create_address(ctx, f.user("admin"), c.id, {**SW1, "kind": "site"})
    assert a.kind == "billing"
    assert a.postcode == "SW1A 1AA"


def test_exactly_one_billing_address(ctx):
    admin = f.user("admin")
    c = f.customer()
    billing = addresses.create_address(ctx, admin, c.id, SW1)
    site = addresses.create_address(ctx, admin, c.id, {"line1": "2 Mill Lane", "postcode": "LS1 1AA"})
    assert site.kind == "site"
    addresses.update_address(ctx, admin, site.id, {"kind": "billing"})
    ctx.refresh(billing)
    assert (billing.kind, site.kind) == ("site", "billing")
    new_billing = addresses.create_address(ctx, admin, c.id, {**SW1, "kind": "billing"})
    kinds = sorted(a.kind for a in ctx.query(Address).filter_by(customer_id=c.id))
    assert kinds == ["billing", "site", "site"]
    assert new_billing.kind == "billing"


def test_billing_address_cannot_be_demoted_or_deleted_while_sites_remain(ctx):
    admin = f.user("admin")
    c = f.customer()
    billing = addresses.create_address(ctx, admin, c.id, SW1)
    site = addresses.create_address(ctx, admin, c.id, {"line1": "2 Mill Lane", "postcode": "LS1 1AA"})
    with pytest.raises(Invalid):
        addresses.update_address(ctx, admin, billing.id, {"kind": "site"})
    with pytest.raises(Invalid):
        addresses.delete_address(ctx, admin, billing.id)
    addresses.delete_address(ctx, admin, site.id)
    addresses.delete_address(ctx, admin, billing.id)
    assert ctx.query(Address).count() == 0


def test_address_needs_line1_and_postcode_and_an_access_contact_needs_a_name(ctx):
    c = f.customer()
    with pytest.raises(Invalid) as e:
        addresses.create_address(ctx, f.user("admin"), c.id, {"town": "Leeds", "access_relationship": "tenant",
                                                              "latitude": "91"})
    assert set(e.value.errors) == {"line1", "postcode", "access_name", "latitude"}


def test_address_access_contact_is_kept(ctx):
    a = addresses.create_address(ctx, f.user("admin"), f.customer().id, {
        **SW1, "access_name": "Tom Tenant", "access_phone": "020 7946 0002", "access_relationship": "tenant"})
    assert (a.access_name, a.access_phone, a.access_relationship) == ("Tom Tenant", "+442079460002", "tenant")
