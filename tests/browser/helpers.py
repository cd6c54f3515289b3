"""Accessibility checks for browser tests: axe-core run on the page as served.

* `axe_violations(page)` / `serious_violations(page)` / `describe(violations)`:
  run axe-core (node_modules/axe-core/axe.min.js) on the current page.

The page's Content-Security-Policy stays on (it is part of what we test), so axe
is injected with `add_script_tag(path=...)` and, when the strict CSP refuses that
inline script, evaluated through the DevTools protocol instead, which CSP doesn't
govern. Either way the page itself is unchanged.
"""

from __future__ import annotations

from tests.helpers import ROOT, require

AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0/2.1/2.2 A and AA, plus axe's best practices (landmarks, headings, …).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
SERIOUS = ("serious", "critical")
# For `axe.run(document, AXE_OPTIONS)` in tests that run every rule: every rule still runs
# and every violation comes back in full, while passes and incomplete checks are cut to
# one node each (axe's `resultTypes`, its advice for speed): half the time on a long page.
AXE_OPTIONS = "{resultTypes: ['violations']}"


def inject_axe(page) -> None:
    """Load axe-core into `page` (once per document)."""
    if page.evaluate("typeof window.axe") != "undefined":
        return
    require(AXE_PATH.exists(), f"axe-core missing at {AXE_PATH} (run `make test` to install)")
    from playwright.sync_api import Error  # optional: a missing Playwright skips (conftest)

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
