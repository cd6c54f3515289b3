"""Every cache the app keeps, and every reason to drop one, in one place.

Caches are per process and per app: named stores (plain dicts) under
`app.extensions["campaign.cache"]`, so two apps in one process (the tests) never share
one. `remember()` is the TTL helper: a value is computed once and kept for `ttl`
seconds (None: until dropped), or until its `version` changes (the count, the content
library's version, the settings it was built from). `store()` hands out a raw store
for the two that manage their own entries: the page cache's bounded dicts (the WSGI
fast path holds one by reference, so stores are only ever cleared in place) and the
transparency log's immutable tiles.

A value that must be the same for every worker lives in the shared storage instead:
`once()` marks a key used for a while in the rate-limit storage (Redis when REDIS_URL
is set), falling back to this process when that storage is down or not configured.

Services say what changed, and this module knows which caches that touches:
`signatures_changed(campaign_id)`, `public_views_changed()`, `content_reloaded()`,
`keys_changed()`. Views never clear caches themselves. Other processes catch up within
their caches' lifetimes (COUNT_CACHE_SECONDS, PAGE_CACHE_SECONDS, API_CACHE_SECONDS).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import Flask, current_app
from limits import RateLimitItemPerSecond

from ...extensions import limiter

log = logging.getLogger(__name__)
T = TypeVar("T")
EXTENSION = "campaign.cache"

# The stores, by name (what each holds is said where it is filled).
COUNTS = "counts"  # campaign id -> the sum of its count shards (counting.py)
CAMPAIGN_ROWS = "campaign_rows"  # slug -> CampaignRef (campaigns.py)
PUBLIC_LISTS = "public_lists"  # recent signers and comments (public.py)
PAGES = "pages"  # rendered campaign pages (page_cache.py)
PAGE_RESPONSES = "page_responses"  # finished responses of the WSGI fast path
API = "api"  # the petition resources of the JSON API (api/petitions.py)
SETTINGS = "settings"  # objects built from settings: keyring, hasher, block lists
CONSENT_WORDINGS = "consent_wordings"  # a wording's digest -> its row id (never changes)
TLOG_TILES = "tlog_tiles"  # tile blobs read for proofs: valid as prefixes forever (tlog_reader.py)
TLOG_KEYS = "tlog_keys"  # each campaign's log verifier key
CONSENT_TEXTS = "consent_texts"  # the sign form's consent wordings per locale (forms.py)
FORM_TRANSLATIONS = "form_translations"  # WTForms' catalog per locale
SHARE_IMAGES = "share_images"  # the share images' folder, rendered on disk (sharing.py)
MAIL_TEMPLATES = "mail_templates"  # signer mail rendered once, filled per signer (mail_template.py)
SIGNER_LINK_URLS = "signer_link_urls"  # signer links' URLs routed once (signer_mail.py)

_spent_here: dict[tuple[str, str], float] = {}  # `once()` without shared storage
_spent_lock = threading.Lock()


def store(name: str, app: Flask | None = None) -> dict:
    """The named per-process store (created empty on first use)."""
    stores = (app or current_app).extensions.setdefault(EXTENSION, {})
    return stores.setdefault(name, {})


def remember(
    name: str,
    key: Hashable,
    compute: Callable[[], T],
    *,
    ttl: float | None = None,
    version: Hashable = None,
    refresh: bool = False,
) -> T:
    """`compute()`'s value, kept in store `name` under `key` for `ttl` seconds (None:
    until dropped) while `version` stays the same; `refresh` recomputes it now."""
    entries = store(name)
    now = time.monotonic()
    hit = entries.get(key)
    if (
        not refresh
        and hit is not None
        and hit[1] == version
        and (ttl is None or now - hit[0] < ttl)
    ):
        return hit[2]
    value = compute()
    entries[key] = (now, version, value)  # one assignment: atomic under the GIL
    return value


def forget(name: str, key: Hashable | None = None, app: Flask | None = None) -> None:
    """Drop one entry, or the whole store (in place: holders of it see it empty)."""
    if key is None:
        store(name, app).clear()
    else:
        store(name, app).pop(key, None)


def once(namespace: str, key: str, seconds: int) -> bool:
    """True the first time `key` is seen within `seconds`, across every worker that
    shares the rate-limit storage (Redis when REDIS_URL is set), else in this process."""
    if limiter.enabled and current_app.config.get("RATELIMIT_ENABLED", True):
        prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "campaign"
        try:  # one hit allowed per lifetime, counted in the shared storage
            item = RateLimitItemPerSecond(1, seconds)
            return limiter.limiter.hit(item, prefix, namespace, key)
        except Exception:  # noqa: BLE001 - storage down (Redis): fall back to this process
            log.warning("rate-limit storage unavailable; %s kept per process", namespace)
    now = time.monotonic()
    with _spent_lock:
        for old in [k for k, until in _spent_here.items() if until < now]:
            del _spent_here[old]
        if (namespace, key) in _spent_here:
            return False
        _spent_here[(namespace, key)] = now + seconds
        return True


# --- named invalidations: what changed, not which caches ----------------------------


def signatures_changed(campaign_id: int | None = None) -> None:
    """The count changed (or was repaired): its cached sum, and the finished pages
    that show it. Public lists and rendered pages are keyed by the count already."""
    forget(COUNTS, campaign_id)
    forget(PAGE_RESPONSES)


def public_views_changed() -> None:
    """Something public changed that the count doesn't show (a withdrawn or erased
    name, a hidden comment): every cached public view in this process."""
    for name in (COUNTS, PUBLIC_LISTS, PAGES, PAGE_RESPONSES, API):
        forget(name)


def content_reloaded(app: Flask | None = None) -> None:
    """Campaign files changed: everything rendered from them (keys carry the content
    version too, so this only frees the memory sooner)."""
    for name in (PAGES, PAGE_RESPONSES, API, PUBLIC_LISTS, MAIL_TEMPLATES):
        forget(name, app=app)


def keys_changed(app: Flask | None = None) -> None:
    """ENCRYPTION_KEYS changed (tests, a rotation in this process): derive them again."""
    forget(SETTINGS, "keyring", app)


def settings_value(key: str, build: Callable[[], T], version: Hashable) -> T:
    """An object built from settings (a block list, a password hasher), rebuilt when
    the settings it came from (`version`) change."""
    return remember(SETTINGS, key, build, version=version)
