"""Rendered public pages, the same bytes for every visitor in a language and count.

Rendering the campaign page is the expensive part of a visit (the sign form alone
has a ~250-option country list). The page carries nothing per visitor: no session,
no CSRF token (the public forms are guarded by the origin check instead, see
docs/SECURITY.md), and a `started` stamp minted when the page is built. So it can
be cached whole, here and in any shared cache in front (nginx, a CDN).

Two layers, both per process (stores of services/pages/cache.py, dropped by its named
invalidations):

* `get`/`put`: the rendered HTML keyed by everything the page depends on
  (campaign, language, URL, count, goal, state, content version), with a strong
  ETag (a hash of the bytes). `PAGE_CACHE_SECONDS` bounds how long anything not in
  the key (say, an organizer's update) can stay stale.
* `responses()`: finished responses (status, headers, body) that
  `campaign.web.page_fastpath` answers before Flask runs, keyed by the raw request
  (host, path, query, URL language or the raw inputs of language negotiation). They
  live `fast_seconds()`, at most COUNT_CACHE_SECONDS, so the count they show lags
  by no more than the count cache does.

Anything that differs per visitor (a flash message, "you already signed", a
signed-in organizer's links) must never be rendered into these pages.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from flask import Flask, current_app

from . import cache

MAX_ENTRIES = 512  # bounds memory when query strings vary (share links, utm tags)


@dataclass(frozen=True)
class CachedPage:
    body: bytes  # the rendered page, exactly as sent
    etag: str  # strong validator: a hash of the body
    built_at: float  # wall-clock seconds, for Last-Modified
    expires: float  # monotonic seconds


@dataclass(frozen=True)
class FastResponse:
    status: str
    headers: list[tuple[str, str]]  # prepared once, sent as they are
    body: bytes
    etag: str
    expires: float  # monotonic seconds


def _store() -> dict[tuple, CachedPage]:
    return cache.store(cache.PAGES)


def responses(app: Flask | None = None) -> dict[tuple, FastResponse]:
    """The finished responses the WSGI fast path serves (shared with it by reference)."""
    return cache.store(cache.PAGE_RESPONSES, app)


def enabled() -> bool:
    return current_app.config.get("PAGE_CACHE_SECONDS", 10) > 0


def fast_seconds(config) -> int:
    """How long a finished response may be served without Flask: never longer than
    the count it shows may lag (COUNT_CACHE_SECONDS), nor than the page cache."""
    return max(0, min(config.get("COUNT_CACHE_SECONDS", 2), config.get("PAGE_CACHE_SECONDS", 10)))


def get(key: tuple) -> CachedPage | None:
    page = _store().get(key)
    if page is None or page.expires <= time.monotonic():
        return None
    return page


def put(key: tuple, html: str) -> CachedPage:
    body = html.encode()
    page = CachedPage(
        body=body,
        etag=hashlib.sha256(body).hexdigest()[:32],
        built_at=time.time(),
        expires=time.monotonic() + current_app.config.get("PAGE_CACHE_SECONDS", 10),
    )
    bounded_set(_store(), key, page)
    return page


def bounded_set(store: dict, key: tuple, value: object) -> None:
    if len(store) >= MAX_ENTRIES:
        # Drop the oldest half: dicts keep insertion order, so this is FIFO.
        for old in list(store)[: MAX_ENTRIES // 2]:
            store.pop(old, None)
    store[key] = value
