"""Real Chromium: sign through the embed page inside an iframe on another site, and
check the share, embed and flyer pages with axe-core.

The partner page is served by a tiny http.server at http://localhost:<port>, while the
app runs under gunicorn at http://127.0.0.1:<port>: a different origin *and* a
different site, so the browser withholds SameSite=Lax cookies from the iframe's POST,
just as on a real partner's website.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from tests.browser.helpers import AXE_OPTIONS
from tests.helpers import ROOT, SLUG, free_port, require

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture
def chromium(browser):
    """The run's one Chromium (tests/browser/conftest.py): a second sync_playwright()
    can't start while that one's event loop is running."""
    return browser


@pytest.fixture
def partner_site(tmp_path) -> Iterator:
    """A static site on another origin; write pages into `.folder`, then load `.url`."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    port = free_port()
    handler = partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.folder = tmp_path
    server.origin = f"http://localhost:{port}"
    yield server
    server.shutdown()
    server.server_close()


def test_sign_through_an_iframe_on_another_site(chromium, live_server, partner_site, app):
    server = live_server(EMBED_ALLOWED_ORIGINS=partner_site.origin)
    (partner_site.folder / "partner.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Partner</title></head>"
        "<body><h1>Our partner page</h1>"
        f'<iframe src="{server.url}/{SLUG}/embed?source=partner-site" title="Petition" '
        'width="600" height="900"></iframe></body></html>',
        encoding="utf-8",
    )
    context = chromium.new_context()
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(f"{partner_site.origin}/partner.html")
        frame = page.frame_locator("iframe")
        frame.get_by_label("Full name", exact=True).fill("Parisa Karimi")
        frame.get_by_label("Email", exact=True).fill("parisa.iframe@example.org")
        frame.get_by_label("Country", exact=True).select_option("FR")
        frame.get_by_role("button", name="Sign the petition").click()
        frame.get_by_role("heading", name="Check your inbox").wait_for()
        # It worked without a session: the embed sets no session cookie to rely on.
        assert "session" not in {c["name"] for c in context.cookies(server.url)}
    finally:
        context.close()

    db.session.remove()
    signature = db.session.scalars(select(Signature)).one()
    assert signature.source == "partner-site"
    assert signature.country == "FR"


def test_embed_refuses_origins_not_allowed(chromium, live_server, partner_site):
    server = live_server(EMBED_ALLOWED_ORIGINS="https://only-this.example")
    (partner_site.folder / "other.html").write_text(
        f'<!doctype html><title>x</title><iframe src="{server.url}/{SLUG}/embed"></iframe>',
        encoding="utf-8",
    )
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{partner_site.origin}/other.html")
        frame = page.frames[1] if len(page.frames) > 1 else None
        assert frame is None or "Sign the petition" not in (frame.content() or "")
    finally:
        context.close()


def serious(page) -> list[dict]:
    require(AXE.exists(), f"axe-core missing at {AXE}")
    page.add_script_tag(path=str(AXE))
    results = page.evaluate(f"axe.run(document, {AXE_OPTIONS})")
    return [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]


PAGES = (
    f"/{SLUG}/share",
    f"/{SLUG}/embed",
    f"/{SLUG}/flyer",
    f"/fa/{SLUG}/share",
    f"/fa/{SLUG}/embed",
    f"/fa/{SLUG}/flyer",
    f"/{SLUG}/",
    f"/fa/{SLUG}/",
    "/api",
)


def test_reach_pages_have_no_serious_accessibility_violations(chromium, live_server):
    server = live_server()  # one server for all pages: starting gunicorn is the slow part
    # axe is injected as an inline script, which the pages' strict CSP would refuse.
    context = chromium.new_context(bypass_csp=True)
    failures = []
    try:
        page = context.new_page()
        for path in PAGES:
            response = page.goto(server.url + path)
            assert response.status == 200, path
            failures += [
                f"{path} {v['id']}: {v['help']} {[n['target'] for n in v['nodes'][:3]]}"
                for v in serious(page)
            ]
    finally:
        context.close()
    assert not failures, "\n".join(failures)


