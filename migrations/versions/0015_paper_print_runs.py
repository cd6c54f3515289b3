"""paper print runs: which sheet numbers were printed, by whom, in which language and size
(issue 26, printable sheets)

One row per press of "Make the sheets": the campaign, the first sheet number and how
many sheets (numbers first_number .. first_number + sheet_count - 1), the language and
paper size, who printed them and when. Runs of one campaign never overlap: the next run
starts after the highest number printed so far, and a unique (campaign, first number)
makes two runs that read the same highest number at once collide (the later retries).
Nothing personal: the sheets are blank when printed.

Revision ID: 0015_paper_print_runs
Revises: 0014_paper_signatures
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_paper_print_runs"
down_revision = "0014_paper_signatures"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "paper_print_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id"), nullable=False),
        sa.Column("first_number", sa.Integer(), nullable=False),
        sa.Column("sheet_count", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("paper_size", sa.String(8), nullable=False),
        sa.Column("printed_by_id", sa.Integer(), nullable=True),
        sa.Column("printed_by", sa.String(254), nullable=True),
        sa.Column("printed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("campaign_id", "first_number", name="uq_paper_print_runs_first"),
        sa.CheckConstraint("first_number >= 1", name="ck_paper_print_runs_first"),
        sa.CheckConstraint("sheet_count >= 1", name="ck_paper_print_runs_count"),
    )


def downgrade():
    op.drop_table("paper_print_runs")
