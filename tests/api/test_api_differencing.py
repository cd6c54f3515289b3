"""Attack: poll the API and difference its per-country counts and daily history to
time-stamp (and place in a country) a single confirmation or withdrawal."""

from __future__ import annotations

from datetime import timedelta

from campaign.extensions import db
from campaign.models import utcnow
from campaign.services.pages import cache
from campaign.services.signer_data import privacy, public
from tests.helpers import SLUG
from tests.reach_data import confirmed_signature


def fetch(client, app) -> dict:
    cache.forget(cache.API, app=app)
    cache.forget(cache.PUBLIC_LISTS)
    return client.get(f"/api/v1/petitions/{SLUG}").get_json()


def test_differencing_the_api_cannot_time_stamp_a_confirmation_or_withdrawal(client, app):
    three_days_ago = utcnow() - timedelta(days=3)
    old = [confirmed_signature(country="SE") for _ in range(5)]
    for signature in old:
        signature.confirmed_at = three_days_ago
    db.session.commit()
    before = fetch(client, app)
    assert before["counts_by_country"] == {"SE": 5}
    assert before["history"][-1]["total"] == 5
    # Now: one signer from Iceland confirms, one Swedish signer withdraws.
    confirmed_signature(country="IS")
    privacy.withdraw(old[0])
    after = fetch(client, app)
    assert after["total_signatures"] == before["total_signatures"]  # +1 −1, live
    # The aggregates don't move until the day is over and the delay has passed:
    assert after["counts_by_country"] == before["counts_by_country"] == {"SE": 5}
    assert after["history"] == before["history"]
    # ... nor does the fewer-than-5 fold flip (SE at 4 would vanish into "other").
    assert "SE" in after["counts_by_country"]


def test_aggregates_change_only_in_whole_days_after_the_delay(app):
    signature = confirmed_signature(country="DE")
    cid = signature.campaign_id
    now = utcnow()
    assert public.stats_cutoff(now) <= now - timedelta(days=1)
    assert public.daily_history(cid) == []  # today is never published
    # Two days on, the day is whole and past the delay: published as one bucket.
    later = public.stats_cutoff(now + timedelta(days=2))
    history = public.daily_history(cid, later)
    assert history == [{"date": now.date().isoformat(), "count": 1, "total": 1}]
    assert public.counts_by_country(cid, later) == {"other": 1}


def test_modified_date_is_only_to_the_hour(client, app):
    confirmed_signature()
    modified = fetch(client, app)["modified_date"]
    assert modified.endswith(":00:00Z")
