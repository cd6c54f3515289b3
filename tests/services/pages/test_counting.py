"""Counting without COUNT(*) per request: sharded counters, a short cache, and repair."""

from __future__ import annotations

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import COUNT_SHARDS, CountShard, Signature, SignatureStatus
from campaign.services.intake import links
from campaign.services.pages import cache, counting
from campaign.services.pages.campaigns import current_goal, get_row
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from campaign.services.signatures.signing import SignatureInput
from tests.helpers import SLUG


def campaign_id() -> int:
    return get_row(library().get(SLUG)).id


def sign_and_confirm(n: int) -> Signature:
    content = library().get(SLUG)
    signer = SignatureInput.from_raw(name="Counted Person", email=f"c{n}@example.org", country="NL")
    outcome = signing.sign(content, signer)
    signature = db.session.get(Signature, outcome.signature_id)
    assert (
        confirmation.confirm(content, links.make_token(signature, "confirm")).state == "confirmed"
    )
    return signature


def test_a_new_campaign_has_its_shards_at_zero(app):
    cid = campaign_id()
    shards = db.session.scalars(select(CountShard).where(CountShard.campaign_id == cid)).all()
    assert len(shards) == COUNT_SHARDS
    assert counting.confirmed_count(cid, fresh=True) == 0


def test_adjust_adds_in_the_callers_transaction(app):
    cid = campaign_id()
    for _ in range(5):
        counting.adjust(cid, +1)
    counting.adjust(cid, 0)
    db.session.commit()
    assert counting.confirmed_count(cid, fresh=True) == 5
    counting.adjust(cid, -2)
    db.session.rollback()  # rolled back with its transaction
    assert counting.confirmed_count(cid, fresh=True) == 5
    counting.adjust(cid, -2)
    db.session.commit()
    assert counting.confirmed_count(cid, fresh=True) == 3


def test_only_confirmed_unflagged_signatures_count(app):
    cid = campaign_id()
    content = library().get(SLUG)
    signing.sign(
        content, SignatureInput.from_raw(name="Pending Person", email="p@example.org", country="NL")
    )
    assert counting.confirmed_count(cid, fresh=True) == 0
    sign_and_confirm(1)
    sign_and_confirm(2)
    flagged = signing.sign(
        content,
        SignatureInput.from_raw(name="Flagged Person", email="f@example.org", country="NL"),
        flag_reason="test",
    )
    row = db.session.get(Signature, flagged.signature_id)
    confirmation.confirm(content, links.make_token(row, "confirm"))
    assert counting.confirmed_count(cid, fresh=True) == 2
    assert counting.counted_in_table(cid) == 2


def test_the_count_is_cached_for_count_cache_seconds(app):
    cid = campaign_id()
    app.config["COUNT_CACHE_SECONDS"] = 3600
    assert counting.confirmed_count(cid) == 0
    counting.adjust(cid, +1)
    db.session.commit()
    assert counting.confirmed_count(cid) == 0  # cached
    assert counting.confirmed_count(cid, fresh=True) == 1
    counting.adjust(cid, +1)
    db.session.commit()
    cache.signatures_changed()
    assert counting.confirmed_count(cid) == 2
    app.config["COUNT_CACHE_SECONDS"] = 0
    counting.adjust(cid, +1)
    db.session.commit()
    assert counting.confirmed_count(cid) == 3


def test_repair_sets_the_count_from_the_table(app):
    cid = campaign_id()
    sign_and_confirm(1)
    sign_and_confirm(2)
    counting.adjust(cid, +40)  # drift, e.g. a hand edit
    db.session.commit()
    assert counting.confirmed_count(cid, fresh=True) == 42
    assert counting.repair(cid) == (42, 2)
    assert counting.confirmed_count(cid) == 2
    shards = db.session.scalars(select(CountShard).where(CountShard.campaign_id == cid)).all()
    assert len(shards) == COUNT_SHARDS
    assert counting.repair(cid) == (2, 2)  # idempotent


def test_repair_recreates_missing_shards(app):
    cid = campaign_id()
    sign_and_confirm(1)
    db.session.execute(CountShard.__table__.delete().where(CountShard.campaign_id == cid))
    db.session.commit()
    assert counting.confirmed_count(cid, fresh=True) == 0
    assert counting.repair(cid) == (0, 1)
    shards = db.session.scalars(select(CountShard).where(CountShard.campaign_id == cid)).all()
    assert len(shards) == COUNT_SHARDS
    counting.adjust(cid, +1)  # every shard exists again, so any random pick lands
    db.session.commit()
    assert counting.confirmed_count(cid, fresh=True) == 2


def test_repair_all_covers_every_campaign(app):
    cid = campaign_id()
    counting.adjust(cid, +7)
    db.session.commit()
    assert counting.repair_all() == {SLUG: (7, 0)}


def test_withdrawn_and_unconfirmed_do_not_count_after_repair(app):
    cid = campaign_id()
    signature = sign_and_confirm(1)
    sign_and_confirm(2)
    signature.status = SignatureStatus.WITHDRAWN
    db.session.commit()
    assert counting.repair(cid) == (2, 1)


def test_goal_rises_by_its_step_when_reached(app):
    content = library().get(SLUG)
    row = get_row(content)
    assert current_goal(row, content, 0) == content.goal
    assert current_goal(row, content, content.goal - 1) == content.goal
    assert current_goal(row, content, content.goal) == content.goal + content.goal_step
