"""card charges (issue 14): reserved, filled in by the stored-cards work

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
