"""Confirmed-signature counts without a `COUNT(*)` per request.

Each count change adds to one of `COUNT_SHARDS` rows picked at random, inside the
same transaction as the signature's change, so the total is exact once committed
and concurrent confirmations don't queue on one row. Readers sum the shards and
cache the sum for `COUNT_CACHE_SECONDS` (services/pages/cache.py). `repair()` recomputes
from the table.

Each shard also counts its paper part (issue 26: signatures entered from paper
sheets), so the total and its parts come from one read: online = total - paper.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from ...extensions import db
from ...models import COUNT_SHARDS, PAPER, Campaign, CountShard, Signature
from . import cache


def create_shards(campaign_id: int) -> None:
    db.session.add_all(
        CountShard(campaign_id=campaign_id, shard=n, confirmed=0, paper=0)
        for n in range(COUNT_SHARDS)
    )


_SHARDS = CountShard.__table__.c
# Built once (confirming is a hot path): compiled once per process, then only bound.
ADJUST = (
    update(CountShard.__table__)
    .where(_SHARDS.campaign_id == bindparam("campaign"), _SHARDS.shard == bindparam("shard_no"))
    .values(confirmed=_SHARDS.confirmed + bindparam("delta"))
)

# A paper signature's change moves both the total and its paper part.
ADJUST_PAPER = ADJUST.values(
    confirmed=_SHARDS.confirmed + bindparam("delta"), paper=_SHARDS.paper + bindparam("delta")
)


@dataclass(frozen=True)
class Parts:
    """The count and its parts: "12,400 signatures: 11,900 online, confirmed by email;
    500 on paper"."""

    total: int
    paper: int

    @property
    def online(self) -> int:
        return self.total - self.paper


def random_shard() -> int:
    """A shard to add to: spreads concurrent writes; not a secret, so no CSPRNG."""
    return random.randrange(COUNT_SHARDS)  # nosec B311


def adjust(campaign_id: int, delta: int, *, paper: bool = False) -> None:
    """Add `delta` to the count (and, for a paper signature, to its paper part), in the
    caller's transaction."""
    if delta == 0:
        return
    db.session.connection().execute(
        ADJUST_PAPER if paper else ADJUST,
        {
            "campaign": campaign_id,
            "shard_no": random_shard(),
            "delta": delta,
        },
    )


def confirmed_count(campaign_id: int, *, fresh: bool = False) -> int:
    """The campaign's count, at most COUNT_CACHE_SECONDS old unless `fresh`."""
    return parts(campaign_id, fresh=fresh).total


def parts(campaign_id: int, *, fresh: bool = False) -> Parts:
    """The count and its paper part, cached together (one read of the shards)."""
    return cache.remember(
        cache.COUNTS,
        campaign_id,
        lambda: shards_parts(campaign_id),
        ttl=current_app.config["COUNT_CACHE_SECONDS"],
        refresh=fresh,
    )


def shards_parts(campaign_id: int) -> Parts:
    total, paper = db.session.execute(
        select(
            func.coalesce(func.sum(CountShard.confirmed), 0),
            func.coalesce(func.sum(CountShard.paper), 0),
        ).where(CountShard.campaign_id == campaign_id)
    ).one()
    return Parts(int(total), int(paper))


def shards_sum(campaign_id: int) -> int:
    return shards_parts(campaign_id).total


def counted_in_table(campaign_id: int, *, paper: bool = False) -> int:
    """The true count (or its paper part), by scanning signatures: for repair and
    checks, never per request."""
    query = select(func.count(Signature.id)).where(
        Signature.campaign_id == campaign_id,
        Signature.counted,
    )
    if paper:
        query = query.where(Signature.method == PAPER)
    return db.session.scalar(query)


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
                shard = CountShard(campaign_id=campaign_id, shard=n, confirmed=0, paper=0)
                db.session.add(shard)
                shards.append(shard)
    after = counted_in_table(campaign_id)
    paper = counted_in_table(campaign_id, paper=True)
    for shard in shards:
        shard.confirmed = after if shard.shard == 0 else 0
        shard.paper = paper if shard.shard == 0 else 0
    db.session.commit()
    cache.signatures_changed(campaign_id)
    return before, after


def repair_all() -> dict[str, tuple[int, int]]:
    return {c.slug: repair(c.id) for c in db.session.scalars(select(Campaign)).all()}
