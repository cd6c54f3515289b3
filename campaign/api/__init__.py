"""The read-only public JSON API (one module per resource) and its human page at /api."""

from flask import Blueprint, request

bp = Blueprint("api", __name__)
# The human-readable page lives outside /api/v1, so it gets its own small blueprint.
pages_bp = Blueprint("api_pages", __name__)


@bp.after_app_request
def allow_any_origin(response):
    """Public, read-only data: any site may read it (CORS), errors included."""
    if request.path.startswith("/api/v1/") or request.path == "/api/v1":
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = (
            "ETag, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After"
        )
        response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


from . import openapi, pages, petitions  # noqa: E402,F401
