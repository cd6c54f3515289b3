"""The campaign list and each campaign's dashboard (every role: no personal data; the
trend alerts, which group signers by blind indexes, for organizers, as an audited look)."""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user

from ..services.pages import counting, stats
from ..services.pages.campaigns import get_row
from ..services.pages.charts import bar_chart
from ..services.pages.content import library
from ..services.signer_data import signers
from . import bp
from .auth import campaign_or_404, role_required


@bp.get("/")
@role_required("viewer")
def index():
    campaigns = []
    for content in library().all():
        row = get_row(content)
        campaigns.append((content, counting.confirmed_count(row.id, fresh=True)))
    return render_template("admin/index.html", campaigns=campaigns)


@bp.get("/<slug>/")
@role_required("viewer")
def dashboard(slug: str):
    content, row = campaign_or_404(slug)
    hourly = stats.series(row.id, "hour", 48)
    daily = stats.series(row.id, "day", 30)
    organizer = current_user.can("organizer")
    return render_template(
        "admin/dashboard.html",
        campaign=content,
        row=row,
        totals=stats.totals(row.id),
        count=counting.confirmed_count(row.id, fresh=True),
        parts=counting.parts(row.id),
        hourly_chart=bar_chart(hourly, title=_("Sign-ups per hour, last 48 hours (UTC)")),
        daily_chart=bar_chart(
            daily, title=_("Sign-ups per day, last 30 days (UTC)"), label_every=5
        ),
        direct=stats.direct_count(row.id),
        countries=stats.top_countries(row.id),
        sources=stats.top_sources(row.id),
        referrers=stats.top_referrers(row.id),
        velocity=stats.velocity(row.id),
        trends=signers.trends(row.id, content.slug) if organizer else None,
        show_links=organizer,
    )
