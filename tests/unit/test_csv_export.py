"""The export statement: large and small exports give the same rows."""
from decimal import Decimal

from sqlalchemy import select

from app.models import Customer, CustomerService
from app.services import csv_export
from tests import factories as f


def test_large_and_small_exports_give_the_same_rows(ctx):
    vip, trade = f.tag("vip"), f.tag("=trade")
    both = f.customer(surname="Both", tag_ids=[vip.id, trade.id], reseller_id=f.reseller_id("Reseller A"))
    for name, status in (("Fibre 900", "active"), ("=Hosting", "suspended"), ("Old line", "cancelled")):
        ctx.add(CustomerService(customer_id=both.id, name=name, price=Decimal("10.00"), status=status))
    ctx.commit()
    f.customer(surname="None")
    f.customer(surname="One", tag_ids=[vip.id])
    base = select(Customer).order_by(Customer.sort_name, Customer.id)
    column = {header: i for i, header in enumerate(csv_export.headers())}
    tags, services = column["Tags"], column["Services"]

    def rows(expected):
        out = []
        for row in ctx.execute(csv_export.customers_statement(base, rows_expected=expected)):
            row = list(row)
            for i, sep in ((tags, "; "), (services, ", ")):
                assert not (row[i] or "").startswith("=")  # the cell is safe in a spreadsheet
                row[i] = sorted((row[i] or "").lstrip("'").split(sep))  # the order within may differ
            out.append(row)
        return out

    small, large = rows(1), rows(csv_export.LARGE_EXPORT + 1)
    assert small == large
    first = small[0]
    assert first[column["Surname"]] == "Both" and first[column["Reseller"]] == "Reseller A"
    assert first[tags] == ["=trade", "vip"]
    assert first[services] == ["=Hosting (suspended)", "Fibre 900"]  # cancelled ones are left out
    assert small[1][services] == [""]


def test_amounts_have_two_decimals_and_dates_are_iso_on_every_database(ctx):
    from datetime import date

    from sqlalchemy import update
    customer = f.customer(surname="Money")
    ctx.execute(update(Customer).where(Customer.id == customer.id)
                .values(balance=Decimal("-12.5"), joined_on=date(2026, 1, 2)))
    ctx.commit()
    stmt = csv_export.customers_statement(select(Customer).order_by(Customer.id), rows_expected=1)
    text = b"".join(csv_export.stream_csv(ctx, stmt, csv_export.headers())).decode("utf-8-sig")
    header, row = [line.split(",") for line in text.strip().split("\r\n")]
    values = dict(zip(header, row))
    assert (values["Balance"], values["Date joined"], values["Surname"]) == ("-12.50", "2026-01-02", "Money")


def test_each_balance_has_its_own_currencys_decimals_rounded_half_up_on_every_database(ctx):
    from sqlalchemy import update
    balances = {"GBP": ("-12.5", "-12.50"), "JPY": ("1234.50", "1235"), "BHD": ("7.25", "7.250"),
                "CLF": ("3.1", "3.1000")}
    for currency, (stored, _) in balances.items():
        customer = f.customer(surname=currency, currency=currency)
        ctx.execute(update(Customer).where(Customer.id == customer.id).values(balance=Decimal(stored)))
    ctx.commit()
    stmt = csv_export.customers_statement(select(Customer).order_by(Customer.id), rows_expected=1)
    text = b"".join(csv_export.stream_csv(ctx, stmt, csv_export.headers())).decode("utf-8-sig")
    header, *rows = [line.split(",") for line in text.strip().splitlines()]
    shown = {values["Currency"]: values["Balance"] for values in (dict(zip(header, row)) for row in rows)}
    assert shown == {currency: expected for currency, (_, expected) in balances.items()}
