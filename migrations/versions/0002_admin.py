"""admin: the last accepted TOTP time step (refuse replayed codes), and an index for
the signers table's keyset pages (newest first within a campaign)

Revision ID: 0002_admin
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_admin"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_index("ix_signatures_campaign_id_id", "signatures", ["campaign_id", "id"])


def downgrade():
    op.drop_index("ix_signatures_campaign_id_id", table_name="signatures")
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("totp_last_step")
