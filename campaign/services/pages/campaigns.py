"""The link between a campaign's files and its database row."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Campaign
from . import cache, counting
from .content import CampaignContent, library


def get_row(content: CampaignContent) -> Campaign:
    """The campaign's row, created (with its count shards) on first use."""
    row = db.session.scalar(select(Campaign).where(Campaign.slug == content.slug))
    if row is not None:
        return row
    row = Campaign(slug=content.slug, goal=content.goal)
    db.session.add(row)
    try:
        db.session.flush()
        counting.create_shards(row.id)
        db.session.commit()
    except IntegrityError:  # another worker created it first
        db.session.rollback()
        row = db.session.scalar(select(Campaign).where(Campaign.slug == content.slug))
    return row


class CampaignRef(NamedTuple):
    """What requests need of a campaign's row, without a SELECT each time."""

    id: int
    goal: int


def campaign_ref(content: CampaignContent) -> CampaignRef:
    """The row's id and goal, cached per process for COUNT_CACHE_SECONDS.

    The id never changes once created; the goal may be raised by an organizer and
    shows up within the same few seconds as the count.
    """
    return cache.remember(
        cache.CAMPAIGN_ROWS,
        content.slug,
        lambda: _ref(get_row(content)),
        ttl=current_app.config["COUNT_CACHE_SECONDS"],
    )


def _ref(row: Campaign) -> CampaignRef:
    return CampaignRef(row.id, row.goal)


def sync_all() -> list[Campaign]:
    """Make sure every campaign in `content/` has its row (`flask content load`)."""
    return [get_row(content) for content in library().all()]


def current_goal(row: Campaign | CampaignRef, content: CampaignContent, count: int) -> int:
    """The goal shown: raised by `goal_step` each time it is reached."""
    goal = max(row.goal, content.goal)
    step = max(content.goal_step, 1)
    if count >= goal:  # one step past the count, whatever the count
        goal += ((count - goal) // step + 1) * step
    return goal
