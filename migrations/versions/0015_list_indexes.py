"""list indexes: every list's default order, walked from an index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02

Every list pages over ids first (app.views.datamodel.ListInterface): a page is an
index walk in the list's order, then its rows by id. These are the indexes of the
default orders (contacts: primary first; addresses: by kind, and by kind within a
town; the audit log: newest first, ties by id). customer_id rides along so that a
reseller's scope is checked from the index. Services and phone numbers are listed by
id (their primary key).
"""
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_contact_is_primary_id", "contact", ["is_primary", "id", "customer_id"])
    op.create_index("ix_address_kind_id", "address", ["kind", "id", "customer_id"])
    op.create_index("ix_address_town_kind_id", "address", ["town", "kind", "id", "customer_id"])
    op.create_index("ix_audit_entry_at_id", "audit_entry", ["at", "id"])
    op.drop_index("ix_audit_entry_at", "audit_entry")


def downgrade():
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.drop_index("ix_audit_entry_at_id", "audit_entry")
    op.drop_index("ix_address_town_kind_id", "address")
    op.drop_index("ix_address_kind_id", "address")
    op.drop_index("ix_contact_is_primary_id", "contact")
