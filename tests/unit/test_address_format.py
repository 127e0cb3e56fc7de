"""The invoice address format: a template of plain tags in square brackets, filled from the customer,
its primary contact and its billing address; blank fields are left out with their separators, and
anything that is not a known plain tag is refused with the list of valid tags. Nothing is evaluated."""
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import CompanySettings
from app.services.billing import address_format
from app.services.customers.addresses import create_address
from app.services.customers.contacts import create_contact
from app.services.errors import Forbidden, Invalid, NotFound
from tests import factories
from tests.roles import role_user

FIELD = "invoice_address_format"


def customer(**kw):
    values = dict(name="Ada Lovelace", title=None, first_name="Ada", surname="Lovelace", company_name=None,
                  email=None, phone=None, mobile=None)
    return SimpleNamespace(**{**values, **kw})


def contact(**kw):
    values = dict(name="Mr John Smith", title="Mr", first_name="John", surname="Smith", position=None, email=None)
    return SimpleNamespace(**{**values, **kw})


def address(**kw):
    values = dict(line1="1 High Street", line2=None, line3=None, town="Leeds", county=None, postcode="LS1 1AA",
                  country="GB")
    return SimpleNamespace(**{**values, **kw})


def errors_of(template):
    with pytest.raises(Invalid) as caught:
        address_format.validate(template)
    return " ".join(caught.value.errors[FIELD])


def test_the_tags_come_from_real_fields_each_with_a_label():
    names = [tag.name for tag in address_format.TAGS]
    assert {"customer_name", "contact_name", "address_line_1", "town", "postcode"} <= set(names)
    assert len(names) == len(set(names))
    assert all(tag.label for tag in address_format.TAGS)
    sources = {"customer": customer(), "contact": contact(), "address": address()}
    for tag in address_format.TAGS:  # every tag reads an attribute its source really has
        getattr(sources[tag.source], tag.attribute)


def test_the_care_of_example_renders_on_one_line():
    template = "[contact_name] c/o [customer_name], [address_line_1], [town], [postcode]"
    text = address_format.render(template, customer(), contact(), address())
    assert text == "Mr John Smith c/o Ada Lovelace, 1 High Street, Leeds, LS1 1AA"


def test_a_blank_field_is_left_out_with_its_separator():
    template = "[contact_name] c/o [customer_name], [address_line_1], [address_line_2], [town], [postcode]"
    text = address_format.render(template, customer(), None, address(town="  "))
    assert text == "Ada Lovelace, 1 High Street, LS1 1AA"
    assert address_format.render("[customer_name], [town]", customer(), None, None) == "Ada Lovelace"
    assert address_format.render("[town], [customer_name]", customer(), None, None) == "Ada Lovelace"


def test_text_around_a_line_stays_while_any_of_its_fields_has_a_value():
    template = "[customer_name]\nTel: [customer_phone] / [customer_mobile]\n([company_name])"
    assert address_format.render(template, customer(mobile="+447700900123"), None, None) == \
        "Ada Lovelace\nTel: +447700900123"
    assert address_format.render(template, customer(phone="+441130000000", company_name="Acme"), None, None) == \
        "Ada Lovelace\nTel: +441130000000\n(Acme)"


def test_a_line_break_is_a_separator_and_a_blank_line_goes():
    template = "[customer_name]\n[address_line_1]\n[address_line_2]\n[town]\n[postcode]"
    assert address_format.render(template, customer(), None, address()) == "Ada Lovelace\n1 High Street\nLeeds\nLS1 1AA"
    template = "[customer_name]\n\n[address_line_2], [address_line_3]\n[postcode]"
    assert address_format.render(template, customer(), None, address()) == "Ada Lovelace\nLS1 1AA"


def test_the_default_format_is_the_name_and_the_billing_address():
    text = address_format.render(None, customer(), contact(), address(line2="Flat 2", county="West Yorkshire"))
    assert text == "Ada Lovelace\n1 High Street\nFlat 2\nLeeds\nWest Yorkshire\nLS1 1AA"
    assert address_format.validate("   ") is None  # empty: the default format


