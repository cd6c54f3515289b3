"""delivery: a separate consent to be named in the delivery pack, and its wording

Revision ID: 0006_delivery
Revises: 0005_ops
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_delivery"
down_revision = "0005_ops"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(
            sa.Column("delivery_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("consent_wordings") as batch:
        batch.add_column(sa.Column("delivery_text", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("consent_wordings") as batch:
        batch.drop_column("delivery_text")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("delivery_consent")
