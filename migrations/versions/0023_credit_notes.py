"""credit notes (issue 14): reserved, filled in by the credit-notes work

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
