"""services/pages/cache.py: the TTL helper, `once()`, and the named invalidations, which
are the only way caches are dropped (and only services call them)."""

from __future__ import annotations

import ast
import time
from pathlib import Path

from campaign.services.pages import cache, counting, page_cache
from campaign.services.pages.campaigns import campaign_ref
from campaign.services.pages.content import library

PACKAGE = Path(__file__).resolve().parents[3] / "campaign"
INVALIDATIONS = {"signatures_changed", "public_views_changed", "content_reloaded", "keys_changed"}


def test_remember_keeps_a_value_for_its_ttl_and_its_version(app):
    calls = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert cache.remember("t", "k", compute, ttl=60) == 1
    assert cache.remember("t", "k", compute, ttl=60) == 1  # kept
    assert cache.remember("t", "k", compute, ttl=60, version=2) == 2  # a new version
    assert cache.remember("t", "k", compute, ttl=60, version=2, refresh=True) == 3
    assert cache.remember("t", "k", compute, ttl=0, version=2) == 4  # ttl 0: never kept
    assert cache.remember("t", "other", compute) == 5  # no ttl: until dropped
    time.sleep(0.02)
    assert cache.remember("t", "other", compute) == 5
    assert cache.remember("t", "k", compute, ttl=0.01, version=2) == 6
    time.sleep(0.02)
    assert cache.remember("t", "k", compute, ttl=0.01, version=2) == 7  # expired
    cache.forget("t", "other")
    assert cache.remember("t", "other", compute) == 8


def test_stores_are_per_app(app):
    from campaign import create_app

    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    cache.store("t")["k"] = 1
    assert cache.store("t", other) == {}


def test_once_is_true_only_the_first_time(app):
    app.config["RATELIMIT_ENABLED"] = False  # this process's memory (Redis: test_embed.py)
    assert cache.once("test", "a", 60) is True
    assert cache.once("test", "a", 60) is False
    assert cache.once("test", "b", 60) is True
    assert cache.once("other", "a", 60) is True


def test_signatures_changed_drops_the_count_and_the_finished_pages(app):
    app.config["COUNT_CACHE_SECONDS"] = 60
    content = library().home()
    campaign_id = campaign_ref(content).id
    assert counting.confirmed_count(campaign_id) == 0
    counting.adjust(campaign_id, 5)
    assert counting.confirmed_count(campaign_id) == 0  # cached
    page_cache.responses()[("r",)] = object()
    page_cache.put(("k",), "x")
    cache.signatures_changed(campaign_id)
    assert counting.confirmed_count(campaign_id) == 5
    assert not page_cache.responses()
    assert page_cache.get(("k",)) is not None  # keyed by the count already


def test_content_reloaded_drops_what_was_rendered_from_content(app):
    page_cache.put(("k",), "x")
    cache.store(cache.API)["k"] = (0, 0, {})
    cache.content_reloaded()
    assert page_cache.get(("k",)) is None and not cache.store(cache.API)


def calls_and_stores(source: str) -> list[str]:
    """Named invalidations called, and app.extensions stores touched, in a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in INVALIDATIONS:
            found.append(node.attr)
        if isinstance(node, ast.Attribute) and node.attr == "extensions":
            found.append("extensions")
    return found


def test_the_walk_sees_both():
    assert calls_and_stores("cache.public_views_changed()") == ["public_views_changed"]
    assert "extensions" in calls_and_stores("current_app.extensions.setdefault('x', {})")


def test_only_services_invalidate_and_only_the_cache_module_keeps_stores():
    invalidating, storing = {}, {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        found = calls_and_stores(path.read_text(encoding="utf-8"))
        if any(f in INVALIDATIONS for f in found) and not name.startswith("services/"):
            invalidating[name] = found
        # The app factory sets up the content library and the outbox hooks (not
        # caches); content.library() reads the former. The mail worker keeps its
        # memory of sent, unmarked messages there too (state, never dropped).
        if "extensions" in found and name not in (
            "services/pages/cache.py",
            "__init__.py",
            "services/pages/content.py",
            "services/outbox/mail_worker.py",
            "services/outbox/mail_send.py",
        ):
            storing[name] = found
    assert invalidating == {}, "views say nothing about caches: a service does"
    assert storing == {}, "keep caches in services/pages/cache.py"
