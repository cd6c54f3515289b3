"""Trending checks over blind indexes: one IP hash or email domain far above its own
normal rate is reported, and organizers are mailed once (audit-logged)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from campaign.extensions import db
from campaign.models import AdminUser, AuditEvent, OutboxMessage, Signature, utcnow
from campaign.services.intake import abuse
from campaign.services.pages.content import library
from campaign.services.sealing import blind_index
from campaign.services.signatures import signing
from campaign.services.signatures.signing import SignatureInput
from tests.helpers import SLUG

THRESHOLDS = dict(window=timedelta(hours=1), baseline=timedelta(hours=4), factor=3, minimum=5)


def add(app, email: str, ip: str, hours_ago: float = 0) -> None:
    with app.test_request_context():
        outcome = signing.sign(
            library().get(SLUG),
            SignatureInput.from_raw(name="Test Person", email=email, country="DE", ip=ip),
        )
    if hours_ago:
        db.session.execute(
            update(Signature)
            .where(Signature.id == outcome.signature_id)
            .values(created_at=utcnow() - timedelta(hours=hours_ago))
        )
        db.session.commit()


def test_a_burst_from_one_ip_and_a_new_domain_trends_but_a_busy_provider_does_not(app):
    for n in range(12):  # the usual: 4 an hour at a big provider, from many places
        add(app, f"past{n}@gmail.com", f"198.51.100.{n}", hours_ago=1.5 + n % 3)
    for n in range(6):
        add(app, f"now{n}@gmail.com", f"192.0.2.{n}")
    for n in range(6):
        add(app, f"bot{n}@burst.example", "203.0.113.66")
    campaign_id = db.session.scalar(select(Signature.campaign_id).limit(1))
    trends = abuse.trending(campaign_id, **THRESHOLDS)
    assert sorted((t.kind, t.count) for t in trends) == [("domain", 6), ("ip", 6)]
    assert blind_index.domain_hash("burst.example") in {t.key for t in trends}
    assert blind_index.domain_hash("gmail.com") not in {t.key for t in trends}


def test_organizers_are_mailed_once_per_trend(app):
    db.session.add_all(
        [
            AdminUser(
                email="org@example.org", password_hash="x", role="organizer", session_token="a"
            ),
            AdminUser(
                email="view@example.org", password_hash="x", role="viewer", session_token="b"
            ),
        ]
    )
    db.session.commit()
    for n in range(6):
        add(app, f"bot{n}@burst.example", "203.0.113.66")
    campaign_id = db.session.scalar(select(Signature.campaign_id).limit(1))
    before = db.session.scalar(select(db.func.count(OutboxMessage.id)))
    assert len(abuse.alert_trends(campaign_id, SLUG, **THRESHOLDS)) == 2
    alerts = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "trend-alert"))
    assert len(alerts.all()) == 1  # the organizer, not the viewer
    assert abuse.alert_trends(campaign_id, SLUG, **THRESHOLDS) == []  # not again today
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == before + 1
    events = db.session.scalars(select(AuditEvent.target)).all()
    assert len(events) == 2 and all(":" in target for target in events)
