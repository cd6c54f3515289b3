"""links: idempotent update publishing, mailed by the worker; referral codes hashed

One row per press of "Publish" (UNIQUE publish_key, the form's nonce), with the
worker's keyset cursor over the recipients; each update points at its publication.

Referral codes were stored in clear (a dump showed who recruited whom): existing
values are replaced by keyed hashes, as services/intake/links.py now writes them. Share
links handed out before this migration still record a (hashed) referrer, but no
longer count toward their sharer, whose code is now derived from the link nonce.

Revision ID: 0004_links
Revises: 0003_signing
"""

import hashlib
import hmac
import os

import sqlalchemy as sa
from alembic import op
from flask import current_app, has_app_context

revision = "0004_links"
down_revision = "0003_signing"
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
                    ["campaign_id"])
    with op.batch_alter_table("campaign_updates") as batch:
        batch.add_column(sa.Column("publication_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_campaign_updates_publication_id_update_publications", "update_publications",
                                 ["publication_id"], ["id"])
        batch.create_index("ix_campaign_updates_publication_id", ["publication_id"])
    hash_referral_codes()


def keyed_hash(key: bytes, purpose: str, value: str, length: int) -> str:
    """crypto.keyed_hash, frozen here as it was when this migration was written."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:length]


def hash_referral_codes() -> None:
    key = (current_app.config.get("HASH_KEY") if has_app_context() else None) or os.environ.get(
        "HASH_KEY", ""
    )
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, referral_code, referrer_code, link_nonce FROM signatures"
    )).fetchall()
    if rows and not key:
        raise RuntimeError("HASH_KEY is needed to hash the stored referral codes")
    for row in rows:
        own = row.link_nonce or f"old:{row.referral_code}"
        connection.execute(
            sa.text("UPDATE signatures SET referral_code = :own, referrer_code = :ref "
                    "WHERE id = :id"),
            {"id": row.id, "own": keyed_hash(key.encode(), "referral-own", own, 16),
             "ref": keyed_hash(key.encode(), "referral", row.referrer_code, 16)
             if row.referrer_code else None},
        )


def downgrade():
    with op.batch_alter_table("campaign_updates") as batch:
        batch.drop_index("ix_campaign_updates_publication_id")
        batch.drop_constraint("fk_campaign_updates_publication_id_update_publications", type_="foreignkey")
        batch.drop_column("publication_id")
    op.drop_index("ix_update_publications_campaign_id", table_name="update_publications")
    op.drop_table("update_publications")
