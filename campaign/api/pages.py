"""The short human page about the API, at /api."""

from __future__ import annotations

from flask import current_app, render_template

from ..services.intake import links
from ..services.pages.content import library
from . import pages_bp


@pages_bp.get("/api")
def api_page():
    campaigns = sorted(library().all(), key=lambda c: c.slug)
    example = campaigns[0].slug if campaigns else "example"
    return render_template(
        "api/index.html",
        api_root=current_app.config["BASE_URL"] + "/api/v1",
        example_slug=example,
        openapi_url=links.external_url("api.openapi_document"),
        rate_limit=current_app.config["RATELIMIT_API"],
        cache_seconds=current_app.config["COUNT_CACHE_SECONDS"],
    )
