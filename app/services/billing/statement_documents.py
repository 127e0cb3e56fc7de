"""A customer statement as a document: its PDF (issue 16), from the Statement record
(services/billing/statements.py) that the screen and the e-mail read too. Nothing is computed
here but the words and the layout: every amount is the statement's, formatted by money.format in
the statement's currency.

The PDF is templates/statements/pdf.html rendered by xhtml2pdf with the invoice's look (the
company's letterhead and bank details, the same fonts, footer and page numbers): two layouts by
statement.kind, "outstanding" (the invoices unpaid at the date, the unallocated credits, the
ageing and what is owed) and "activity" (balance brought forward, every line with its running
balance, the closing balance, the ageing at the end date).

Why the lines are printed in bands: xhtml2pdf makes each table cell a paragraph of its own, wrapped
three or four times while the table is laid out, and that is most of the time (a 1,000-line
statement of one row per line took ~4 s and 2,000 lines ~11 s). Here a table row holds a band of
BAND lines: each cell holds one column of the band, a line each in a <pre>, so there are BAND
times fewer cells. For the columns to stay level, each text is wrapped here to its column's width
(the same font metrics xhtml2pdf uses) and the shorter cells of a line padded with blank lines.
The bands are shaded in turn, as ledger paper; the header repeats on every page. bench/
statement_pdf.py measures it (BAND=1 in one table is the naive layout, its baseline).

A statement grouped by contact (statements.by_contact) is a statement per group; printed whole, their
PDFs are put together (combined), each group from a new page.

The page count: xhtml2pdf's <pdf:pagecount/> lays the whole document out twice. As for invoices
(documents.pdf_of) the count is printed as text: guessed from the lines (estimate_pages) and made
again with the real count only when the guess was wrong.
"""
import base64
import gc
import io
from dataclasses import dataclass
from functools import lru_cache

from babel.dates import format_date
from markupsafe import Markup
from sqlalchemy.orm import Session

from app.services import company, money
from app.services.billing import documents
from app.services.billing.statements import BUCKETS, KINDS, Statement

# Lines per table row. bench/statement_pdf.py --sweep at 1,000 lines: ~5 s CPU at 1 (a row per line),
# ~1.9 s at 6, ~1.2 s from 10 up; a page holds six bands of 11 (more: more space lost at a page's end).
BAND = 11
ROWS_PER_TABLE = 0  # bands per table; 0: one table for all of them (the header repeats per page)
FONT_SIZE = 8.5  # the lines' text, in points (statements/pdf.html's table.lines td)
# The body's width on A4 less the page's side margins (1.6 cm each), in points, and each cell's
# side padding (3pt + 3pt), so that a line wrapped here fits its cell in xhtml2pdf.
BODY_WIDTH = (21.0 - 3.2) / 2.54 * 72
CELL_PADDING = 6.0
SAFETY = 4.0  # points kept free at a line's end: xhtml2pdf must never wrap a line of ours again

BLANK = "\u00a0"
TITLES = {"outstanding": "Outstanding as at", "activity": "Activity"}


@dataclass(frozen=True)
class Column:
    heading: str
    width: float  # percent of the body's width
    numeric: bool = False


OUTSTANDING_COLUMNS = (Column("Invoice", 19), Column("Date", 15), Column("Due", 15),
                       Column("Total", 18, True), Column("Outstanding", 18, True), Column("Days overdue", 15, True))
CREDIT_COLUMNS = (Column("Date", 15), Column("Credit", 37), Column("Reference", 18), Column("Amount", 15, True),
                  Column("Unallocated", 15, True))
ACTIVITY_COLUMNS = (Column("Date", 14), Column("Description", 31), Column("Reference", 15),
                    Column("Charges", 13, True), Column("Credits", 13, True), Column("Balance", 14, True))


@lru_cache(maxsize=1)
def _font() -> str:
    """The PDFs' font registered with reportlab under a name of ours, to measure text with."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    name = "StatementDejaVuSans"
    pdfmetrics.registerFont(TTFont(name, str(documents.FONTS / "DejaVuSans.ttf")))
    return name


@lru_cache(maxsize=4096)
def _wrap(text: str, width: float) -> tuple[str, ...]:
    """`text` in lines that fit `width` points: broken at spaces, and a word too long for a line
    broken where it must."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    font = _font()
    if not text:
        return (BLANK,)
    if stringWidth(text, font, FONT_SIZE) <= width:
        return (text,)
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if stringWidth(candidate, font, FONT_SIZE) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for char in word:  # a word alone wider than the column: as many characters as fit
            if line and stringWidth(line + char, font, FONT_SIZE) > width:
                lines.append(line)
                line = ""
            line += char
    if line:
        lines.append(line)
    return tuple(lines) or (BLANK,)


def _width(column: Column) -> float:
    """The width a line of `column` may take, in points."""
    return BODY_WIDTH * column.width / 100 - CELL_PADDING - SAFETY


