"""signing: one row per submission (the address's slot is held only by confirmed rows),
a separate comment consent and its wording, and mail rendered by the worker

Revision ID: 0003_signing
Revises: 0002_admin
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_signing"
down_revision = "0002_admin"
branch_labels = None
depends_on = None

HELD = sa.text("confirmed_at IS NOT NULL")


def upgrade():
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("comment_consent", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("mailed_at", sa.DateTime(), nullable=True))
        batch.drop_constraint("uq_signatures_campaign_dedup", type_="unique")
    # Rows mailed before this migration count as mailed (the cap on extra mails).
    op.execute("UPDATE signatures SET mailed_at = created_at WHERE dedup_key IS NOT NULL")
    op.create_index("ix_signatures_campaign_dedup", "signatures", ["campaign_id", "dedup_key"])
    op.create_index(
        "uq_signatures_campaign_dedup_held", "signatures", ["campaign_id", "dedup_key"],
        unique=True, sqlite_where=HELD, postgresql_where=HELD,
    )
    with op.batch_alter_table("consent_wordings") as batch:
        batch.add_column(sa.Column("comment_text", sa.Text(), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("context", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("context")
        batch.drop_column("language")
    with op.batch_alter_table("consent_wordings") as batch:
        batch.drop_column("comment_text")
    op.drop_index("uq_signatures_campaign_dedup_held", table_name="signatures")
    op.drop_index("ix_signatures_campaign_dedup", table_name="signatures")
    # Keep one row per address (the confirmed one, else the newest) before the old UNIQUE.
    op.execute(
        "DELETE FROM signatures WHERE dedup_key IS NOT NULL AND id NOT IN ("
        " SELECT MAX(id) FROM signatures WHERE dedup_key IS NOT NULL"
        " GROUP BY campaign_id, dedup_key)"
        " AND confirmed_at IS NULL"
    )
    with op.batch_alter_table("signatures") as batch:
        batch.create_unique_constraint("uq_signatures_campaign_dedup", ["campaign_id", "dedup_key"])
        batch.drop_column("mailed_at")
        batch.drop_column("comment_consent")
