"""Numbers for the dashboard: totals, confirmation rate, time series, top lists, velocity.

None of them depends on personal data or its blind indexes. The trend alerts (one IP
hash or email domain signing far above its usual rate) do: they are an audited look,
`signers.trends`, shown to organizers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ...extensions import db
from ...models import Signature, SignatureStatus, is_counted, utcnow


@dataclass
class Totals:
    confirmed: int = 0
    pending: int = 0
    invalidated: int = 0
    withdrawn: int = 0
    flagged: int = 0
    ever_confirmed: int = 0
    all: int = 0

    @property
    def confirmation_rate(self) -> float | None:
        return self.ever_confirmed / self.all if self.all else None


def totals(campaign_id: int) -> Totals:
    """Every total in one pass over the campaign's rows."""
    result = Totals()
    was_confirmed = Signature.confirmed_at.is_not(None)
    rows = db.session.execute(
        select(Signature.status, Signature.flagged, was_confirmed, func.count(Signature.id))
        .where(Signature.campaign_id == campaign_id)
        .group_by(Signature.status, Signature.flagged, was_confirmed)
    ).all()
    for status, flagged, confirmed_once, count in rows:
        result.all += count
        if confirmed_once:
            result.ever_confirmed += count
        if flagged:
            result.flagged += count
        if status == SignatureStatus.CONFIRMED and not is_counted(status, flagged):
            continue  # confirmed but not counted: shown under "flagged"
        if status in SignatureStatus.ALL:
            setattr(result, status, getattr(result, status) + count)
    return result


def _bucket(column, unit: str):
    """Truncate a timestamp to the hour or day, in SQL, on either database."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(
            func.date_trunc(unit, column), "YYYY-MM-DD HH24:00" if unit == "hour" else "YYYY-MM-DD"
        )
    return func.strftime("%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d", column)


def series(
    campaign_id: int, unit: str = "hour", points: int = 48, now: datetime | None = None
) -> list[tuple[str, int]]:
    """Signatures made per hour (or day), oldest first, with empty buckets filled in."""
    now = now or utcnow()
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    if unit == "hour":
        end = now.replace(minute=0, second=0, microsecond=0)
        fmt = "%Y-%m-%d %H:00"
    else:
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        fmt = "%Y-%m-%d"
    start = end - step * (points - 1)
    bucket = _bucket(Signature.created_at, unit)
    counts = dict(
        db.session.execute(
            select(bucket, func.count(Signature.id))
            .where(Signature.campaign_id == campaign_id, Signature.created_at >= start)
            .group_by(bucket)
        ).all()
    )
    return [
        ((start + step * n).strftime(fmt), int(counts.get((start + step * n).strftime(fmt), 0)))
        for n in range(points)
    ]


def top(
    campaign_id: int, column, limit: int = 10, counted_only: bool = True
) -> list[tuple[str, int]]:
    query = select(column, func.count(Signature.id)).where(
        Signature.campaign_id == campaign_id, column.is_not(None)
    )
    if counted_only:
        query = query.where(Signature.counted)
    rows = db.session.execute(
        query.group_by(column).order_by(func.count(Signature.id).desc(), column).limit(limit)
    ).all()
    return [(value, int(count)) for value, count in rows]


def top_countries(campaign_id: int, limit: int = 10) -> list[tuple[str, int]]:
    return top(campaign_id, Signature.country, limit)


def top_sources(campaign_id: int, limit: int = 10) -> list[tuple[str, int]]:
    return top(campaign_id, Signature.source, limit)


def direct_count(campaign_id: int) -> int:
    """Counted signatures that came with no source: direct visits (typed or bookmarked)."""
    return int(
        db.session.scalar(
            select(func.count(Signature.id)).where(
                Signature.campaign_id == campaign_id,
                Signature.source.is_(None),
                Signature.counted,
            )
        )
        or 0
    )


def top_referrers(campaign_id: int, limit: int = 10) -> list[tuple[str, int]]:
    return top(campaign_id, Signature.referrer_code, limit)


@dataclass
class Velocity:
    last_hour: int
    previous_hour: int
    per_hour_last_day: float


def velocity(campaign_id: int, now: datetime | None = None) -> Velocity:
    now = now or utcnow()
    hour_ago, two_hours_ago, day_ago = (
        now - timedelta(hours=1),
        now - timedelta(hours=2),
        now - timedelta(days=1),
    )

    def count_between(start: datetime, end: datetime) -> int:
        return db.session.scalar(
            select(func.count(Signature.id)).where(
                Signature.campaign_id == campaign_id,
                Signature.created_at >= start,
                Signature.created_at < end,
            )
        )

    return Velocity(
        last_hour=count_between(hour_ago, now + timedelta(seconds=1)),
        previous_hour=count_between(two_hours_ago, hour_ago),
        per_hour_last_day=count_between(day_ago, now + timedelta(seconds=1)) / 24,
    )
