"""One rule for every answer under a signer's link: never stored, never sent on as a
Referer (issue 21, L6).

A signer's link carries their token in the URL (confirm, discard, withdraw, my data,
unsubscribe): whoever holds the URL holds the signer's key. Routes declare it by
their converter, `<token:token>` (`SignerToken`), and a view whose form carries a
secret (the receipt check) by `@secret_view`. `SignerLinkHeaders`, the outermost WSGI
layer, derives from the URL map which paths are under such a link and gives every
response on them `Cache-Control: no-store` and `Referrer-Policy: no-referrer`: pages,
POST results, the fast paths' answers, errors, and the redirects Werkzeug makes while
routing, before any view or after_request hook runs (`/<slug>//confirm/<token>` is
answered 308 by `merge_slashes`). The path is matched with its slashes merged, its
language prefixes removed and its case ignored, and a path that only begins with a
signer link (`/<slug>/confirm/<token>/anything`) is under it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from flask import Flask
from werkzeug.routing import BaseConverter

# A URL that is a signer's key: never stored, never sent on as a Referer.
SECRET_URL_HEADERS = (("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer"))
OVERRIDDEN = frozenset(name.lower() for name, _ in SECRET_URL_HEADERS)
PLACEHOLDER = re.compile(r"<(?:([A-Za-z_]\w*)(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")
SLASHES = re.compile("/{2,}")
NOTHING = re.compile(r"(?!)")


class SignerToken(BaseConverter):
    """A signer's link token in a URL (`<token:token>`): the route is a signer link.
    It matches what the default converter matches, so the view still answers a
    malformed token (with the same dead-link page as a forged one)."""

    regex = "[^/]+"


def secret_view(view: Callable) -> Callable:
    """Mark a view whose URL carries no token but whose answers hold a signer's secret
    (the receipt check's form): its path gets the same headers."""
    view.signer_secret = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    """Register the converter; call before the blueprints add their routes."""
    app.url_map.converters["token"] = SignerToken


def _segment_pattern(segment: str) -> str:
    parts, end = [], 0
    for match in PLACEHOLDER.finditer(segment):
        parts += [re.escape(segment[end : match.start()]), "[^/]+"]
        end = match.end()
    return "".join(parts) + re.escape(segment[end:])


def signer_link_prefixes(app: Flask) -> list[str]:
    """Each signer-link rule's path up to and including its token (the whole path for
    a `secret_view`), as a regular expression, from the URL map."""
    converters = app.url_map.converters
    prefixes = set()
    for rule in app.url_map.iter_rules():
        segments = rule.rule.split("/")
        cut = next(
            (
                i
                for i, segment in enumerate(segments)
                for converter, _name in PLACEHOLDER.findall(segment)
                if issubclass(converters.get(converter or "default", BaseConverter), SignerToken)
            ),
            None,
        )
        if cut is None and getattr(app.view_functions.get(rule.endpoint), "signer_secret", False):
            cut = len(segments) - 1
        if cut is not None:
            prefixes.add("/".join(_segment_pattern(s) for s in segments[: cut + 1]))
    return sorted(prefixes)


def signer_link_pattern(app: Flask) -> re.Pattern:
    prefixes = signer_link_prefixes(app)
    if not prefixes:
        return NOTHING
    return re.compile(f"^(?:{'|'.join(prefixes)})(?:/|$)", re.IGNORECASE)


def normalized(path: str, languages: Iterable[str]) -> str:
    """The path as routing would reach it: slashes merged, language prefixes removed."""
    if "//" in path:
        path = SLASHES.sub("/", path)
    while True:
        first, _, rest = path[1:].partition("/")
        if first.lower() not in languages:
            return path
        path = "/" + rest


class SignerLinkHeaders:
    """The outermost WSGI layer: every response under a signer link gets
    SECRET_URL_HEADERS in place of any Cache-Control or Referrer-Policy it had."""

    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.languages = frozenset(language.lower() for language in app.config["LANGUAGES"])
        self.pattern: re.Pattern | None = None  # from the URL map, complete at first use

    def is_signer_link(self, path: str) -> bool:
        if self.pattern is None:
            self.pattern = signer_link_pattern(self.app)
        return self.pattern.match(normalized(path, self.languages)) is not None

    def __call__(self, environ, start_response):
        if not self.is_signer_link(environ.get("PATH_INFO", "")):
            return self.wsgi_app(environ, start_response)

        def secret_start_response(status, headers, exc_info=None):
            kept = [(name, value) for name, value in headers if name.lower() not in OVERRIDDEN]
            return start_response(status, kept + list(SECRET_URL_HEADERS), exc_info)

        return self.wsgi_app(environ, secret_start_response)