# --- issue 24, item 9: the frame fits its content and shows the message after signing ---


def partner_page_with_snippet(page, server, partner_site, filler_px: int = 500) -> str:
    """The partner's page with the snippet exactly as the share page offers it, below
    some of their own content (so the frame starts below the first screen's top)."""
    page.goto(f"{server.url}/{SLUG}/share")
    snippet = page.locator("#embed-code").input_value()
    (partner_site.folder / "fit.html").write_text(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Partner</title></head>"
        f'<body><h1>Our partner page</h1><div style="height:{filler_px}px">Our news</div>'
        f"{snippet}<p>Our footer</p></body></html>",
        encoding="utf-8",
    )
    return f"{partner_site.origin}/fit.html"


def frame_gap(page) -> float:
    """Empty frame below the embed's content, in CSS px (negative: content cut off)."""
    frame_box = page.locator("iframe").bounding_box()
    content_bottom = (
        page.frame_locator("iframe")
        .locator(".embed")
        .evaluate("e => e.getBoundingClientRect().bottom")
    )
    return frame_box["height"] - content_bottom


def wait_for_fit(page) -> None:
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe'); return f.style.height !== ''; }"
    )
    page.wait_for_timeout(300)  # a last resize message, if any


@pytest.mark.parametrize(
    "viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 720}]
)
def test_embed_frame_fits_its_content_and_shows_the_message_after_signing(
    chromium, live_server, partner_site, viewport
):
    server = live_server(EMBED_ALLOWED_ORIGINS=partner_site.origin)
    context = chromium.new_context(viewport=viewport)
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(partner_page_with_snippet(page, server, partner_site))
        frame = page.frame_locator("iframe")
        frame.locator(".embed-ask").wait_for()  # the ask is shown in the embed
        assert "We ask the United Nations" in frame.locator(".embed-ask").inner_text()
        wait_for_fit(page)
        # The frame is as tall as its content: no 430 px of empty frame, nothing cut off.
        assert 0 <= frame_gap(page) <= 40, frame_gap(page)

        frame.get_by_label("Full name", exact=True).fill("Parisa Karimi")
        frame.get_by_label("Email", exact=True).fill("parisa.fit@example.org")
        frame.get_by_label("Country", exact=True).select_option("FR")
        frame.get_by_role("button", name="Sign the petition").click()
        heading = frame.get_by_role("heading", name="Check your inbox")
        heading.wait_for()
        page.wait_for_timeout(500)  # the resize and bring-into-view messages
        # The message is on the reader's screen, not above it in an empty box.
        box = heading.bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], box
        assert 0 <= frame_gap(page) <= 40, frame_gap(page)
    finally:
        context.close()


def test_embed_check_inbox_resends_and_corrects_the_address_in_the_frame(
    chromium, live_server, partner_site, app
):
    server = live_server(EMBED_ALLOWED_ORIGINS=partner_site.origin)
    context = chromium.new_context()
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.goto(partner_page_with_snippet(page, server, partner_site, filler_px=50))
        frame = page.frame_locator("iframe")
        frame.get_by_label("Full name", exact=True).fill("Parisa Karimi")
        frame.get_by_label("Email", exact=True).fill("parisa.typo@example.net")
        frame.get_by_label("Country", exact=True).select_option("FR")
        frame.get_by_role("button", name="Sign the petition").click()
        frame.get_by_role("heading", name="Check your inbox").wait_for()
        # The address signed with, masked, as on the site's own page.
        assert "example.net" in frame.locator(".sent-to").inner_text()
        frame.get_by_role("button", name="Send the email again").click()
        frame.get_by_text("we have sent the email again").wait_for()

        frame.get_by_label("The address you typed", exact=True).fill("parisa.typo@example.net")
        frame.get_by_label("Correct email address", exact=True).fill("parisa.fixed@example.org")
        frame.get_by_role("button", name="Send to this address instead").click()
        frame.get_by_text("we have sent the email to the corrected address").wait_for()
        assert "example.org" in frame.locator(".sent-to").inner_text()
    finally:
        context.close()
