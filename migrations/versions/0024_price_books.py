"""price books (issue 14): reserved, filled in by the price-books work

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
