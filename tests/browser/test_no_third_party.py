"""A real Chromium against a real server: no request leaves the site's origin, and
axe-core finds no serious or critical accessibility violation (English and Persian)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from tests.browser.helpers import AXE_OPTIONS
from tests.helpers import ROOT, SLUG, require

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


# `browser` is the run's one Chromium (tests/browser/conftest.py): a second
# sync_playwright() can't start while that one's event loop is running.


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def test_no_request_leaves_the_origin(app, live_server, browser):
    server = live_server()
    requests: list[str] = []
    context = browser.new_context()
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{server.url}/{SLUG}/")
    page.fill("#name", "Maryam Ahmadi")
    page.fill("#email", "browser@example.org")
    page.select_option("#country", "DE")
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url(f"**/{SLUG}/check-inbox")
    assert page.get_by_role("heading", name="Check your inbox").is_visible()

    db.session.expire_all()
    signature = db.session.scalars(select(Signature)).one()
    page.goto(f"{server.url}/{SLUG}/confirm/{links.make_token(signature, 'confirm')}")
    page.get_by_role("button", name="Confirm my signature").click()
    page.wait_for_load_state("networkidle")
    assert "your signature counts" in page.content()
    page.goto(f"{server.url}/{SLUG}/my-data/{links.make_token(signature, 'data')}")
    page.wait_for_load_state("networkidle")
    context.close()

    assert len(requests) >= 8  # pages, CSS, JS: the recording works
    outside = [url for url in requests if origin(url) != server.url and not url.startswith("data:")]
    assert outside == []


def test_english_and_persian_pages_have_no_serious_axe_violations(live_server, browser):
    require(AXE.exists(), "axe-core is not installed (npm install axe-core)")
    server = live_server()
    # The page's CSP forbids injected scripts, rightly; axe is the test's, not the page's.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    paths = [f"{prefix}/{SLUG}/{page}" for prefix in ("", "/fa") for page in ("", "check-inbox")]
    for path in paths:
        page.goto(f"{server.url}{path}")
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(f"axe.run(document, {AXE_OPTIONS})")
        assert result["passes"], "axe ran its checks"
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], (path, serious)
    context.close()
