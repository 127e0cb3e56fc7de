"""Money is never stored as a float: no model column is a Float (or REAL / DOUBLE), and every
money column keeps four decimals (the most any currency has: ISO 4217)."""
import re
from pathlib import Path

from sqlalchemy import Float, Numeric

import app.models  # noqa: F401  (every model on the metadata)
from flask_appbuilder import Model

MODELS = Path(__file__).resolve().parents[2] / "app" / "models"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
MONEY_COLUMNS = {("customer", "balance"), ("customer_balance", "balance"), ("service", "price")} | {
    (table, column) for table, columns in {
        "invoice": ("net_total", "tax_total", "total", "outstanding"), "invoice_line": ("unit_price", "net", "tax"),
        "payment": ("amount", "unallocated"), "allocation": ("amount",), "payment_release": ("amount",),
        "balance_adjustment": ("amount",), "ledger_entry": ("amount",)}.items() for column in columns}


def test_no_model_source_mentions_a_float_type():
    for source in [*MODELS.glob("*.py"), *MIGRATIONS.glob("*.py")]:
        found = re.findall(r"\b(Float|REAL|DOUBLE(?:_PRECISION)?|Double)\b", source.read_text())
        assert not found, f"{source.name} declares {found}: money and measures are Numeric"


def test_no_column_on_the_metadata_is_a_float():
    floats = [f"{t.name}.{c.name}" for t in Model.metadata.tables.values() for c in t.columns
              if isinstance(c.type, Float)]
    assert floats == []


def test_every_money_column_is_numeric_with_four_decimals():
    for table, column in sorted(MONEY_COLUMNS):
        kind = Model.metadata.tables[table].c[column].type
        assert isinstance(kind, Numeric) and not isinstance(kind, Float), (table, column)
        assert (kind.precision, kind.scale) == (16, 4), (table, column, kind)
