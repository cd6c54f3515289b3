"""A second organizer checks a sheet: a random sample of its rows, typed again from the
paper, compared with what was entered.

The comparison needs no decryption: the typed name's blind index (its words' keyed
hashes, services/sealing/blind_index.py) against the row's, and the country. It is still a
look at signers (it tells whether a typed name is on a row), so it is audited first
(`sealed.look`), with the sample, and its outcome after. The sample is drawn once per
sheet and kept, so reloading the page can't pick easier rows; the one who entered a
sheet can't check it.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import AdminUser, CheckResult, NameToken, PaperSheet, Signature, utcnow
from ..intake.validation import country_code_for
from ..sealing import audit, sealed
from ..sealing.blind_index import name_token_hashes

SAMPLE_SHARE = 5  # one row in five
SAMPLE_MINIMUM = 3


class CheckRefused(ValueError):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class RowCheck:
    row: int
    matched: bool


def find_sheet(campaign_id: int, number: int) -> PaperSheet | None:
    return db.session.scalar(
        select(PaperSheet).where(PaperSheet.campaign_id == campaign_id, PaperSheet.number == number)
    )


def may_check(sheet: PaperSheet, actor: AdminUser | None) -> None:
    if actor is None or sheet.entered_by == actor.id:
        raise CheckRefused(
            _l("You entered this sheet: another organizer checks it against the paper.")
        )


def sample(sheet: PaperSheet, actor: AdminUser | None) -> list[int]:
    """The rows to check (drawn at random on first asking, then kept)."""
    may_check(sheet, actor)
    if sheet.check_rows is None:
        rows = db.session.scalars(
            select(Signature.sheet_row)
            .where(Signature.sheet_id == sheet.id, Signature.erased_at.is_(None))
            .order_by(Signature.sheet_row)
        ).all()
        size = min(len(rows), max(SAMPLE_MINIMUM, math.ceil(len(rows) / SAMPLE_SHARE)))
        drawn = sorted(secrets.SystemRandom().sample(list(rows), size))
        sheet.check_rows = ",".join(str(n) for n in drawn)
        db.session.commit()
    return sheet.sample


def record(
    sheet: PaperSheet, actor: AdminUser | None, typed: dict[int, tuple[str, str]]
) -> list[RowCheck]:
    """Compare the sampled rows as typed again (row -> (name, country)) with the entry,
    and mark the sheet checked. Audited before anything is compared."""
    may_check(sheet, actor)
    if sheet.checked_at is not None:
        raise CheckRefused(_l("This sheet was checked already."))
    rows = sheet.sample
    if not rows or sorted(typed) != rows:
        raise CheckRefused(_l("Please type every row of the sample."))
    reason = sealed.look(
        "paper.check",
        campaign_id=sheet.campaign_id,
        target=f"sheet:{sheet.number}",
        details={"sheet": sheet.number, "sample": rows},
        purpose=sealed.Purpose.MODERATION,
    )
    sealed.require_look(reason, sealed.Purpose.MODERATION)
    entered = {
        row: (signature_id, country)
        for signature_id, row, country in db.session.execute(
            select(Signature.id, Signature.sheet_row, Signature.country).where(
                Signature.sheet_id == sheet.id, Signature.sheet_row.in_(rows)
            )
        )
    }
    tokens: dict[int, set[str]] = {}
    for signature_id, token in db.session.execute(
        select(NameToken.signature_id, NameToken.token_hash).where(
            NameToken.signature_id.in_([sid for sid, _ in entered.values()])
        )
    ):
        tokens.setdefault(signature_id, set()).add(token)
    results = []
    for row in rows:
        name, country = typed[row]
        signature_id, entered_country = entered.get(row, (None, None))
        matched = (
            signature_id is not None
            and tokens.get(signature_id, set()) == name_token_hashes(name)
            and country_code_for(country) == entered_country
        )
        results.append(RowCheck(row, matched))
    mismatches = sum(1 for r in results if not r.matched)
    sheet.checked_by = actor.id if actor else None
    sheet.checked_by_email = actor.email if actor else None
    sheet.checked_at = utcnow()
    sheet.check_result = CheckResult.MISMATCH if mismatches else CheckResult.MATCHED
    sheet.check_mismatches = mismatches
    audit.record(
        "paper.check.result",
        campaign_id=sheet.campaign_id,
        target=f"sheet:{sheet.number}",
        details={"sheet": sheet.number, "sampled": len(rows), "mismatches": mismatches},
    )
    db.session.commit()
    return results


@dataclass(frozen=True)
class CheckSummary:
    """How the sheets were checked: for the delivery pack and the paper screen."""

    sheets: int
    rows: int
    checked: int
    matched: int
    sampled_rows: int
    mismatched_rows: int


def summary(campaign_id: int) -> CheckSummary:
    sheets = db.session.scalars(
        select(PaperSheet).where(PaperSheet.campaign_id == campaign_id)
    ).all()
    checked = [s for s in sheets if s.checked_at is not None]
    return CheckSummary(
        sheets=len(sheets),
        rows=sum(s.rows for s in sheets),
        checked=len(checked),
        matched=sum(1 for s in checked if s.check_result == CheckResult.MATCHED),
        sampled_rows=sum(len(s.sample) for s in checked),
        mismatched_rows=sum(s.check_mismatches or 0 for s in checked),
    )
