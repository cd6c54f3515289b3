"""Public aggregates and consent-only lists, computed by services/signer_data/public.py."""

from datetime import timedelta

from campaign.extensions import db
from campaign.models import SignatureStatus, utcnow
from campaign.services.pages import cache
from campaign.services.pages.content import library
from campaign.services.signer_data import privacy, public
from tests.helpers import SLUG
from tests.reach_data import confirmed_signature


def test_fold_small_countries_into_other():
    folded = public.fold_small_countries({"DE": 7, "FR": 5, "SE": 4, "NO": 1, "IR": 12})
    assert folded == {"IR": 12, "DE": 7, "FR": 5, "other": 5}
    assert list(folded)[-1] == "other"
    assert public.fold_small_countries({"DE": 4}) == {"other": 4}
    assert public.fold_small_countries({}) == {}


def test_counts_by_country_counts_only_confirmed_and_folds(app):
    for _ in range(5):
        confirmed_signature(country="DE")
    for _ in range(4):
        confirmed_signature(country="SE")
    confirmed_signature(country="FR", confirm=False)  # pending: not counted
    campaign_id = confirmed_signature(country="NO").campaign_id
    assert public.counts_by_country(campaign_id, utcnow() + timedelta(minutes=1)) == {
        "DE": 5,
        "other": 5,
    }


def test_withdrawn_signatures_leave_the_aggregates(app):
    signatures = [confirmed_signature(country="DE") for _ in range(5)]
    privacy.withdraw(signatures[0])
    assert signatures[0].status == SignatureStatus.WITHDRAWN
    later = utcnow() + timedelta(minutes=1)
    assert public.counts_by_country(signatures[0].campaign_id, later) == {"other": 4}


def test_daily_history_groups_by_confirmation_day(app):
    from datetime import datetime

    signatures = [confirmed_signature() for _ in range(3)]
    signatures[0].confirmed_at = datetime(2026, 11, 2, 10, 0)
    signatures[1].confirmed_at = datetime(2026, 11, 2, 23, 59)
    signatures[2].confirmed_at = datetime(2026, 11, 5, 0, 1)
    db.session.commit()
    assert public.daily_history(signatures[0].campaign_id) == [
        {"date": "2026-11-02", "count": 2, "total": 2},
        {"date": "2026-11-05", "count": 1, "total": 3},
    ]


def test_recent_signers_only_consenting_counted_signers(app):
    content = library().get(SLUG)
    confirmed_signature(name="Shirin Farahani", public_consent=True, country="FR")
    confirmed_signature(name="Hidden Person", public_consent=False)
    confirmed_signature(name="Pending Person", public_consent=True, confirm=False)
    flagged = confirmed_signature(name="Flagged Person", public_consent=True)
    flagged.flagged = True
    db.session.commit()
    cache.forget(cache.PUBLIC_LISTS)
    signers = public.recent_signers(content, flagged.campaign_id, count=99)
    assert [(s.name, s.country) for s in signers] == [("Shirin F.", "FR")]


def test_comments_respect_consent_switch_and_hiding(app):
    content = library().get(SLUG)
    shown = confirmed_signature(
        name="Ali Rezaei", public_consent=True, comment="For my uncle.", comment_consent=True
    )
    confirmed_signature(name="No Consent", public_consent=False, comment="private words")
    hidden = confirmed_signature(
        name="Hidden Comment", public_consent=True, comment="spam spam", comment_consent=True
    )
    hidden.comment_hidden = True
    db.session.commit()
    cache.forget(cache.PUBLIC_LISTS)
    comments = public.public_comments(content, shown.campaign_id, count=3)
    assert [(c.name, c.comment) for c in comments] == [("Ali R.", "For my uncle.")]


def test_comment_published_under_name_consent_alone_stays_private(app):
    """Issue 9.2: ticking "show my name" used to publish the comment too."""
    content = library().get(SLUG)
    named = confirmed_signature(name="Named Only", public_consent=True, comment="my private why")
    anonymous = confirmed_signature(
        name="Quiet Person", public_consent=False, comment="public words", comment_consent=True
    )
    cache.forget(cache.PUBLIC_LISTS)
    comments = public.public_comments(content, named.campaign_id, count=2)
    # Only the comment whose own box was ticked, and without the name it didn't consent to.
    assert [(c.name, c.country, c.comment) for c in comments] == [("", "", "public words")]
    recent = public.recent_signers(content, anonymous.campaign_id, 2)
    assert [s.name for s in recent] == ["Named O."]


def test_lists_switched_off_by_the_campaign(app):
    from dataclasses import replace

    content = replace(library().get(SLUG), show_recent_signers=False, show_comments=False)
    signature = confirmed_signature(public_consent=True, comment="hello")
    assert public.recent_signers(content, signature.campaign_id, 1) == []
    assert public.public_comments(content, signature.campaign_id, 1) == []


def test_milestones():
    marks = public.milestones(10000, 5000)
    assert [(m.label, m.target, m.reached) for m in marks] == [
        ("25%", 2500, True),
        ("50%", 5000, True),
        ("goal", 10000, False),
    ]
