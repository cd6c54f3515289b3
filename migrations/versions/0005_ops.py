"""ops: a random per-signature row key (AES-GCM associated data), a server-side pending
TOTP enrolment secret, and a statement-level guard against TRUNCATE of the audit log

Revision ID: 0005_ops
Revises: 0004_links
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_ops"
down_revision = "0004_links"
branch_labels = None
depends_on = None


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("row_key", sa.String(32), nullable=True))
    # Existing rows get a random key now; their Fernet tokens are bound to it when
    # `flask keys rotate` rewrites them.
    op.execute(
        "UPDATE signatures SET row_key = md5(random()::text || id::text)" if postgres
        else "UPDATE signatures SET row_key = lower(hex(randomblob(16)))"
    )
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("totp_pending_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("totp_pending_at", sa.DateTime(), nullable=True))
    if postgres:
        # Row triggers don't fire on TRUNCATE; a statement-level one does. (SQLite has
        # no TRUNCATE: its "DELETE FROM t" fires the row trigger of 0001.)
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("totp_pending_at")
        batch.drop_column("totp_pending_enc")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("row_key")
