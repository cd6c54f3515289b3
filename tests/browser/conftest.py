"""Real-browser fixtures: Debian's Chromium driven by Playwright's sync API.

Reuse them from any test under tests/browser/ (every test here is marked `browser`):

    def test_something(live_server, page):
        server = live_server(COUNT_CACHE_SECONDS=0)
        page.goto(server.url + "/")
        assert not serious_violations(page), describe(serious_violations(page))

* `browser` (session): one Chromium for the whole run. A missing Chromium or
  Playwright skips locally and fails in CI (CI_REQUIRE_ALL=1), via `require()`.
* `new_context(**options)`: a fresh, isolated context (own cookies); options go to
  `browser.new_context`, e.g. `java_script_enabled=False`, `locale="fa-IR"`.
  Contexts are closed after the test.
* `context` / `page`: a default context (1280x900, en-US) and a page in it.

The axe-core checks (`serious_violations(page)`, `describe(...)`) are in
tests/browser/helpers.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Re-exported for tests written against the old layout; import from tests.browser.helpers.
from tests.helpers import require

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config, items) -> None:
    """Mark every test in this folder `browser`, so `-m "not browser"` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    require(Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extra not installed
        require(False, "Playwright for Python is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_context(browser) -> Iterator[Callable]:
    """A factory of isolated browser contexts; each is closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", VIEWPORT)
        options.setdefault("locale", "en-US")
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()
