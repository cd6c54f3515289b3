"""Response headers: a strict Content-Security-Policy and the usual hardening.

Pages load nothing from other origins, run no inline script, and refuse to be
framed, except the embed page, which allows the origins in EMBED_ALLOWED_ORIGINS.
"""

from __future__ import annotations

from flask import Flask, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors {ancestors}"
)


def allow_framing() -> None:
    """Called by a view (the embed page) that partner sites may put in an iframe."""
    request.environ["campaign.allow_framing"] = True


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response):
        framing = request.environ.get("campaign.allow_framing", False)
        origins = app.config["EMBED_ALLOWED_ORIGINS"]
        ancestors = ("*" if "*" in origins else " ".join(origins)) if framing else "'none'"
        response.headers.setdefault("Content-Security-Policy", CSP.format(ancestors=ancestors))
        if not framing:
            response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        )
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault(
                "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
            )
        return response
