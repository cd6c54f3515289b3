"""superseded links: a confirmed address's other submissions answer "already confirmed"

Confirming one submission deletes the address's other pending ones. Their mailed
links then answered "invalid link", where docs/routes.md promises "already
confirmed". Each deleted submission leaves its id, its link nonce (to check the
link's HMAC) and the confirmed signature that replaced it; nothing personal.

Revision ID: 0011_superseded_links
Revises: 0010_tlog_witness_push
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_superseded_links"
down_revision = "0010_tlog_witness_push"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "superseded_links",
        sa.Column("signature_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column(
            "held_id", BigId, sa.ForeignKey("signatures.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("link_nonce", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_superseded_links_held_id", "superseded_links", ["held_id"])
    op.create_index("ix_superseded_links_created_at", "superseded_links", ["created_at"])


def downgrade():
    op.drop_table("superseded_links")
