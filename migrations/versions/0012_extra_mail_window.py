"""extra mail window: the cap on extra mails counts per rolling window, not for life

An address's extra mails (a resent confirmation, "mail me my links again", an "already
signed" note, a corrected address) were capped at ALREADY_SIGNED_MAIL_LIMIT for the
signature's whole life, so anyone who typed the address three times switched its
"mail me my links again" off for good (issue 21, L2). The cap now counts per window of
EXTRA_MAIL_WINDOW_HOURS that opens with its first mail: `extra_mails_since` is when the
current window opened, `extra_mails` how many it has sent. `already_signed_mails` stays
the lifetime total (the delivery pack's figure).

Revision ID: 0012_extra_mail_window
Revises: 0011_superseded_links
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_extra_mail_window"
down_revision = "0011_superseded_links"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(sa.Column("extra_mails_since", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("extra_mails", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("signatures") as batch:
        batch.drop_column("extra_mails")
        batch.drop_column("extra_mails_since")
