"""Rendered campaign pages, cached per process, per language and per count.

Rendering the campaign page is the expensive part of a visit (the sign form alone
has a ~250-option country list). A spike is many visitors asking for the same
page, so each worker keeps the rendered HTML keyed by everything the page depends
on: campaign, language, URL (prefix, path and query), count, goal, state and the
content version. A count change makes a new key; `PAGE_CACHE_SECONDS` bounds how
long anything not in the key (say, an organizer's update) can stay stale.

The page also carries per-visitor values: the session's CSRF token and the
signed `started` timestamp. The cached copy holds markers in their place, and
`fill()` puts this request's values in, so no visitor ever gets another's token.

Anything else that differs per visitor (a flash message, "you already signed", a
signed-in organizer's links) must not be rendered into the cached page: fill it
per request the same way, or render that page through the uncached path.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from flask import current_app

TOKEN_MARK = "\x00page-cache:csrf\x00"  # noqa: S105  # nosec B105 - a placeholder
STARTED_MARK = "\x00page-cache:started\x00"
MAX_ENTRIES = 512  # bounds memory when query strings vary (share links, utm tags)


@dataclass(frozen=True)
class CachedPage:
    body: str  # the rendered page, with markers for the per-request values
    digest: str  # identifies this body; part of the ETag
    built_at: float  # wall-clock seconds, for Last-Modified
    expires: float  # monotonic seconds


def _store() -> dict[tuple, CachedPage]:
    return current_app.extensions.setdefault("campaign.page_cache", {})


def enabled() -> bool:
    return current_app.config.get("PAGE_CACHE_SECONDS", 10) > 0


def get(key: tuple) -> CachedPage | None:
    page = _store().get(key)
    if page is None or page.expires <= time.monotonic():
        return None
    return page


def put(key: tuple, html: str, *, token: str | None, started: str | None) -> CachedPage:
    """Cache `html` with this request's token and stamp replaced by markers."""
    body = html
    if token:
        body = body.replace(token, TOKEN_MARK)
    if started:
        body = body.replace(started, STARTED_MARK)
    digest = hashlib.sha256(repr(key).encode() + body.encode()).hexdigest()[:20]
    page = CachedPage(
        body=body,
        digest=digest,
        built_at=time.time(),
        expires=time.monotonic() + current_app.config.get("PAGE_CACHE_SECONDS", 10),
    )
    store = _store()
    if len(store) >= MAX_ENTRIES:
        # Drop the oldest half: dicts keep insertion order, so this is FIFO.
        for old in list(store)[: MAX_ENTRIES // 2]:
            store.pop(old, None)
    store[key] = page
    return page


def fill(page: CachedPage, *, token: str, started: str) -> str:
    """The cached page with this request's CSRF token and timestamp."""
    return page.body.replace(TOKEN_MARK, token).replace(STARTED_MARK, started)


def etag(page: CachedPage, session_secret: str | None) -> str:
    """A weak ETag for the page as this session sees it.

    Bodies differ between requests only in the CSRF token and timestamp, and any
    token signed for this session stays valid (WTF_CSRF_TIME_LIMIT is None), so a
    copy this session already holds is as good as a fresh one: same ETag. Another
    session gets another ETag, and can never be told its copy is current.
    """
    seed = f"{page.digest}\x00{session_secret or ''}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


def clear() -> None:
    _store().clear()
