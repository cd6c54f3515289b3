"""Paper sign-up sheets printed (issue 26): one row per print run, so that no two
printed sheets of a campaign share a number (migration 0015_paper_print_runs)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .common import utcnow


class PrintRun(db.Model):
    """Sheets `first_number` .. `first_number + sheet_count - 1` of a campaign, printed
    together in one language and paper size. Runs never overlap (services/paper/
    print_runs.py allocates them; the unique first number settles a race)."""

    __tablename__ = "paper_print_runs"
    __table_args__ = (
        UniqueConstraint("campaign_id", "first_number", name="uq_paper_print_runs_first"),
        CheckConstraint("first_number >= 1", name="ck_paper_print_runs_first"),
        CheckConstraint("sheet_count >= 1", name="ck_paper_print_runs_count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    first_number: Mapped[int] = mapped_column(Integer)
    sheet_count: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    paper_size: Mapped[str] = mapped_column(String(8))  # "a4" | "letter"
    # Who printed them: the account's id (no foreign key, as in the audit log: the
    # record outlives the account) and its address at the time.
    printed_by_id: Mapped[int | None] = mapped_column(Integer)
    printed_by: Mapped[str | None] = mapped_column(String(254))
    printed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def last_number(self) -> int:
        return self.first_number + self.sheet_count - 1