def wrap(text: str, column: Column) -> tuple[str, ...]:
    """`text` in the lines it takes in `column` of the PDF."""
    return _wrap(" ".join(text.split()), _width(column))


def _bands(rows: list[tuple[str, ...]], columns: tuple[Column, ...], band: int) -> list[list[Markup]]:
    """The rows (one text per column) in bands of `band` rows: per band, one cell per column, the
    column's lines one per line of a <pre> (each text escaped), every row as tall in every column.
    A blank line is a no-break space: a <pre> loses a newline it starts with."""
    widths = [_width(c) for c in columns]
    out = []
    for start in range(0, len(rows), band):
        cells: list[list] = [[] for _ in columns]
        for row in rows[start:start + band]:
            wrapped = [_wrap(" ".join(text.split()), width) if text else (BLANK,) for text, width in zip(row, widths)]
            height = max(len(w) for w in wrapped)
            for cell, lines in zip(cells, wrapped):
                cell.extend(lines)
                cell.extend([BLANK] * (height - len(lines)))
        out.append([Markup("\n").join(cell) for cell in cells])
    return out


def _tables(bands: list, rows_per_table: int) -> list[list]:
    if not rows_per_table:
        return [bands] if bands else []
    return [bands[i:i + rows_per_table] for i in range(0, len(bands), rows_per_table)]


def _letterhead(session: Session, config: dict) -> dict:
    """The company as the invoice's PDF shows it (invoices/_pdf.html's company_block)."""
    head = company.letterhead(session, config)
    logo = (f"data:{head.logo_type};base64,{base64.b64encode(head.logo).decode()}"
            if head.logo and head.logo_type else None)
    return {"name": head.name, "address": _lines_of(head.address), "tax_number": head.tax_number,
            "bank_details": _lines_of(head.bank_details), "logo": logo}


def _lines_of(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.strip()]


@lru_cache(maxsize=4096)
def _day(value) -> str:
    return format_date(value, "d MMM y", locale=money.DEFAULT_LOCALE) if value else ""


def _long_day(value) -> str:
    return format_date(value, "d MMMM y", locale=money.DEFAULT_LOCALE) if value else ""


def _outstanding_rows(statement: Statement, amount) -> tuple[list, list]:
    invoices = [(line.reference or line.description, _day(line.on), _day(line.due_on), amount(line.total),
                 amount(line.outstanding), str(line.days_overdue) if line.days_overdue else "")
                for line in statement.lines]
    credits = [(_day(line.on), line.description, line.reference, amount(line.total), amount(line.outstanding))
               for line in statement.credits]
    return invoices, credits


def _activity_rows(statement: Statement, amount) -> list:
    return [(_day(line.on), line.description, line.reference,
             amount(line.amount) if line.amount > 0 else "", amount(-line.amount) if line.amount < 0 else "",
             amount(line.balance)) for line in statement.lines]


def document(session: Session, statement: Statement, config: dict, band: int = BAND,
             rows_per_table: int = ROWS_PER_TABLE, plain: bool = False) -> dict:
    """What the template prints. `band` lines per table row and `rows_per_table` bands per table
    (0: one table) are the layout bench/statement_pdf.py compares, the defaults the fastest it
    found; `plain` (with band=1): each cell's text as it is, no <pre>, the naive layout it is
    compared with."""
    if statement.kind not in KINDS:
        raise ValueError(f"unknown statement kind {statement.kind!r}")
    currency = statement.currency

    def amount(value) -> str:
        return money.format(value, currency)

    letter = _letterhead(session, config)
    ageing = statement.ageing
    data = {
        "company": letter,
        "kind": statement.kind,
        "plain": plain,
        "statement": {
            "title": TITLES[statement.kind], "customer_name": statement.customer_name,
            "contact_name": statement.contact_name, "currency": currency,
            # An additional address's group (an insurer's): whose account it is, under its address.
            "account": f"{statement.customer_name} (#{statement.customer_id})" if statement.contact_id else None,
            "billing_address": _lines_of(statement.billing_address),
            "as_at": _long_day(statement.as_at), "start": _long_day(statement.start),
            "period": f"{_day(statement.start)} to {_day(statement.as_at)}",
            "opening_balance": amount(statement.opening_balance) if statement.opening_balance is not None else None,
            "closing_balance": amount(statement.closing_balance),
            "line_count": len(statement.lines), "credit_count": len(statement.credits),
        },
        "ageing": {"as_at": _long_day(ageing.as_at), "buckets": list(zip(BUCKETS, map(amount, ageing.buckets))),
                   "credit": amount(-ageing.credit), "total": amount(ageing.total)},  # credit: less, "-£25.00"
    }
    if statement.kind == "outstanding":
        invoices, credits = _outstanding_rows(statement, amount)
        data["columns"] = OUTSTANDING_COLUMNS
        data["tables"] = _tables(_bands(invoices, OUTSTANDING_COLUMNS, band), rows_per_table)
        data["credit_columns"] = CREDIT_COLUMNS
        data["credit_tables"] = _tables(_bands(credits, CREDIT_COLUMNS, band), rows_per_table)
    else:
        data["columns"] = ACTIVITY_COLUMNS
        data["tables"] = _tables(_bands(_activity_rows(statement, amount), ACTIVITY_COLUMNS, band), rows_per_table)
    return data


