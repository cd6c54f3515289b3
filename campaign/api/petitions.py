"""GET /api/v1/petitions and /api/v1/petitions/<slug>, shaped like OSDI's petition resource.

OSDI (Open Supporter Data Interface) fields: identifiers, origin_system, created_date,
modified_date, title, description, summary, petition_text, target, total_signatures,
browser_url, share_url, featured_image_url, _links. This service adds, under the same
object: status, goal, languages, counts_by_country (countries with fewer than five
signers folded into "other") and history (confirmed signatures per day); both are as of
midnight UTC, PUBLIC_STATS_DELAY_DAYS ago (services/signer_data/public.stats_cutoff), never live;
and counts_by_method (issue 26): the live total's parts, online (confirmed by email) and on
paper (entered from signed sheets).
"""

from __future__ import annotations

import json
from datetime import datetime

from flask import Response, abort, current_app, request
from flask_babel import gettext as _

from ..extensions import limiter
from ..models import Campaign, utc_iso
from ..services.intake import links
from ..services.pages import cache, counting, sharing
from ..services.pages.campaigns import campaign_ref, current_goal, get_row
from ..services.pages.content import CampaignContent, library
from ..services.signer_data import public
from . import bp

ORIGIN_SYSTEM = "campaign petition service"
MAX_PER_PAGE = 100
MAX_PAGE = 10_000  # the OpenAPI document says the same (openapi.py)


def api_language() -> str:
    """?lang=, else Accept-Language. Not the page's cookie: responses are public and
    cached, so they may vary only by what the request itself says."""
    supported = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang")
    if chosen in supported:
        return chosen
    if chosen is not None:  # the document's enum forbids it: say so, don't guess
        abort(400, _("lang must be one of: %(languages)s.", languages=", ".join(supported)))
    return request.accept_languages.best_match(supported) or supported[0]


def api_rate_limit() -> str:
    return current_app.config["RATELIMIT_API"]


def iso(moment: datetime | None) -> str | None:
    return utc_iso(moment, whole_seconds=True)


def api_url(endpoint: str, **values) -> str:
    return links.external_url(endpoint, **values)


def targets(addressee: str) -> list[dict]:
    """OSDI's target list from the content's "addressee" (names separated by ";")."""
    names = addressee.replace("\u061b", ";").split(";")  # also the Arabic semicolon
    return [{"name": name.strip()} for name in names if name.strip()]


def petition_resource(content: CampaignContent, language: str) -> dict:
    row: Campaign = get_row(content)
    text = content.text(language)
    text_language = language if language in content.texts else content.default_language
    count = counting.confirmed_count(row.id)
    browser_url = links.external_url("petition.campaign_page", text_language, slug=content.slug)
    last_signed = public.last_signed_at(row.id)
    return {
        "identifiers": [f"petition:{content.slug}"],
        "origin_system": ORIGIN_SYSTEM,
        "created_date": iso(row.created_at),
        # To the hour only: an exact time would time-stamp the latest confirmation.
        "modified_date": iso(
            max(filter(None, (row.created_at, last_signed))).replace(minute=0, second=0)
        ),
        "title": text.title,
        "description": text.summary,
        "summary": text.ask,
        "petition_text": text.petition_text,
        "target": targets(text.addressee),
        **count_fields(content, row, text_language, count),
        "browser_url": browser_url,
        "share_url": sharing.with_params(browser_url, source="api"),
        "language": text_language,
        "languages": list(content.languages),
        "status": content.state(),
        "opens": content.opens.isoformat() if content.opens else None,
        "closes": content.closes.isoformat() if content.closes else None,
        "counts_by_country": public.counts_by_country(row.id),
        "history": public.daily_history(row.id),
        "_links": {
            "self": {"href": api_url("api.petition", slug=content.slug)},
            "osdi:petitions": {"href": api_url("api.petitions")},
            "browser": {"href": browser_url},
        },
    }


def count_fields(content: CampaignContent, row, text_language: str, count: int) -> dict:
    """What follows the live count: the count and its parts, the goal, the share
    image's version."""
    image = links.external_url("petition.share_image", text_language, slug=content.slug)
    parts = counting.parts(row.id)
    return {
        "total_signatures": count,
        "counts_by_method": {"online": count - parts.paper, "paper": parts.paper},
        "goal": current_goal(row, content, count),
        "featured_image_url": sharing.with_params(image, v=str(sharing.count_bucket(count))),
    }


def cached_resource(content: CampaignContent, language: str) -> dict:
    """The resource, its aggregates (GROUP BY country, by day) computed at most once
    per API_CACHE_SECONDS per campaign and language; the count is the page's
    (`counting.confirmed_count`: at most COUNT_CACHE_SECONDS old), read on every
    request, so the API never shows an older count than the page."""
    resource = cache.remember(
        cache.API,
        (content.slug, language),
        lambda: petition_resource(content, language),
        ttl=current_app.config.get("API_CACHE_SECONDS", 30),
        version=library().version,  # content files changed: recompute at once
    )
    row = campaign_ref(content)
    count = counting.confirmed_count(row.id)
    paper = counting.parts(row.id).paper
    if count == resource["total_signatures"] and paper == resource["counts_by_method"]["paper"]:
        return resource
    return {**resource, **count_fields(content, row, resource["language"], count)}


def json_response(payload: dict) -> Response:
    """JSON with public caching, an ETag, and 304 for a matching If-None-Match."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    response = Response(body, mimetype="application/json")
    # As the page's: a shared cache may keep the count no longer than the page's.
    max_age = current_app.config["COUNT_CACHE_SECONDS"]
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    response.vary.add("Accept-Language")
    response.add_etag()
    return response.make_conditional(request)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # isascii: '²' and '١' pass isdigit() but int() refuses or misreads them.
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        abort(
            400,
            _(
                "%(name)s must be a whole number from %(low)d to %(high)d.",
                name=name,
                low=low,
                high=high,
            ),
        )
    return int(raw)


@bp.get("/petitions")
@limiter.limit(api_rate_limit)
def petitions():
    language = api_language()
    per_page = int_arg("per_page", 25, 1, MAX_PER_PAGE)
    page = int_arg("page", 1, 1, MAX_PAGE)
    campaigns = sorted(library().all(), key=lambda c: c.slug)
    total = len(campaigns)
    chunk = campaigns[(page - 1) * per_page : page * per_page]
    resources = [cached_resource(content, language) for content in chunk]
    return json_response(
        {
            "total_pages": max(1, -(-total // per_page)),
            "per_page": per_page,
            "page": page,
            "total_records": total,
            "_links": {
                "self": {"href": api_url("api.petitions")},
                "osdi:petitions": [r["_links"]["self"] for r in resources],
                "openapi": {"href": api_url("api.openapi_document")},
            },
            "_embedded": {"osdi:petitions": resources},
        }
    )


@bp.get("/petitions/<slug>")
@limiter.limit(api_rate_limit)
def petition(slug: str):
    content = library().get(slug) if len(slug) <= 80 else None
    if content is None:
        abort(404)
    return json_response(cached_resource(content, api_language()))
