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
