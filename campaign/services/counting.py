"""Confirmed-signature counts without a `COUNT(*)` per request.

Each count change adds to one of `COUNT_SHARDS` rows picked at random, inside the
same transaction as the signature's change, so the total is exact once committed
and concurrent confirmations don't queue on one row. Readers sum the shards and
cache the sum for `COUNT_CACHE_SECONDS` (services/cache.py). `repair()` recomputes
from the table.
"""

from __future__ import annotations

import random

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from ..extensions import db
from ..models import COUNT_SHARDS, Campaign, CountShard, Signature
from . import cache


def create_shards(campaign_id: int) -> None:
    db.session.add_all(
        CountShard(campaign_id=campaign_id, shard=n, confirmed=0) for n in range(COUNT_SHARDS)
    )


_SHARDS = CountShard.__table__.c
# Built once (confirming is a hot path): compiled once per process, then only bound.
ADJUST = (
    update(CountShard.__table__)
    .where(_SHARDS.campaign_id == bindparam("campaign"), _SHARDS.shard == bindparam("shard_no"))
    .values(confirmed=_SHARDS.confirmed + bindparam("delta"))
)


def random_shard() -> int:
    """A shard to add to: spreads concurrent writes; not a secret, so no CSPRNG."""
    return random.randrange(COUNT_SHARDS)  # nosec B311


def adjust(campaign_id: int, delta: int) -> None:
    """Add `delta` to the count, in the caller's transaction."""
    if delta == 0:
        return
    db.session.connection().execute(
        ADJUST,
        {
            "campaign": campaign_id,
            "shard_no": random_shard(),
            "delta": delta,
        },
    )


def confirmed_count(campaign_id: int, *, fresh: bool = False) -> int:
    """The campaign's count, at most COUNT_CACHE_SECONDS old unless `fresh`."""
    return cache.remember(
        cache.COUNTS,
        campaign_id,
        lambda: shards_sum(campaign_id),
        ttl=current_app.config["COUNT_CACHE_SECONDS"],
        refresh=fresh,
    )


def shards_sum(campaign_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(CountShard.confirmed), 0)).where(
                CountShard.campaign_id == campaign_id
            )
        )
    )


def counted_in_table(campaign_id: int) -> int:
    """The true count, by scanning signatures: for repair and checks, never per request."""
    return db.session.scalar(
        select(func.count(Signature.id)).where(
            Signature.campaign_id == campaign_id,
            Signature.counted,
        )
    )


def repair(campaign_id: int) -> tuple[int, int]:
    """Set the shards to the table's true count. Returns (before, after)."""
    # Lock the shard rows first: confirmations in flight wait, then add on top.
    shards = db.session.scalars(
        select(CountShard).where(CountShard.campaign_id == campaign_id).with_for_update()
    ).all()
    before = sum(s.confirmed for s in shards)
    if len(shards) < COUNT_SHARDS:
        existing = {s.shard for s in shards}
        for n in range(COUNT_SHARDS):
            if n not in existing:
                shard = CountShard(campaign_id=campaign_id, shard=n, confirmed=0)
                db.session.add(shard)
                shards.append(shard)
    after = counted_in_table(campaign_id)
    for shard in shards:
        shard.confirmed = after if shard.shard == 0 else 0
    db.session.commit()
    cache.signatures_changed(campaign_id)
    return before, after


def repair_all() -> dict[str, tuple[int, int]]:
    return {c.slug: repair(c.id) for c in db.session.scalars(select(Campaign)).all()}
