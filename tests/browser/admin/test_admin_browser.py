"""A real browser (Chromium via Playwright) signs in to the admin, opens the dashboard
with its chart, finds a signer, and downloads an export."""

from __future__ import annotations

import csv
import io

import pytest

from campaign.extensions import db
from campaign.services.admins import accounts
from tests.admin.helpers import make_signature
from tests.browser.helpers import AXE_OPTIONS
from tests.helpers import ROOT, SLUG, require

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_owner_signs_in_sees_dashboard_and_downloads_an_export(app, live_server, tmp_path, browser):
    # `browser` is the run's one Chromium (tests/browser/conftest.py): a second
    # sync_playwright() can't start while that one's event loop is running.
    accounts.create("owner@browser.test", "a long browser password", "owner")
    signers = [
        make_signature("Maryam Ahmadi", "maryam@example.org", "DE", source="twitter"),
        make_signature("Reza Karimi", "reza@example.net", "FR"),
    ]
    for signature in signers:  # the delivery preset names only signers who consented
        signature.delivery_consent = True
    db.session.commit()
    server = live_server()

    owner = browser.new_context(accept_downloads=True)
    try:
        page = owner.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{server.url}/admin/")
        assert "/admin/login" in page.url
        page.get_by_label("Email address").fill("owner@browser.test")
        page.get_by_label("Password").fill("a long browser password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/admin/")
        page.locator("main .admin-list a").first.click()
        page.wait_for_url(f"{server.url}/admin/{SLUG}/")
        assert page.locator("#stat-counted").inner_text() == "2"
        assert page.locator("svg.chart").count() == 2
        assert page.locator("svg.chart").first.is_visible()

        page.get_by_role("link", name="Signers").click()
        page.get_by_label("Search: name words, email address or @domain").fill("maryam@example.org")
        page.get_by_role("button", name="Filter").click()
        rows = page.locator("table.signers tbody tr")
        assert rows.count() == 1 and "Maryam Ahmadi" in rows.first.inner_text()
        # Every standalone link at least 24×24 CSS px (WCAG 2.2, 2.5.8; issue 24.4): the
        # menu, and the row's ID link (a single digit, 9 px wide before).
        targets = page.locator(".admin-nav a, table.signers tbody td > a:only-child")
        for i in range(targets.count()):
            size = targets.nth(i).bounding_box()
            assert size["width"] >= 24 and size["height"] >= 24, (targets.nth(i).inner_text(), size)

        page.get_by_role("link", name="Export").first.click()
        page.get_by_label("Preset").select_option("delivery")
        with page.expect_download() as info:
            page.locator("#export-button").click()
        download = info.value
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        assert download.suggested_filename.endswith(".csv")
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert sorted(r["name"] for r in rows) == ["Maryam Ahmadi", "Reza Karimi"]

        page.goto(f"{server.url}/admin/audit")
        text = page.locator("table.audit").inner_text()
        assert "exported 2 signers" in text and "signed in" in text  # sentences (issue 10)
        assert not [e for e in errors if "Content Security Policy" in e], errors

        # Accessibility: axe-core finds nothing serious on the main admin pages. It is
        # injected as a script, so this second context bypasses our strict CSP.
        axe = ROOT / "node_modules" / "axe-core" / "axe.min.js"
        require(axe.exists(), "axe-core is not installed (make test installs it)")
        context = browser.new_context(bypass_csp=True)
        context.add_cookies(page.context.cookies())
        checker = context.new_page()
        for path in (
            f"/admin/{SLUG}/",
            f"/admin/{SLUG}/signers",
            f"/admin/{SLUG}/export",
            "/admin/audit",
        ):
            checker.goto(f"{server.url}{path}")
            checker.add_script_tag(path=str(axe))
            result = checker.evaluate(f"async () => await axe.run(document, {AXE_OPTIONS})")
            bad = [
                (v["id"], v["impact"])
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert bad == [], (path, bad)
        context.close()
    finally:
        owner.close()