def statement_html(session: Session, statement: Statement, config: dict, pages: int = 1, **layout) -> str:
    """The statement as the HTML xhtml2pdf turns into its PDF; the footer says "Page n of `pages`"."""
    return _html(document(session, statement, config, **layout), pages)


def _html(data: dict, pages: int) -> str:
    return documents._templates.get_template("statements/pdf.html").render(**data, pages=pages)


# The page's geometry in points, for estimate_pages, measured on renders (pdftotext -bbox): the body
# of an A4 page less its margins, a line of the bands, a band's padding, the table's header row, a
# line of the address blocks, what the first page takes above the lines (the letterhead's right
# side and the address's label; an activity statement's brought forward too) and below them (the
# ageing, how to pay: with one line of bank details). A wrong guess costs one more render, nothing else.
PAGE_HEIGHT = (29.7 - 1.5 - 2.2) / 2.54 * 72
LINE_HEIGHT = 10.375
BAND_PADDING = 3.0
HEADER_ROW = 16.75
TEXT_LINE = 13.5
HEAD_RIGHT = 88.0  # the right side of the letterhead: STATEMENT, its date, currency and total
ABOVE_LINES = {"outstanding": 160.0 - HEAD_RIGHT, "activity": 165.5 - HEAD_RIGHT}
BELOW_LINES = {"outstanding": 135.0, "activity": 150.0}
CREDITS_HEADING = 40.0


def _first_page_above(data: dict) -> float:
    company_ = data["company"]
    left = (54.0 if company_["logo"] else 0.0) + 16.0 + TEXT_LINE * (
        len(company_["address"]) + bool(company_["tax_number"]))
    return (ABOVE_LINES[data["kind"]] + max(left, HEAD_RIGHT)
            + TEXT_LINE * (len(data["statement"]["billing_address"]) + bool(data["statement"]["account"])))


def estimate_pages(data: dict) -> int:
    """The pages the document will take, guessed from its bands' heights."""
    used, pages = _first_page_above(data), 1
    for extra, tables in ((0.0, data["tables"]), (CREDITS_HEADING, data.get("credit_tables") or [])):
        used += extra
        for table in tables:
            used += HEADER_ROW
            for height in (str(band[0]).count("\n") + 1 for band in table):
                step = height * LINE_HEIGHT + BAND_PADDING
                if used + step > PAGE_HEIGHT:
                    pages, used = pages + 1, HEADER_ROW
                used += step
    bank = data["company"]["bank_details"]
    below = BELOW_LINES[data["kind"]] + TEXT_LINE * (len(bank) - 1) - (0 if bank else 40.0)
    return pages + (used + below > PAGE_HEIGHT)


def render(data: dict) -> bytes:
    """The PDF of `data` (document()), "Page n of N" right: made once with the estimated count,
    again with the real one if the guess was wrong. Python's cycle collector is held off while
    xhtml2pdf runs: it makes hundreds of thousands of objects that live until the end, and the
    collector scanning them again and again made the time grow faster than the lines (4,000
    lines: 6.6 s CPU with it, 5.2 s without; 1,000 lines: 1.5 s and 1.3-1.5 s). Not thread-safe
    as such: another thread's render may turn it back on meanwhile, which costs time, nothing else."""
    guess = estimate_pages(data)
    pdf = _render(_html(data, guess))
    pages = documents.page_count(pdf)
    if pages != guess:
        pdf = _render(_html(data, pages))
    return pdf


def _render(html: str) -> bytes:
    enabled = gc.isenabled()
    gc.disable()
    try:
        return documents.render_pdf(html)
    finally:
        if enabled:
            gc.enable()


def pdf(session: Session, statement: Statement, config: dict) -> bytes:
    """The statement's PDF (bytes). Reads the company's settings only: the statement is built
    (and its customer's scope checked) by services/billing/statements."""
    return render(document(session, statement, config))


def combined(pdfs: list[bytes]) -> bytes:
    """Several statements' PDFs as one (a statement grouped by contact printed whole): each from a page
    of its own, each keeping its own "Page n of N"."""
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    for one in pdfs:
        writer.append(PdfReader(io.BytesIO(one)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def filename_for(statement: Statement) -> str:
    """statement-<customer id>-<date>.pdf (an additional address's group: statement-<customer id>-<address
    id>-<date>.pdf): safe in any file system and header."""
    contact = f"-{statement.contact_id}" if statement.contact_id is not None else ""
    return f"statement-{statement.customer_id}{contact}-{statement.as_at.isoformat()}.pdf"
