"""tlog_witness: witnesses whose cosignatures the log accepts, and the cosignatures

Revision ID: 0008_tlog_witness
Revises: 0007_tlog
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_tlog_witness"
down_revision = "0007_tlog"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "tlog_witnesses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("vkey", sa.String(400), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "tlog_cosignatures",
        sa.Column(
            "checkpoint_id", BigId, sa.ForeignKey("tlog_checkpoints.id"), primary_key=True
        ),
        sa.Column(
            "witness_id", sa.Integer(), sa.ForeignKey("tlog_witnesses.id"), primary_key=True
        ),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("tlog_cosignatures")
    op.drop_table("tlog_witnesses")
