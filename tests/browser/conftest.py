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
* `axe_violations(page)` / `serious_violations(page)` / `describe(violations)`:
  run axe-core (node_modules/axe-core/axe.min.js) on the current page.

The page's Content-Security-Policy stays on (it is part of what we test), so axe
is injected with `add_script_tag(path=...)` and, when the strict CSP refuses that
inline script, evaluated through the DevTools protocol instead, which CSP doesn't
govern. Either way the page itself is unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

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
AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0/2.1/2.2 A and AA, plus axe's best practices (landmarks, headings, …).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
SERIOUS = ("serious", "critical")
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


# --- accessibility ------------------------------------------------------------


def inject_axe(page) -> None:
    """Load axe-core into `page` (once per document)."""
    if page.evaluate("typeof window.axe") != "undefined":
        return
    require(AXE_PATH.exists(), f"axe-core missing at {AXE_PATH} (run `make test` to install)")
    from playwright.sync_api import Error

    try:
        page.add_script_tag(path=str(AXE_PATH))
    except Error:
        # The page's CSP (script-src 'self') refuses inline script; CDP evaluation isn't
        # subject to it, so axe still runs on the page exactly as served.
        page.evaluate(AXE_PATH.read_text(encoding="utf-8") + "\n;undefined")


def axe_violations(
    page, *, impacts: tuple[str, ...] | None = SERIOUS, tags: list[str] | None = None
) -> list[dict]:
    """Run axe-core on the page as it is now; return violations of the given impacts.

    `impacts=None` returns every violation. Each item is axe's result object:
    id, impact, help, helpUrl and nodes (with their CSS target and failure summary).
    """
    inject_axe(page)
    options = {
        "runOnly": {"type": "tag", "values": tags or AXE_TAGS},
        "resultTypes": ["violations"],
    }
    results = page.evaluate("async (options) => await axe.run(document, options)", options)
    violations = results["violations"]
    if impacts is not None:
        violations = [v for v in violations if v.get("impact") in impacts]
    return violations


def serious_violations(page) -> list[dict]:
    """Violations of impact serious or critical (what must never ship)."""
    return axe_violations(page, impacts=SERIOUS)


def describe(violations: list[dict]) -> str:
    """A readable summary of axe violations, for assertion messages."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation.get('impact')}): {violation['help']}")
        for node in violation.get("nodes", [])[:5]:
            lines.append(f"    {node.get('target')}: {node.get('failureSummary', '')}")
    return "\n".join(lines)