def test_markup_and_unicode_are_kept_as_text_never_evaluated():
    nasty = customer(name="<script>alert(1)</script> Zoë Ørsted 山田")
    text = address_format.render("<b>[customer_name]</b> →", nasty, None, None)
    assert text == "<b><script>alert(1)</script> Zoë Ørsted 山田</b> →"
    # A value that looks like a tag is a value: it is not filled in again.
    assert address_format.render("[customer_name] [town]", customer(name="[town]"), None, address()) == "[town] Leeds"
    assert address_format.validate("Für [customer_name] – <i>Rechnung</i>") == "Für [customer_name] – <i>Rechnung</i>"


@pytest.mark.parametrize("template, named", [
    ("[customer_nam]", "[customer_nam]"),
    ("[x.y]", "[x.y]"),
    ("[ customer_name ]", "[ customer_name ]"),
    ("[Customer_Name]", "[Customer_Name]"),
    ("[customer.__class__]", "[customer.__class__]"),
    ("[]", "[]"),
])
def test_an_unknown_or_not_plain_tag_is_refused_with_the_valid_tags(template, named):
    message = errors_of(template)
    assert named in message
    assert "[customer_name]" in message and "[postcode]" in message  # the list of valid tags


@pytest.mark.parametrize("template", ["{{ customer.name }}", "{% if x %}", "[customer_name", "customer_name]",
                                      "[[customer_name]]", "[town] ] [postcode]", "${customer_name}"])
def test_anything_but_plain_tags_and_text_is_refused(template):
    message = errors_of(template)
    assert "[customer_name]" in message


def test_a_template_too_long_or_with_control_characters_is_refused():
    assert "at most" in errors_of("[town] " * 200)
    assert errors_of("[town]\x00")


def test_validate_gives_the_template_back_cleaned():
    assert address_format.validate("  [customer_name]\r\n[town]  ") == "[customer_name]\n[town]"


# ---- on a customer: its own format, the company's, the preview ---------------------------------------------
def with_address(actor="admin", **fields):
    c = factories.customer(actor, **fields)
    create_address(db.session, factories.user("admin"), c.id, {"kind": "billing", "line1": "1 High Street",
                                                                "town": "Leeds", "postcode": "LS1 1AA"})
    return c


def test_the_preview_renders_a_template_on_the_customer_in_one_or_two_queries(ctx, app):
    from sqlalchemy import event
    c = with_address()
    create_contact(ctx, factories.user("admin"), c.id, {"first_name": "Jo", "surname": "Bloggs", "is_primary": "y"})
    actor, name = factories.user("finance"), c.name
    assert actor.roles  # (loaded before counting: the request's user comes with them)
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        text = address_format.preview(ctx, actor, c.id, "[contact_name] c/o [customer_name], [town]")
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert text == f"Jo Bloggs c/o {name}, Leeds"
    assert len(statements) <= 2, "\n\n".join(statements)


def test_an_empty_preview_is_the_company_default(ctx):
    c = with_address()
    ctx.add(CompanySettings(id=1, invoice_address_format="[customer_name] ([postcode])"))
    ctx.commit()
    assert address_format.preview(ctx, factories.user("admin"), c.id, "") == f"{c.name} (LS1 1AA)"


def test_the_preview_is_scoped_and_refuses_a_bad_template(ctx):
    c = with_address("reseller_a")
    with pytest.raises(NotFound):
        address_format.preview(ctx, factories.user("reseller_b"), c.id, "[town]")
    with pytest.raises(Invalid):
        address_format.preview(ctx, factories.user("reseller_a"), c.id, "[nope]")


def test_a_customer_format_is_saved_checked_and_cleared(ctx, app):
    c = with_address()
    saved = address_format.save_for_customer(ctx, factories.user("finance"), c.id, "[customer_name], [postcode]")
    assert saved.invoice_address_format == "[customer_name], [postcode]"
    with pytest.raises(Invalid):
        address_format.save_for_customer(ctx, factories.user("finance"), c.id, "{{ bad }}")
    assert address_format.save_for_customer(ctx, factories.user("finance"), c.id, "").invoice_address_format is None
    for reader in ("readonly", "staff"):  # who posts money changes it, as on the screen
        with pytest.raises(Forbidden):
            address_format.save_for_customer(ctx, factories.user(reader), c.id, "[town]")
    with role_user(app, ctx, "BFinance", "Reseller", [("can_post_money", "InvoiceView")],
                   factories.reseller_id("Reseller B")) as other_reseller, pytest.raises(NotFound):
        address_format.save_for_customer(ctx, other_reseller, c.id, "[town]")
