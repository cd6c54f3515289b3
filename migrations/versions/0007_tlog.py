"""tlog: the per-campaign transparency log (pending changes, leaves, tiles, checkpoints)

Revision ID: 0007_tlog
Revises: 0006_delivery
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_tlog"
down_revision = "0006_delivery"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "tlog_pending",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("signature_id", BigId, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.Column("commitment", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_tlog_pending_campaign_id", "tlog_pending", ["campaign_id", "id"])
    op.create_table(
        "tlog_entries",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("signature_id", BigId, nullable=True),
        sa.Column("commitment_key", sa.BigInteger(), nullable=True),
        sa.Column("target_index", sa.BigInteger(), nullable=True),
    )
    op.create_index(
        "ix_tlog_entries_commitment", "tlog_entries", ["campaign_id", "commitment_key"]
    )
    op.create_index("ix_tlog_entries_target", "tlog_entries", ["campaign_id", "target_index"])
    op.create_index("ix_tlog_entries_signature", "tlog_entries", ["campaign_id", "signature_id"])
    op.create_table(
        "tlog_tiles",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_tlog_checkpoints_campaign_id", "tlog_checkpoints", ["campaign_id"])


def downgrade():
    op.drop_table("tlog_checkpoints")
    op.drop_table("tlog_tiles")
    op.drop_table("tlog_entries")
    op.drop_table("tlog_pending")
