"""FX rates (issue 14): global rates by pair and effective date, a customer's own rates, and the rate
an issued document was issued with

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade():
    pass  # filled in by the FX rates work of issue 14


def downgrade():
    pass
