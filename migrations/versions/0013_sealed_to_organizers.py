"""sealed to organizers: a confirmed signer's name, email and comment sealed to the
organizers' offline key (issue 23)

- `organizer_sealed`: the three fields sealed together (HPKE) to ORGANIZER_PUBLIC_KEY;
  the server cannot open it.
- `signer_copy`: the same, under a secret only the signer's data link carries.
- `link_secret`: that secret, kept only while the submission is pending.
- `display_enc`: the public list's "first name, last initial"; kept once confirmed only
  under its consent.

Revision ID: 0013_sealed_to_organizers
Revises: 0012_extra_mail_window
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_sealed_to_organizers"
down_revision = "0012_extra_mail_window"
branch_labels = None
depends_on = None

COLUMNS = {
    "organizer_sealed": sa.Text(),
    "signer_copy": sa.Text(),
    "link_secret": sa.String(32),
    "display_enc": sa.Text(),
}


def upgrade():
    with op.batch_alter_table("signatures") as batch:
        for name, kind in COLUMNS.items():
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade():
    with op.batch_alter_table("signatures") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
