"""What the public may see of a campaign's signers: aggregates, and consenting signers only.

* Counts by country fold every country with fewer than `MIN_COUNTRY_GROUP` confirmed
  signers into "other", so that no small group can be singled out.
* Recent signers come only from counted signatures whose signer chose to be shown
  (`public_consent`), comments only from those whose signer ticked the separate
  comment box (`comment_consent`), and only when the campaign switches the list on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import CampaignUpdate, Signature, SignatureStatus, utcnow
from ..pages import cache
from ..pages.content import CampaignContent, render_markdown
from ..sealing import sealed
from .privacy import public_name

MIN_COUNTRY_GROUP = 5
OTHER = "other"


def counted_filter(campaign_id: int) -> tuple:
    return (Signature.campaign_id == campaign_id, Signature.counted)


def fold_small_countries(
    counts: dict[str, int], minimum: int = MIN_COUNTRY_GROUP
) -> dict[str, int]:
    """Countries below `minimum` merged into "other"; largest first, "other" last."""
    kept = {code: n for code, n in counts.items() if n >= minimum and code != OTHER}
    other = sum(n for code, n in counts.items() if code not in kept)
    folded = dict(sorted(kept.items(), key=lambda item: (-item[1], item[0])))
    if other:
        folded[OTHER] = other
    return folded


def stats_cutoff(now: datetime | None = None) -> datetime:
    """The moment the public aggregates describe: midnight UTC, PUBLIC_STATS_DELAY_DAYS
    ago. Per-country counts and the daily history are computed as of then, so they
    change once a day, in whole days, and can't be differenced against the live
    total to time-stamp (or place in a country) a single confirmation or withdrawal."""
    now = now or utcnow()
    midnight = datetime.combine(now.date(), datetime.min.time())
    return midnight - timedelta(days=current_app.config.get("PUBLIC_STATS_DELAY_DAYS", 1))


def counted_as_of(campaign_id: int, cutoff: datetime) -> tuple:
    """Signatures that were counted at `cutoff`, whatever happened to them since: a later
    withdrawal or invalidation shows only once the cutoff passes it."""
    return (
        Signature.campaign_id == campaign_id,
        Signature.flagged.is_(False),
        Signature.status.in_(
            (SignatureStatus.CONFIRMED, SignatureStatus.WITHDRAWN, SignatureStatus.INVALIDATED)
        ),
        Signature.confirmed_at < cutoff,
        or_(Signature.withdrawn_at.is_(None), Signature.withdrawn_at >= cutoff),
        or_(Signature.invalidated_at.is_(None), Signature.invalidated_at >= cutoff),
    )


def counts_by_country(campaign_id: int, cutoff: datetime | None = None) -> dict[str, int]:
    rows = db.session.execute(
        select(Signature.country, func.count(Signature.id))
        .where(*counted_as_of(campaign_id, cutoff or stats_cutoff()))
        .group_by(Signature.country)
    ).all()
    return fold_small_countries({country: int(n) for country, n in rows})


def daily_history(campaign_id: int, cutoff: datetime | None = None) -> list[dict]:
    """Counted signatures per day of confirmation, with the running total, for whole
    days before the cutoff only (as counted at the cutoff)."""
    day = func.date(Signature.confirmed_at)
    rows = db.session.execute(
        select(day, func.count(Signature.id))
        .where(*counted_as_of(campaign_id, cutoff or stats_cutoff()))
        .group_by(day)
        .order_by(day)
    ).all()
    history, total = [], 0
    for value, n in rows:
        total += int(n)
        # SQLite returns the date as text, PostgreSQL as a date.
        iso = value.isoformat() if isinstance(value, date | datetime) else str(value)[:10]
        history.append({"date": iso, "count": int(n), "total": total})
    return history


def last_signed_at(campaign_id: int) -> datetime | None:
    return db.session.scalar(
        select(func.max(Signature.confirmed_at)).where(*counted_filter(campaign_id))
    )


@dataclass(frozen=True)
class PublicSigner:
    name: str  # first name and last initial
    country: str
    comment: str | None
    confirmed_at: datetime | None


def _cached(key: tuple, version: int, compute):
    """A few seconds of in-process caching: this list is on every page view, and
    each entry costs a decryption. One entry per `key`; a new `version` (the count)
    or an old entry recomputes it, so the cache never grows with the count."""
    ttl = max(current_app.config.get("COUNT_CACHE_SECONDS", 2), 0) * 5
    return cache.remember(cache.PUBLIC_LISTS, key, compute, ttl=ttl, version=version)


def _public_signers(campaign_id: int, limit: int, *, with_comments: bool) -> list[PublicSigner]:
    """Recent signers who chose to be shown or, `with_comments`, comments whose signer
    chose to publish them (their own box, `comment_consent`); a comment carries its
    signer's name only if they also chose to be shown."""
    query = (
        select(Signature)
        .where(
            *counted_filter(campaign_id),
            Signature.erased_at.is_(None),
            # Sealed rows (issue 23) keep only the display under its consent.
            or_(Signature.name_enc.is_not(None), Signature.organizer_sealed.is_not(None)),
        )
        .order_by(Signature.confirmed_at.desc(), Signature.id.desc())
        .limit(limit)
    )
    if with_comments:
        query = query.where(
            Signature.comment_consent.is_(True),
            Signature.comment_enc.is_not(None),
            Signature.comment_hidden.is_(False),
        )
    else:
        query = query.where(Signature.public_consent.is_(True))
    signers = []
    for signature in db.session.scalars(query):
        shown = signature.public_consent
        name = _display(signature) if shown else ""
        comment = (
            sealed.unseal(sealed.PUBLIC, "comment", signature.comment_enc, signature.row_key)
            if with_comments
            else None
        )
        if name or comment:
            country = signature.country if shown else ""
            signers.append(PublicSigner(name, country, comment, signature.confirmed_at))
    return signers


