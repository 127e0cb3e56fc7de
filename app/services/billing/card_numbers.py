"""Card numbers as typed: the digits, the Luhn check, and spotting one typed in free text.

Shared by the stored cards (services/billing/cards.py) and every payment's and credit's reference
and notes (payments._received refuses a card number there).
"""
import re

CARD_NUMBER_IN_TEXT = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,}(?![0-9])")
NOT_HERE = ("Do not type card numbers here: store the card on the customer's Cards page, which keeps only its "
            "last four digits.")


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (every card number does)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_digits(value) -> str | None:
    """The digits of a typed card number (spaces and dashes allowed), or None when it is not 13 to
    19 digits."""
    text = re.sub(r"[ -]", "", "" if value is None else str(value))
    if not (13 <= len(text) <= 19) or not text.isascii() or not text.isdigit():
        return None
    return text


def holds_card_number(text) -> bool:
    """Whether free text holds what looks like a card number: 13 to 19 digits (spaces or dashes
    between them allowed) passing Luhn. Used on every payment's and credit's reference and notes."""
    if not text:
        return False
    for match in CARD_NUMBER_IN_TEXT.finditer(str(text)):
        digits = card_digits(match.group(0))
        if digits is not None and luhn_ok(digits):
            return True
    return False
