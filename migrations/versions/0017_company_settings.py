"""company_settings: the business's settings admins change in the browser (time zone, where the
business is), one row

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "company_settings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("time_zone", sa.String(64), nullable=True),
        sa.Column("business_address", sa.String(255), nullable=True),
        sa.Column("business_latitude", sa.Numeric(9, 6), nullable=True),
        sa.Column("business_longitude", sa.Numeric(9, 6), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name="ck_company_settings_one_row"),
    )


def downgrade():
    op.drop_table("company_settings")
