"""links: idempotent update publishing, mailed by the worker

One row per press of "Publish" (UNIQUE publish_key, the form's nonce), with the
worker's keyset cursor over the recipients; each update points at its publication.

Revision ID: 0004_links
Revises: 0002_admin
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_links"
down_revision = "0002_admin"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "update_publications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("publish_key", sa.String(64), nullable=False),
        sa.Column("send_mail", sa.Boolean(), nullable=False),
        sa.Column("mail_cursor", sa.BigInteger(), nullable=False),
        sa.Column("mails_queued", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("mail_done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_update_publications"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"],
                                name="fk_update_publications_campaign_id_campaigns"),
        sa.UniqueConstraint("publish_key", name="uq_update_publications_publish_key"),
    )
    op.create_index("ix_update_publications_campaign_id", "update_publications",
                    ["campaign_id"])  # fmt: skip
    with op.batch_alter_table("campaign_updates") as batch:
        batch.add_column(sa.Column("publication_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_campaign_updates_publication_id_update_publications", "update_publications",
                                 ["publication_id"], ["id"])  # fmt: skip
        batch.create_index("ix_campaign_updates_publication_id", ["publication_id"])


def downgrade():
    with op.batch_alter_table("campaign_updates") as batch:
        batch.drop_index("ix_campaign_updates_publication_id")
        batch.drop_constraint("fk_campaign_updates_publication_id_update_publications", type_="foreignkey")
        batch.drop_column("publication_id")
    op.drop_index("ix_update_publications_campaign_id", table_name="update_publications")
    op.drop_table("update_publications")
