"""message.send_key (issue 16): the key a message written by a batch is written once under, e.g.
"statement:<job>:<customer>" for a bulk "Send statement". A unique index makes a second write of the
same key a no-op (INSERT ... ON CONFLICT DO NOTHING), so a batch started again after its worker died,
or run twice, sends none twice. NULL for every other message (NULLs never collide).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("message", sa.Column("send_key", sa.String(80), nullable=True))
    op.create_index("ux_message_send_key", "message", ["send_key"], unique=True)


def downgrade():
    op.drop_index("ux_message_send_key", table_name="message")
    with op.batch_alter_table("message") as batch:
        batch.drop_column("send_key")
