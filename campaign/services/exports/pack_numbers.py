"""The delivery pack's numbers: every figure it prints, read in one snapshot.

The total, the countries, the days and the consents are the ones the dashboard and
the API show (the same functions compute them); `begin_snapshot` makes them add up,
and `named_count` / `listed_count` say how many names the pack carries and how many of
them the server can print (the others are sealed to the organizers, issue 23).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import Campaign, Signature, utcnow
from ..pages import counting, stats
from ..paper import check as paper_check
from ..signer_data import consents, public


@dataclass
class PackNumbers:
    """Every number in the pack, from one snapshot of the database."""

    total: int
    counted_at: datetime
    by_country: dict[str, int]
    history: list[dict]
    named: int
    totals: stats.Totals
    repeat_signings: int
    # The transparency log's signed checkpoint the pack counts from (services/log/transparency.py).
    checkpoint_note: str = ""
    checkpoint_count: int | None = None
    log_url: str = ""
    # How many counted signers gave each consent of the registry, by key (aggregates only).
    consents_given: dict[str, int] = field(default_factory=dict)
    # Issue 26: the total's paper part, and how the paper sheets were checked.
    paper: int = 0
    sheets: paper_check.CheckSummary | None = None

    @property
    def online(self) -> int:
        return self.total - self.paper

    @property
    def unnamed(self) -> int:
        return max(self.total - self.named, 0)


def named_count(campaign_id: int) -> int:
    """Counted signers named in the pack: those who gave the addressees' consents."""
    return db.session.scalar(
        select(func.count(Signature.id)).where(
            *public.counted_filter(campaign_id),
            *consents.given(consents.ADDRESSEES),
            Signature.erased_at.is_(None),
            # A name sealed to the organizers (issue 23) is named in the offline list.
            or_(Signature.name_enc.is_not(None), Signature.organizer_sealed.is_not(None)),
        )
    )


def listed_count(campaign_id: int) -> int:
    """Named signers whose names the server can print (not sealed: `privacy.delivery_names`
    reads these); the others are in the list made offline."""
    return db.session.scalar(
        select(func.count(Signature.id)).where(
            *public.counted_filter(campaign_id),
            *consents.given(consents.ADDRESSEES),
            Signature.erased_at.is_(None),
            Signature.name_enc.is_not(None),
        )
    )


def consents_given(campaign_id: int) -> dict[str, int]:
    """For each consent of the registry, how many counted signers gave it (one query)."""
    table = Signature.__table__
    every = consents.all_consents()
    row = db.session.execute(
        select(*(func.count().filter(table.c[c.column].is_(True)) for c in every)).where(
            *public.counted_filter(campaign_id)
        )
    ).one()
    return {c.key: int(value or 0) for c, value in zip(every, row, strict=True)}


def begin_snapshot() -> None:
    """Read everything that follows from one snapshot (PostgreSQL REPEATABLE READ),
    so the total, the countries and the names can't drift apart mid-pack."""
    db.session.commit()  # end whatever the request read so far
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def gather(campaign: Campaign) -> PackNumbers:
    """The pack's numbers: the same functions as the dashboard and the API."""
    totals = stats.totals(campaign.id)
    now = utcnow().replace(microsecond=0)
    # The API publishes countries and days as of a delayed cutoff (so they can't be
    # differenced to time single confirmations); the pack is made once, as of now.
    parts = counting.parts(campaign.id, fresh=True)
    return PackNumbers(
        total=parts.total,
        paper=parts.paper,
        sheets=paper_check.summary(campaign.id),
        counted_at=now,
        by_country=public.counts_by_country(campaign.id, cutoff=now + timedelta(seconds=1)),
        history=public.daily_history(campaign.id, cutoff=now + timedelta(seconds=1)),
        named=named_count(campaign.id),
        consents_given=consents_given(campaign.id),
        totals=totals,
        repeat_signings=int(
            db.session.scalar(
                select(func.coalesce(func.sum(Signature.already_signed_mails), 0)).where(
                    Signature.campaign_id == campaign.id
                )
            )
        ),
    )
