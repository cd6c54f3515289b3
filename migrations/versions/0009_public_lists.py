"""public lists: indexes for the page's recent signers and comments (newest confirmed first)

The campaign page lists recent signers and comments ordered by confirmation time. Without
an index in that order, filtered on each list's consent, it meant reading and sorting
every counted row of the campaign: seconds at 1,000,000 signatures on SQLite, every few
seconds per process.

Revision ID: 0009_public_lists
Revises: 0008_tlog_witness
"""

from alembic import op

revision = "0009_public_lists"
down_revision = "0008_tlog_witness"
branch_labels = None
depends_on = None


# Each list filters on its own consent (rare for comments), then wants the newest
# confirmed: the consent is an equality column, so either list is a short range read.
INDEXES = {
    "ix_signatures_public_signers": ["campaign_id", "status", "public_consent", "confirmed_at", "id"],
    "ix_signatures_public_comments": ["campaign_id", "status", "comment_consent", "confirmed_at", "id"],
}


def upgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "signatures", columns)


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="signatures")
