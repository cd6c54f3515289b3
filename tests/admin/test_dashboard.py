"""The dashboard: totals, confirmation rate, SVG charts, top lists, trending alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from campaign.extensions import db
from campaign.models import AuditEvent, Signature, utcnow
from campaign.services.pages import stats
from campaign.services.pages.charts import bar_chart
from campaign.services.signer_data import signers
from tests.admin.helpers import campaign_row, make_signature
from tests.helpers import SLUG


def test_totals_and_confirmation_rate(app):
    make_signature("Maryam Ahmadi", "a@example.org")
    make_signature("Reza Karimi", "b@example.org")
    make_signature("Sara Tehrani", "c@example.org", status="pending")
    make_signature("Nima Rahimi", "d@example.org", status="withdrawn")
    make_signature("Omid Jalali", "e@example.org", status="invalidated")
    totals = stats.totals(campaign_row().id)
    assert (totals.confirmed, totals.pending, totals.withdrawn, totals.invalidated) == (2, 1, 1, 1)
    assert totals.ever_confirmed == 3  # the withdrawn one had confirmed
    assert totals.confirmation_rate == 3 / 5


def test_series_fill_every_hour_and_day(app):
    # A fixed "now" half-way through an hour: the two signatures 3 h and 3 h 1 min ago
    # share an hour whatever the wall clock says (this failed in each hour's first minute).
    now = datetime(2026, 3, 10, 12, 30)
    for name, email, ago in (
        ("Maryam Ahmadi", "a@example.org", timedelta(hours=3)),
        ("Reza Karimi", "b@example.org", timedelta(hours=3, minutes=1)),
        ("Sara Tehrani", "c@example.org", timedelta(days=2)),
    ):
        make_signature(name, email).created_at = now - ago
    db.session.commit()
    row = campaign_row()
    hourly = stats.series(row.id, "hour", 48, now=now)
    daily = stats.series(row.id, "day", 30, now=now)
    assert len(hourly) == 48 and len(daily) == 30
    assert sum(v for _, v in hourly) == 2  # the one from 2 days ago is before the 48 hours
    assert sum(v for _, v in daily) == 3
    assert dict(hourly)["2026-03-10 09:00"] == 2


def test_top_countries_and_sources(app):
    make_signature("Maryam Ahmadi", "a@example.org", "DE", source="twitter")
    make_signature("Reza Karimi", "b@example.org", "DE", source="twitter")
    make_signature("Sara Tehrani", "c@example.org", "FR", source="newsletter")
    make_signature("Nima Rahimi", "d@example.org", "FR", source="newsletter", status="pending")
    row = campaign_row()
    assert stats.top_countries(row.id) == [("DE", 2), ("FR", 1)]
    assert stats.top_sources(row.id) == [("twitter", 2), ("newsletter", 1)]


def test_trending_alert_for_one_ip_or_domain(app):
    for n in range(12):
        make_signature(
            f"Bot {'ABCDEFGHIJKL'[n]}x", f"bot{n}@burst.example", "US", ip="198.51.100.7"
        )
    make_signature("Real Person", "real@example.org", "DE", ip="192.0.2.1")
    row = campaign_row()
    kinds = {a.kind: a for a in signers.trends(row.id, SLUG)}
    assert set(kinds) == {"ip", "domain"}
    assert kinds["ip"].count == 12 and kinds["domain"].count == 12
    assert stats.velocity(row.id).last_hour == 13
    # the check groups signers by blind indexes: an audited look
    assert db.session.scalars(select(AuditEvent.action)).all() == ["abuse.trends"]


def test_trend_alerts_are_for_organizers_only(app, users, as_role):
    for n in range(12):
        make_signature(
            f"Bot {'ABCDEFGHIJKL'[n]}x", f"bot{n}@burst.example", "US", ip="198.51.100.7"
        )
    viewer = as_role("viewer").get(f"/admin/{SLUG}/").get_data(as_text=True)
    organizer = as_role("organizer").get(f"/admin/{SLUG}/").get_data(as_text=True)
    assert "Trending" not in viewer and "Trending" in organizer
    assert "12 signatures in the last hour, usually 0 per hour." in organizer


def test_no_alert_for_a_domain_that_is_always_busy(app):
    row = campaign_row()
    for n in range(12):
        make_signature(f"Person {'ABCDEFGHIJKL'[n]}x", f"p{n}@busy.example", "DE", ip=None)
    # the same domain signed steadily over the day before: its usual rate is high
    for n in range(60):
        name = f"Earlier {chr(65 + n % 26)}{chr(97 + n // 26)}x"
        make_signature(name, f"e{n}@busy.example", "DE", ip=None, ago=timedelta(hours=2 + n % 20))
    assert [a for a in signers.trends(row.id, SLUG) if a.kind == "domain"] == []


def test_chart_is_accessible_svg_without_inline_style():
    svg = str(
        bar_chart(
            [("2026-01-01 10:00", 3), ("2026-01-01 11:00", 0), ("<x>", 5)],
            title="Signatures & more",
        )
    )
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<title" in svg and "Signatures &amp; more" in svg
    assert "style=" not in svg and "<script" not in svg
    assert "&lt;x&gt;" in svg and "<x>" not in svg


def test_dashboard_page_for_a_viewer(app, users, as_role):
    make_signature(source="twitter")
    db.session.execute(update(Signature).values(created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    html = as_role("viewer").get(f"/admin/{SLUG}/").get_data(as_text=True)
    assert html.count("<svg") == 2
    assert 'id="stat-confirmed">1<' in html
    assert "twitter" in html and 'name="robots" content="noindex' in html
    assert "style=" not in html
