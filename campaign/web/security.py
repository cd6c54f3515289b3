"""Response headers: a strict Content-Security-Policy and the usual hardening.

Pages load nothing from other origins, run no inline script, and refuse to be
framed, except the embed page, which allows the origins in EMBED_ALLOWED_ORIGINS.

Also the cross-site check for the public forms, which carry no session token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request
from flask_babel import gettext as _
from werkzeug.datastructures import Headers

from ..services.pages import cache

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors {ancestors}"
)


def allow_framing() -> None:
    """Called by a view (the embed page) that partner sites may put in an iframe."""
    request.environ["campaign.allow_framing"] = True


def hardening_headers(origins: tuple[str, ...], *, framing: bool) -> tuple[tuple[str, str], ...]:
    """The headers every response gets unless its view set its own, for framed (embed)
    or unframed pages: built once per setting, so a request only adds the missing ones."""
    ancestors = ("*" if "*" in origins else " ".join(origins)) if framing else "'none'"
    headers = [("Content-Security-Policy", CSP.format(ancestors=ancestors))]
    if not framing:
        headers.append(("X-Frame-Options", "DENY"))
    headers += [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    return tuple(headers)


HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


def hardening(app: Flask, *, framing: bool, secure: bool) -> tuple[tuple[str, str], ...]:
    """The hardening headers for a response, built once per setting."""
    origins = tuple(app.config["EMBED_ALLOWED_ORIGINS"])
    headers = cache.settings_value(
        f"hardening-headers-{framing}",
        lambda: hardening_headers(origins, framing=framing),
        origins,
    )
    return headers + (HSTS,) if secure else headers


def add_missing(headers: Headers, extra: tuple[tuple[str, str], ...]) -> None:
    """Add each header the response doesn't have yet (setdefault, in one pass)."""
    present = {name.lower() for name in headers.keys()}
    for name, value in extra:
        if name.lower() not in present:
            headers.add(name, value)


def init_app(app: Flask) -> None:
    # Signer links' no-store and no-referrer: campaign/web/signer_links.py, a WSGI layer
    # that also sees the redirects routing makes before any hook runs.
    @app.after_request
    def security_headers(response):
        framing = request.environ.get("campaign.allow_framing", False)
        add_missing(response.headers, hardening(app, framing=framing, secure=request.is_secure))
        return response


# --- cross-site POSTs to the public forms ----------------------------------------------

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def trusted_origins(host_url: str, base_url: str) -> set[str]:
    """This site's origins: the one the request was made to, and BASE_URL's."""
    origins = {host_url.rstrip("/").lower()}
    base = _origin_of(base_url)
    if base:
        origins.add(base)
    return origins


def cross_site_reason(
    method: str, headers: Mapping[str, str], origins: Callable[[], set[str]], *, secret_url: bool
) -> str | None:
    """Why an unsafe request with these headers must be refused as cross-site, or None
    to accept it; `origins` gives this site's origins (asked only when needed).

    The rule (docs/SECURITY.md, "Public forms"), in order:
    1. `Sec-Fetch-Site` (every current browser sends it): accept `same-origin` and
       `none` (typed, bookmarked); refuse `same-site` and `cross-site`.
    2. Else `Origin`: accept only one of this site's origins. `null` is refused,
       except on a `secret_url` (a mailed link's page): those pages send
       `Referrer-Policy: no-referrer`, which makes a browser send `Origin: null` on
       their own POST, and their URL's token is itself the secret a forger lacks.
    3. Else `Referer`: accept only a URL on one of this site's origins.
    4. None of the three: accept. Browsers send at least one on a POST, so such a
       request comes from a program (or a mail provider's one-click unsubscribe),
       which could have sent any header it liked; CSRF is an attack through a
       victim's browser, and that browser always says where the request came from.
    """
    if method in SAFE_METHODS:
        return None
    fetch_site = headers.get("Sec-Fetch-Site")
    if fetch_site:
        return None if fetch_site in ("same-origin", "none") else f"sec-fetch-site={fetch_site}"
    origin = headers.get("Origin")
    if origin:
        if origin == "null" and secret_url:
            return None
        return None if origin.lower() in origins() else "origin"
    referer = headers.get("Referer")
    if referer:
        return None if _origin_of(referer) in origins() else "referer"
    return None


def cross_site_verdict(*, secret_url: bool = False) -> str | None:
    """`cross_site_reason` for the request being handled."""
    base_url = current_app.config.get("BASE_URL", "")
    return cross_site_reason(
        request.method,
        request.headers,
        lambda: trusted_origins(request.host_url, base_url),
        secret_url=secret_url,
    )


def refuse_cross_site() -> None:
    """A before_request hook for blueprints whose forms are public (no session token).

    Runs before the view, so a refused request writes nothing.
    """
    secret_url = bool(request.view_args and "token" in request.view_args)
    if cross_site_verdict(secret_url=secret_url) is not None:
        abort(
            403,
            description=_(
                "This form was sent from another website, so we did not accept it. If you "
                "meant to sign, open the petition on our site and send the form from there."
            ),
        )
