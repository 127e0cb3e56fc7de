"""The rules of composing and addressing a message: placeholders, SMS segments, preferences."""
import pytest

from app.services.errors import Invalid
from app.services.messages import inbound, placeholders, sms
from app.services.messages.preferences import skip_reason


# ---- placeholders ------------------------------------------------------------------------
def test_placeholders_are_filled_from_the_contact_then_the_customer():
    customer = {"id": 42, "name": "Acme Ltd", "company_name": "Acme Ltd", "balance": "-1234.5", "currency": "GBP"}
    contact = {"first_name": "Ada", "surname": "Lovelace", "title": "Dr", "email": "ada@example.com"}
    values = placeholders.values_for(customer, contact, "ada@example.com")
    text = placeholders.render("Dear {title} {surname} of {company_name} (#{customer_id}): {balance}. {{ok}}", values)
    assert text == "Dear Dr Lovelace of Acme Ltd (#42): -£1,234.50. {ok}"


def test_a_customer_without_contacts_is_written_to_by_its_own_name():
    values = placeholders.values_for({"id": 1, "name": "Bo Diddley", "first_name": "Bo", "surname": "Diddley",
                                      "balance": "0", "currency": "EUR"}, None, None)
    assert placeholders.render("Hi {first_name} {name} {balance} {company_name}.", values) == \
        "Hi Bo Bo Diddley €0.00 ."


@pytest.mark.parametrize("balance, currency, shown", [
    ("1234.5", "JPY", "JP¥1,235"), ("2.5", "JPY", "JP¥3"), ("0.125", "GBP", "£0.13"), ("7.25", "BHD", "BHD7.250"),
])
def test_the_balance_is_shown_in_the_customers_currency_rounded_half_up(balance, currency, shown):
    values = placeholders.values_for({"id": 1, "name": "Bo", "balance": balance, "currency": currency}, None, None)
    assert placeholders.render("{balance}", values).replace("\xa0", "") == shown


@pytest.mark.parametrize("template, problem", [
    ("Hello {firstname}", "Unknown placeholder {firstname}"),
    ("Hello {}", "Unknown placeholder {}"),
    ("Hello {0}", "Unknown placeholder {0}"),
    ("Hello {first_name.__class__}", "Unknown placeholder"),
    ("Hello {balance:>10}", "without a format"),
    ("Hello {first_name!r}", "without a format"),
    ("Hello {first_name", "Braces do not match"),
    ("Hello }", "Braces do not match"),
])
def test_unknown_or_malformed_placeholders_are_reported(template, problem):
    found = placeholders.problems(template)
    assert found and problem in found[0]


def test_script_and_formulas_are_plain_text_to_the_template():
    assert placeholders.problems("<script>alert(1)</script> =HYPERLINK(\"x\")") == []


# ---- SMS segments ------------------------------------------------------------------------
@pytest.mark.parametrize("text, encoding, units, segments", [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),          # the euro sign takes two
    ("[" * 81, "GSM-7", 162, 2),
    ("é" * 160, "GSM-7", 160, 1),          # é is in the GSM alphabet
    ("ê" * 70, "UCS-2", 70, 1),            # ê is not
    ("ê" * 71, "UCS-2", 71, 2),
    ("ê" * 134, "UCS-2", 134, 2),
    ("ê" * 135, "UCS-2", 135, 3),
    ("😀" * 35, "UCS-2", 70, 1),           # outside the basic plane: two units each
    ("Zażółć gęślą jaźń", "UCS-2", 17, 1),
])
def test_sms_segments_gsm7_and_ucs2(text, encoding, units, segments):
    counted = sms.count(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)


def test_remaining_characters_before_the_next_segment():
    assert sms.count("a" * 150).remaining == 10
    assert sms.count("a" * 161).remaining == 306 - 161


# ---- preferences ---------------------------------------------------------------------------
@pytest.mark.parametrize("status, allows, channel, purpose, address, reason", [
    ("active", True, "email", "service", "a@example.com", None),
    ("disabled", True, "sms", "service", "+447700900123", None),
    ("archived", True, "email", "service", "a@example.com", "customer archived"),
    ("blocked", True, "email", "service", "a@example.com", "customer blocked"),
    ("dormant", True, "sms", "marketing", "+447700900123", "customer dormant"),
    ("active", False, "email", "marketing", "a@example.com", "not opted in to marketing by e-mail"),
    ("active", False, "sms", "service", "+447700900123", "opted out of service messages by text"),
    ("active", True, "email", "service", None, "no e-mail address"),
    ("active", True, "sms", "service", "", "no mobile number"),
])
def test_who_is_skipped_and_why(status, allows, channel, purpose, address, reason):
    assert skip_reason(status, allows, channel, purpose, address) == reason


@pytest.mark.parametrize("data, field", [
    ({"from": "ada@example.com", "body": "Hi\x00there"}, "body"),
    ({"from": "ada@example.com", "subject": "Re\x00: invoice", "body": "Hi"}, "subject"),
    ({"from": "ada@example.com", "subject": "Re: \u202einvoice", "body": "Hi"}, "subject"),
    ({"from": "ada@example.com", "body": "   "}, "body"),
])
def test_a_received_message_that_cannot_be_kept_as_text_names_its_field(data, field):
    with pytest.raises(Invalid) as refused:
        inbound.clean("email", data)
    assert list(refused.value.errors) == [field]


def test_a_received_subject_is_one_line_and_the_body_keeps_its_lines():
    clean = inbound.clean("email", {"from": "Ada@Example.com", "subject": " Invoice\r\n question ",
                                    "body": "Hi,\r\n\r\nthanks\n"})
    assert (clean["sender"], clean["subject"], clean["body"]) == ("ada@example.com", "Invoice question", "Hi,\n\nthanks")