def _display(signature: Signature) -> str:
    """First name and last initial: stored as such for a sealed row (issue 23), else
    made from the full name."""
    if signature.display_enc is not None:
        shown = sealed.unseal(sealed.PUBLIC, "display", signature.display_enc, signature.row_key)
        return shown or ""
    return public_name(sealed.unseal(sealed.PUBLIC, "name", signature.name_enc, signature.row_key))


def recent_signers(content: CampaignContent, campaign_id: int, count: int, limit: int = 10):
    """Recent consenting signers, or [] when the campaign doesn't show the list."""
    if not content.show_recent_signers:
        return []
    return _cached(
        ("signers", campaign_id, limit),
        count,
        lambda: _public_signers(campaign_id, limit, with_comments=False),
    )


def public_comments(content: CampaignContent, campaign_id: int, count: int, limit: int = 10):
    """Comments of consenting signers, not hidden by an organizer; [] when switched off."""
    if not content.show_comments:
        return []
    return _cached(
        ("comments", campaign_id, limit),
        count,
        lambda: _public_signers(campaign_id, limit, with_comments=True),
    )


@dataclass(frozen=True)
class Milestone:
    label: str  # "25%", "50%" or "goal"
    target: int
    reached: bool


def milestones(goal: int, count: int) -> list[Milestone]:
    """25 %, 50 % and the goal itself, of the goal currently shown."""
    marks = [("25%", goal * 25 // 100), ("50%", goal // 2), ("goal", goal)]
    return [Milestone(label, target, count >= target) for label, target in marks if target > 0]


@dataclass(frozen=True)
class PublishedUpdate:
    title: str
    body_html: str
    published_at: datetime


def campaign_updates(campaign_id: int, language: str, limit: int = 20) -> list[PublishedUpdate]:
    """Published updates written in the page's language, newest first."""
    rows = db.session.scalars(
        select(CampaignUpdate)
        .where(
            CampaignUpdate.campaign_id == campaign_id,
            CampaignUpdate.language == language,
            CampaignUpdate.published_at <= utcnow(),
        )
        .order_by(CampaignUpdate.published_at.desc(), CampaignUpdate.id.desc())
        .limit(limit)
    ).all()
    return [PublishedUpdate(row.title, render_markdown(row.body), row.published_at) for row in rows]
