"""paper signatures: sheets entered, and signatures collected on them (issue 26)

- `paper_sheets`: one row per sheet entered (number unique per campaign), who entered
  it and when, and the second organizer's sample check.
- `signatures.method` ("online" | "paper"), `sheet_id`, `sheet_row`: a paper row is a
  signature like any other, sealed the same way; `email_confirmed_at`: its address
  confirmed by its owner; `linked_id`: the signature it repeats (same address).
- `count_shards.paper`: the paper part of each shard's count.

Revision ID: 0014_paper_signatures
Revises: 0013_sealed_to_organizers
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_paper_signatures"
down_revision = "0013_sealed_to_organizers"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "paper_sheets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("entered_by", sa.Integer(), sa.ForeignKey("admin_users.id"), nullable=True),
        sa.Column("entered_by_email", sa.String(254), nullable=True),
        sa.Column("entered_at", sa.DateTime(), nullable=False),
        sa.Column("check_rows", sa.Text(), nullable=True),
        sa.Column("checked_by", sa.Integer(), sa.ForeignKey("admin_users.id"), nullable=True),
        sa.Column("checked_by_email", sa.String(254), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("check_result", sa.String(12), nullable=True),
        sa.Column("check_mismatches", sa.Integer(), nullable=True),
        sa.UniqueConstraint("campaign_id", "number", name="uq_paper_sheets_number"),
    )
    with op.batch_alter_table("signatures") as batch:
        batch.add_column(
            sa.Column("method", sa.String(8), nullable=False, server_default="online")
        )
        batch.add_column(sa.Column("sheet_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sheet_row", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("email_confirmed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("linked_id", sa.BigInteger(), nullable=True))
        batch.create_foreign_key(
            "fk_signatures_sheet_id", "paper_sheets", ["sheet_id"], ["id"]
        )
        batch.create_index("ix_signatures_sheet", ["sheet_id", "sheet_row"])
    with op.batch_alter_table("count_shards") as batch:
        batch.add_column(
            sa.Column("paper", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("count_shards") as batch:
        batch.drop_column("paper")
    with op.batch_alter_table("signatures") as batch:
        batch.drop_index("ix_signatures_sheet")
        batch.drop_constraint("fk_signatures_sheet_id", type_="foreignkey")
        for name in ("linked_id", "email_confirmed_at", "sheet_row", "sheet_id", "method"):
            batch.drop_column(name)
    op.drop_table("paper_sheets")
