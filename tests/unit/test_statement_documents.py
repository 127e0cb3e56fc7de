"""A customer statement's PDF (issue 16): both kinds print their lines, amounts in the statement's
currency, the ageing and what is owed, on as many pages as the lines take with "Page n of N" right;
every text prints as text (a reference of <script> or =HYPERLINK( is not markup); long texts wrap
inside their column without moving the other columns' lines. The Statement records are made here
(services/billing/statements builds them from the ledger; its own tests prove the figures)."""
import re
import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.models import CompanySettings
from app.services.billing import documents
from app.services.billing import statement_documents as sd
from app.services.billing.statements import Ageing, Statement, StatementLine

NASTY = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://evil.example","Pay here")'
ADDRESS = "Ada Lovelace\n12 Mill Lane\nYork YO1 7HH"


def pdf_text(pdf: bytes) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


def flat(text: str) -> str:
    """pdftotext's text with its layout's runs of spaces as one space."""
    return re.sub(r"[ \t]+", " ", text)


@pytest.fixture
def letterhead(ctx):
    ctx.merge(CompanySettings(id=1, company_name="Soapy Ltd", company_address="1 High St\nLeeds",
                              tax_number="GB123456789", bank_details="Sort code 00-11-22, account 12345678"))
    ctx.commit()


