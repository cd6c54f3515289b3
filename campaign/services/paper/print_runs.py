"""Print runs: the numbers of the sheets printed, so that no two sheets share one.

A print run takes the numbers after the highest one printed so far for its campaign
(its first sheet is 1). Allocations of one campaign take turns: on PostgreSQL a lock on
the campaign's row, on SQLite the database's one writer; and a unique (campaign, first
number) refuses a second run that starts where another does, should two ever read the
same highest number (the later one tries again). The run and its audit entry (who, how
many, which numbers, language, paper) commit together, before the PDF is made: a PDF
that fails to render leaves an unused range, never a number printed twice.

`printed_sheet` tells the entry screen which run printed a sheet (its language and
paper), so it can start in the sheet's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ...database import sqlite_wal
from ...extensions import db
from ...models import AdminUser, Campaign, PrintRun, utcnow
from ..sealing import audit

PAPER_SIZES = ("a4", "letter")
MAX_SHEETS = 200  # per run: a PDF of 200 pages takes WeasyPrint about a minute
LAST_NUMBER = 9_999_999  # sheet codes carry up to seven digits (sheet_codes.parse)
ATTEMPTS = 3


class PrintRunError(ValueError):
    """A run that can't be printed (the message says why, for the organizer)."""


@dataclass(frozen=True)
class Allocation:
    """The numbers one print run took."""

    run_id: int
    first: int
    count: int
    language: str
    paper_size: str
    printed_at: datetime

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    @property
    def numbers(self) -> range:
        return range(self.first, self.first + self.count)


@dataclass(frozen=True)
class PrintedSheet:
    """What the print run of one sheet number says about it."""

    number: int
    run_id: int
    language: str
    paper_size: str
    printed_at: datetime


def check_request(count: int, language: str, paper_size: str, languages: tuple[str, ...]) -> None:
    """Refuse a run the form should not have let through (the CLI or a test calls too)."""
    if paper_size not in PAPER_SIZES:
        raise PrintRunError(f"unknown paper size {paper_size!r}")
    if language not in languages:
        raise PrintRunError(f"the campaign has no language {language!r}")
    if not 1 <= count <= MAX_SHEETS:
        raise PrintRunError(f"a print run has 1 to {MAX_SHEETS} sheets")


def next_number(campaign_id: int) -> int:
    """The first number no run of the campaign has printed."""
    end = db.session.scalar(
        select(func.max(PrintRun.first_number + PrintRun.sheet_count)).where(
            PrintRun.campaign_id == campaign_id
        )
    )
    return int(end or 1)


def lock_campaign(campaign_id: int) -> None:
    """PostgreSQL: this campaign's allocations take turns (FOR UPDATE is nothing on
    SQLite, whose one writer does the same: a transaction that read before another's
    write can't write)."""
    db.session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())


def allocate(
    campaign: Campaign,
    *,
    count: int,
    language: str,
    paper_size: str,
    languages: tuple[str, ...],
    actor: AdminUser | None = None,
) -> Allocation:
    """Take `count` new sheet numbers for `campaign`, record the run and audit it
    (committed together)."""
    check_request(count, language, paper_size, languages)
    campaign_id = campaign.id
    db.session.commit()  # end what the request read: the lock below starts afresh
    # SQLite: this process's writers and every other's take turns (FOR UPDATE is
    # nothing there), so two runs never read the same highest number at once.
    with sqlite_wal.writer_turn(db.session.connection().connection.info):
        for _attempt in range(ATTEMPTS):
            lock_campaign(campaign_id)
            first = next_number(campaign_id)
            if first + count - 1 > LAST_NUMBER:
                db.session.rollback()
                raise PrintRunError(_("This campaign has printed every sheet number it can."))
            now = utcnow()
            run = PrintRun(
                campaign_id=campaign_id,
                first_number=first,
                sheet_count=count,
                language=language,
                paper_size=paper_size,
                printed_by_id=actor.id if actor else None,
                printed_by=actor.email if actor else None,
                printed_at=now,
            )
            db.session.add(run)
            try:
                db.session.flush()
            except IntegrityError:  # another run took this first number: read again
                db.session.rollback()
                continue
            audit.record(
                "paper.sheets_printed",
                actor=actor,
                campaign_id=campaign_id,
                target=f"sheets {first}-{first + count - 1}",
                details={
                    "first": first,
                    "last": first + count - 1,
                    "sheets": count,
                    "language": language,
                    "paper": paper_size,
                    "run": run.id,
                },
            )
            allocation = Allocation(run.id, first, count, language, paper_size, now)
            db.session.commit()
            return allocation
    raise PrintRunError(_("Other sheets were being printed at the same moment: please try again."))


def printed_sheet(campaign_id: int, number: int) -> PrintedSheet | None:
    """The print run that printed sheet `number` of the campaign, or None if no run did."""
    run = db.session.scalar(
        select(PrintRun)
        .where(
            PrintRun.campaign_id == campaign_id,
            PrintRun.first_number <= number,
            PrintRun.first_number + PrintRun.sheet_count > number,
        )
        .limit(1)
    )
    if run is None:
        return None
    return PrintedSheet(number, run.id, run.language, run.paper_size, run.printed_at)


def runs(campaign_id: int, limit: int = 20) -> list[PrintRun]:
    """The campaign's latest print runs, newest first (the sheets page lists them)."""
    return list(
        db.session.scalars(
            select(PrintRun)
            .where(PrintRun.campaign_id == campaign_id)
            .order_by(PrintRun.first_number.desc())
            .limit(limit)
        )
    )


def printed_total(campaign_id: int) -> int:
    """How many sheets the campaign has printed."""
    return next_number(campaign_id) - 1


__all__ = [
    "MAX_SHEETS",
    "PAPER_SIZES",
    "Allocation",
    "PrintRunError",
    "PrintedSheet",
    "allocate",
    "printed_sheet",
    "printed_total",
    "runs",
]
