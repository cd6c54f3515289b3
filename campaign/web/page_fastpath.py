"""Answer repeat GETs of the public campaign page before Flask does any work.

A view that renders a page identical for every visitor (see services/pages/page_cache.py)
calls `offer()`. This WSGI middleware then keeps the finished response (status,
every header the after_request hooks added, body) and serves the next GET or
HEAD with the same key straight from memory: no request context, no session, no
Babel negotiation, no database, headers prepared once. A matching
`If-None-Match` gets a 304.

The key is what the response can depend on before Flask runs: scheme, host,
script name (with the URL's language prefix), path, query, and, for a URL without
a language prefix, the raw `Accept-Language` header and `lang` cookie that Babel
would negotiate from. Entries live `page_cache.fast_seconds()`.
"""

from __future__ import annotations

import time

from flask import request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.http import parse_cookie, parse_etags

from ..services.pages import page_cache

SKIP_HEADERS = {"set-cookie", "date"}


def offer(seconds: int) -> None:
    """Mark this response as the same for every visitor, and let the fast path keep
    it (a 200 GET) for `seconds`."""
    request.environ["campaign.shared_page"] = True
    if seconds > 0:
        request.environ["campaign.fastpath.seconds"] = seconds


class SessionInterface(SecureCookieSessionInterface):
    """Flask adds `Vary: Cookie` whenever anything touched the session, and
    Flask-Login touches it on every request. A page marked shared by `offer()` is
    the same whatever the cookie, so it keeps the `Vary` its view and hooks set
    (a shared cache would otherwise keep one copy per visitor)."""

    def save_session(self, app, session, response) -> None:
        vary = response.headers.get("Vary")
        super().save_session(app, session, response)
        if request.environ.get("campaign.shared_page"):
            if vary is None:
                response.headers.pop("Vary", None)
            else:
                response.headers["Vary"] = vary


def request_key(environ: dict) -> tuple:
    language = environ.get("campaign.url_language")
    negotiated = None
    if language is None:
        cookie = parse_cookie(environ.get("HTTP_COOKIE", "")).get("lang")
        negotiated = (environ.get("HTTP_ACCEPT_LANGUAGE", ""), cookie)
    return (
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST", ""),
        environ.get("SCRIPT_NAME", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
        language,
        negotiated,
    )


class PublicPageMiddleware:
    def __init__(self, wsgi_app, store: dict) -> None:
        self.wsgi_app = wsgi_app
        self.store = store  # page_cache.responses(app): cleared with the page cache

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD"):
            return self.wsgi_app(environ, start_response)
        key = request_key(environ)
        hit = self.store.get(key)
        if hit is not None and hit.expires > time.monotonic():
            return self.serve(hit, environ, start_response, head=method == "HEAD")
        if method == "HEAD":
            return self.wsgi_app(environ, start_response)
        captured: list = []

        def capture(status, headers, exc_info=None):
            seconds = environ.get("campaign.fastpath.seconds")
            if (
                seconds
                and status.startswith("200 ")
                and not any(name.lower() == "set-cookie" for name, _ in headers)
            ):
                captured.append((status, headers, seconds))
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, capture)
        if not captured:
            return body
        try:
            data = b"".join(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        status, headers, seconds = captured[0]
        etag = next((v for k, v in headers if k.lower() == "etag"), "")
        kept = [(k, v) for k, v in headers if k.lower() not in SKIP_HEADERS]
        page_cache.bounded_set(
            self.store,
            key,
            page_cache.FastResponse(
                status=status,
                headers=kept,
                body=data,
                etag=etag.strip('"'),
                expires=time.monotonic() + seconds,
            ),
        )
        return [data]

    @staticmethod
    def serve(hit, environ, start_response, *, head: bool):
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and hit.etag and parse_etags(if_none_match).contains(hit.etag):
            keep = {"etag", "cache-control", "vary", "last-modified", "content-location"}
            start_response(
                "304 Not Modified", [(k, v) for k, v in hit.headers if k.lower() in keep]
            )
            return [b""]
        start_response(hit.status, hit.headers)
        return [b""] if head else [hit.body]