def activity(n: int, currency: str = "GBP", reference: str = NASTY) -> Statement:
    """`n` lines: an invoice, a payment and its allocation in turn; the first payment's reference
    is `reference`."""
    start, balance, lines = date(2024, 1, 1), Decimal("100.00"), []
    for i in range(n):
        on = start + timedelta(days=i // 3)
        if i % 3 == 0:
            amount, kind, ref, words = Decimal("120.00"), "invoice", f"INV-{100 + i}", f"Invoice INV-{100 + i}"
        elif i % 3 == 1:
            amount, kind, ref, words = Decimal("-80.50"), "payment", reference if i == 1 else f"PAY-{i}", \
                "Payment by card"
        else:
            amount, kind, ref, words = Decimal(0), "allocation", f"INV-{100 + i - 2}", f"Allocated to INV-{100 + i - 2}"
        balance += amount
        lines.append(StatementLine(on=on, kind=kind, reference=ref, description=words, amount=amount, balance=balance))
    end = lines[-1].on if lines else start
    ageing = Ageing(as_at=end, buckets=(balance, Decimal(0), Decimal(0), Decimal(0), Decimal(0)), credit=Decimal(0))
    return Statement(kind="activity", customer_id=7, customer_name="Ada Lovelace", currency=currency,
                     billing_address=ADDRESS, as_at=end, ageing=ageing, closing_balance=balance, lines=lines,
                     start=start, opening_balance=Decimal("100.00"))


def outstanding(n: int, reference: str = FORMULA) -> Statement:
    """`n` unpaid invoices of 150.00 (every fourth part-paid: 49.99 left) and a credit of 25.00;
    the third invoice's number is `reference`."""
    as_at, buckets, lines = date(2024, 6, 30), [Decimal(0)] * 5, []
    for i in range(n):
        on = as_at - timedelta(days=2 * (n - i))
        due = on + timedelta(days=30)
        overdue = (as_at - due).days
        left = Decimal("49.99") if i % 4 == 0 else Decimal("150.00")
        buckets[0 if overdue <= 0 else 1 if overdue <= 30 else 2 if overdue <= 60 else 3 if overdue <= 90 else 4] \
            += left
        lines.append(StatementLine(on=on, kind="invoice", reference=reference if i == 2 else f"INV-{100 + i}",
                                   description=f"Invoice INV-{100 + i}", due_on=due, total=Decimal("150.00"),
                                   outstanding=left, days_overdue=max(overdue, 0)))
    credits = [StatementLine(on=as_at - timedelta(days=3), kind="payment", reference="BACS-77",
                             description="Payment by bank transfer", amount=Decimal("-25.00"), total=Decimal("60.00"),
                             outstanding=Decimal("25.00"))]
    ageing = Ageing(as_at=as_at, buckets=tuple(buckets), credit=Decimal("25.00"))
    return Statement(kind="outstanding", customer_id=7, customer_name="Ada Lovelace", currency="GBP",
                     billing_address=ADDRESS, as_at=as_at, ageing=ageing, closing_balance=ageing.total, lines=lines,
                     credits=credits)


def test_an_outstanding_statement_prints_its_invoices_credits_ageing_and_total_owed(ctx, letterhead):
    statement = outstanding(6)
    pdf = sd.pdf(ctx, statement, {})
    assert pdf.startswith(b"%PDF")
    text = flat(pdf_text(pdf))
    owed = statement.ageing.total  # 5 x 150.00 + 49.99 - 25.00 - (150.00 - 49.99): 2 part-paid
    assert owed == Decimal("674.98")
    for expected in ("Soapy Ltd", "1 High St", "GB123456789", "STATEMENT", "Outstanding as at 30 June 2024",
                     "Ada Lovelace", "12 Mill Lane", "INV-100", "INV-105", "£150.00", "£49.99",
                     "Credits not yet allocated", "BACS-77", "£25.00", "Ageing at 30 June 2024", "Not yet due",
                     "Over 90", "Total owed", "£674.98", "Sort code 00-11-22", "Page 1 of 1"):
        assert expected in text, expected
    # Printed as it is (wrapped in its column: each piece on a line), not a formula nor markup.
    pieces = sd.wrap(FORMULA, sd.OUTSTANDING_COLUMNS[0])
    assert len(pieces) > 1 and all(piece in text for piece in pieces)


def test_an_activity_statement_prints_brought_forward_each_line_its_running_balance_and_closing(ctx, letterhead):
    statement = activity(9)
    text = flat(pdf_text(sd.pdf(ctx, statement, {})))
    for expected in ("Activity 1 Jan 2024 to 3 Jan 2024", "Balance brought forward at 1 January 2024",
                     "£100.00", "Invoice INV-100", "Payment by card", "Allocated to INV-100", "£80.50",
                     "£139.50", "Closing balance at 3 January 2024", "£218.50", "Ageing at 3 January 2024",
                     "Page 1 of 1"):
        assert expected in text, expected
    # Each line's cells stay on one printed line: date, words, reference, amount, balance.
    assert re.search(r"1 Jan 2024 Invoice INV-100 INV-100 £120.00 £220.00", text)
    assert re.search(r"1 Jan 2024 Allocated to INV-100 INV-100 £139.50", text)


def test_markup_in_any_text_prints_as_text(ctx, letterhead):
    statement = activity(3, reference=NASTY)
    html = sd.statement_html(ctx, statement, {})
    assert "<script>" not in html and "&lt;script&gt;" in html
    text = pdf_text(sd.pdf(ctx, statement, {}))
    pieces = sd.wrap(NASTY, sd.ACTIVITY_COLUMNS[2])  # the reference column: on as many lines as it takes
    assert "".join(pieces) == NASTY.replace(" ", "")
    assert all(piece in text for piece in pieces)


def test_amounts_are_in_the_statements_currency(ctx, letterhead):
    text = flat(pdf_text(sd.pdf(ctx, activity(3, currency="JPY"), {})))
    assert "JP¥120" in text and "JP¥100" in text and "£" not in text


def test_a_long_text_wraps_in_its_column_and_the_other_columns_keep_level(ctx, letterhead):
    long_reference = "REF-" + "X" * 60  # no space: broken where it must
    statement = activity(6, reference=long_reference)
    data = sd.document(ctx, statement, {})
    band = data["tables"][0][0]
    heights = {str(cell).count("\n") for cell in band}
    assert len(heights) == 1  # every column of the band has as many lines
    text = pdf_text(sd.pdf(ctx, statement, {}))
    assert "REF-X" in text and text.count("X") == 60  # all of it, over several lines


def test_pages_grow_with_the_lines_and_the_count_is_right(ctx, letterhead):
    one = sd.pdf(ctx, activity(12), {})
    many = sd.pdf(ctx, activity(300), {})
    pages = documents.page_count(many)
    assert documents.page_count(one) == 1 and pages >= 4
    text = pdf_text(many)
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Invoice INV-397" in text  # the last line printed
    # The table's header is on every page of lines (the last may hold only the ageing).
    for page in text.split("\f")[:-2]:
        assert "Description" in page and "Balance" in page


def test_a_statement_without_lines_says_so(ctx, letterhead):
    text = flat(pdf_text(sd.pdf(ctx, outstanding(0), {})))
    assert "No invoice is outstanding." in text and "-£25.00" in text  # the credit, in the ageing
