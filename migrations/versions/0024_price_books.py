"""price books (issue 14): books of items lines are picked from, one default, and a customer's book

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(16, 4)
DEFAULT_BOOK = "Standard prices"


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "price_book",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(80), nullable=False, unique=True),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.create_index("ux_price_book_one_default", "price_book", ["is_default"], unique=True,
                    postgresql_where=sa.text("is_default"), sqlite_where=sa.text("is_default"))
    op.create_table(
        "price_book_item",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("price_book_id", sa.Integer(), sa.ForeignKey("price_book.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("tax_rate_id", sa.Integer(), sa.ForeignKey("tax_rate.id", ondelete="SET NULL"), nullable=True),
        sa.Column("category", sa.String(10), nullable=False, server_default="other"),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.UniqueConstraint("price_book_id", "code", name="uq_price_book_item_code"),
        sa.CheckConstraint("unit_price >= 0", name="ck_price_book_item_price"),
    )
    op.create_index("ix_price_book_item_code", "price_book_item", ["price_book_id", sa.text("lower(code)")])
    op.create_index("ix_price_book_item_name", "price_book_item", ["price_book_id", sa.text("lower(name)")])
    if postgres:  # contains-search on an item's name (ILIKE '%text%'), as the customers' (0002)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX IF NOT EXISTS ix_price_book_item_name_trgm "
                   "ON price_book_item USING gin (name gin_trgm_ops)")
    # No batch rebuild of customer on SQLite (it would drop 0005's triggers): a plain column, its
    # foreign key on PostgreSQL only (the service clears a deleted book's customers itself).
    op.add_column("customer", sa.Column("price_book_id", sa.Integer(), nullable=True))
    if postgres:
        op.create_foreign_key("fk_customer_price_book", "customer", "price_book", ["price_book_id"], ["id"],
                              ondelete="SET NULL")
    # A new installation starts with an empty default book.
    op.bulk_insert(sa.table("price_book", sa.column("name", sa.String), sa.column("is_default", sa.Boolean),
                            sa.column("active", sa.Boolean)),
                   [{"name": DEFAULT_BOOK, "is_default": True, "active": True}])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_customer_price_book", "customer", type_="foreignkey")
        op.execute("DROP INDEX IF EXISTS ix_price_book_item_name_trgm")
    op.drop_column("customer", "price_book_id")
    op.drop_index("ix_price_book_item_name", table_name="price_book_item")
    op.drop_index("ix_price_book_item_code", table_name="price_book_item")
    op.drop_table("price_book_item")
    op.drop_index("ux_price_book_one_default", table_name="price_book")
    op.drop_table("price_book")
