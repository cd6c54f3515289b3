"""Persian pages, the embed, the flyer and /privacy in Chromium (issue 10, items 7-10)."""

from __future__ import annotations

import re

import pytest

from tests.browser.screens import confirmed_signers
from tests.helpers import SLUG

PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


@pytest.fixture
def server(live_server):
    return live_server(COUNT_CACHE_SECONDS=0)


def test_persian_uses_the_self_hosted_font_and_persian_digits(server, new_context):
    page = new_context(locale="fa-IR").new_page()
    fonts = []
    page.on("request", lambda r: fonts.append(r.url) if ".woff2" in r.url else None)
    page.goto(f"{server.url}/fa/{SLUG}/check-inbox")
    page.evaluate("document.fonts.ready")
    family = page.evaluate("getComputedStyle(document.querySelector('h1')).fontFamily")
    assert family.startswith('"Vazirmatn"') or family.startswith("Vazirmatn")
    assert page.evaluate("document.fonts.check('16px Vazirmatn', 'سلام')")
    assert fonts and all(url.startswith(server.url + "/static/fonts/") for url in fonts)
    text = page.locator("main").inner_text()
    assert "۷ روز" in text and not re.search(r"[0-9]", text)  # no Latin digits


def test_persian_urls_and_embed_code_run_left_to_right(server, app, new_context):
    [signer] = confirmed_signers(app, 1)
    page = new_context(locale="fa-IR").new_page()
    page.goto(f"{server.url}/fa/{SLUG}/share")
    for selector in ("#embed-code", "#share-page-link"):
        direction = page.locator(selector).evaluate("(e) => getComputedStyle(e).direction")
        assert direction == "ltr", selector
    # The start of the URL is visible (not cut off on the left as in RTL).
    assert page.locator("#share-page-link").evaluate("(e) => e.scrollLeft") == 0
    from campaign.services.intake import links

    page.goto(f"{server.url}/fa/{SLUG}/confirm/{links.make_token(signer, 'confirm')}")
    assert (
        page.evaluate("getComputedStyle(document.querySelector('#referral-link')).direction")
        == "ltr"
    )
    assert any(d in page.locator(".thanks-count").inner_text() for d in PERSIAN_DIGITS)


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_embed_snippet_height_fits_the_form(server, new_context, language):
    page = new_context(viewport={"width": 360, "height": 640}).new_page()
    page.goto(f"{server.url}/{language}/{SLUG}/share")
    code = page.locator("#embed-code").input_value()
    height = int(re.search(r'height="(\d+)"', code).group(1))
    page.goto(f"{server.url}/{language}/{SLUG}/embed")
    needed = page.evaluate("document.documentElement.scrollHeight")
    # Issue 24: the snippet's script fits the frame to the form (test_embed_browser.py);
    # without script, the fixed height leaves no empty frame and scrolls inside.
    assert height <= needed, f"the form needs {needed}px, the snippet gives {height}px"
    assert 'addEventListener("message"' in code


def test_flyer_is_a_poster_with_an_event_field(server, page):
    page.goto(f"{server.url}/en/{SLUG}/flyer")
    assert page.locator(".poster-kicker").inner_text().lower() == "sign the petition"
    assert "signed" not in page.locator(".poster").inner_text()  # no count to go stale
    page.get_by_label("Event or place (optional)").fill("rally-berlin")
    page.get_by_role("button", name="Update the flyer").click()
    page.wait_for_url("**source=rally-berlin")
    assert "source=rally-berlin" in page.locator(".flyer-qr").get_attribute("src")
    # Issue 24: the printed link is short and typeable; the QR code carries the source.
    assert page.locator(".flyer-url").inner_text().endswith(f"/{SLUG}")
    # Printed, the poster fills the sheet: the code sits in its lower half.
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})
    poster = page.locator(".poster").bounding_box()
    qr = page.locator(".flyer-qr").bounding_box()
    assert poster["height"] >= 900 and qr["y"] > poster["y"] + poster["height"] / 3


def test_privacy_names_who_runs_it_and_mails_links_again_neutrally(server, page):
    page.goto(f"{server.url}/en/privacy")
    assert "runs this petition" in page.locator(".prose .run-by").inner_text()
    assert page.locator(".site-footer .run-by").is_visible()
    page.get_by_label("The email address you signed with").fill("nobody@example.org")
    page.get_by_role("button", name="Mail me my links").click()
    page.wait_for_url("**sent=1**")
    assert "If this address has signed" in page.get_by_role("status").inner_text()
