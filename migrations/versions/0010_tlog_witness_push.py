"""tlog witness push: a checkpoint is published once enough witnesses cosigned it, and
each witness configured by TLOG_WITNESSES has the URL the log pushes checkpoints to

Checkpoints signed before this migration were published when signed.

Revision ID: 0010_tlog_witness_push
Revises: 0009_public_lists
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_tlog_witness_push"
down_revision = "0009_public_lists"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tlog_checkpoints") as table:
        table.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE tlog_checkpoints SET published_at = created_at")
    op.create_index(
        "ix_tlog_checkpoints_published", "tlog_checkpoints", ["campaign_id", "published_at", "id"]
    )
    with op.batch_alter_table("tlog_witnesses") as table:
        table.add_column(sa.Column("url", sa.String(500), nullable=True))


def downgrade():
    with op.batch_alter_table("tlog_witnesses") as table:
        table.drop_column("url")
    op.drop_index("ix_tlog_checkpoints_published", "tlog_checkpoints")
    with op.batch_alter_table("tlog_checkpoints") as table:
        table.drop_column("published_at")
