"""Paper sheets entered (issue 26): one row per sheet of a campaign, its entry and its
check. The rows themselves are signatures (`Signature.method == "paper"`, `sheet_id`),
sealed like online ones (services/paper/entry.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .common import utcnow

ONLINE, PAPER = "online", "paper"  # `signatures.method`


class CheckResult:
    MATCHED = "matched"  # every sampled row read as entered
    MISMATCH = "mismatch"  # at least one sampled row did not


class PaperSheet(db.Model):
    """A paper sheet entered: its number is unique per campaign, so a sheet entered
    twice is refused by the database, whoever races."""

    __tablename__ = "paper_sheets"
    __table_args__ = (UniqueConstraint("campaign_id", "number", name="uq_paper_sheets_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    number: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    rows: Mapped[int] = mapped_column(Integer)  # rows entered from it
    entered_by: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))
    entered_by_email: Mapped[str | None] = mapped_column(String(254))
    entered_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The second organizer's check of a random sample against the paper.
    check_rows: Mapped[str | None] = mapped_column(Text)  # the sample drawn, "3,7,12"
    checked_by: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id"))
    checked_by_email: Mapped[str | None] = mapped_column(String(254))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    check_result: Mapped[str | None] = mapped_column(String(12))  # CheckResult
    check_mismatches: Mapped[int | None] = mapped_column(Integer)

    @property
    def sample(self) -> list[int]:
        return [int(n) for n in (self.check_rows or "").split(",") if n]
