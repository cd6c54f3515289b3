"""The campaign page as people see it (issue 10, items 1-3): measured in Chromium.

Bounding boxes and visible text, at a phone's 390×844 and a laptop's 1280×720, in
English, Persian and French.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser.helpers import describe, serious_violations
from tests.browser.screens import confirmed_signers
from tests.helpers import SLUG

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 720}


@pytest.fixture
def server(live_server):
    return live_server(COUNT_CACHE_SECONDS=0)


def on_screen(page, selector: str) -> bool:
    """Whether the element's whole box is inside the viewport as scrolled now."""
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= size["height"]


def test_phone_first_screen_offers_a_sign_button_that_lands_on_the_form(server, new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    button = page.locator(".jump-to-sign a")
    assert button.inner_text() == "Sign the petition"
    assert on_screen(page, ".jump-to-sign a"), "the Sign button is below the first screen"
    assert on_screen(page, ".count")
    button.click()
    page.wait_for_function("location.hash === '#sign'")
    assert on_screen(page, "#name"), "the button did not land on the form"
    # The case stays readable: body text at 16px or more, no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('.case p')).fontSize)")
    assert size >= 16
    assert not serious_violations(page), describe(serious_violations(page))


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_laptop_first_field_and_sign_button_on_screen_together(server, new_context, language):
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(f"{server.url}/{language}/{SLUG}/")
    assert on_screen(page, "#name") and on_screen(page, ".sign-form button[type=submit]")
    assert page.locator(".jump-to-sign").is_hidden()  # the box itself is the way to sign
    # Never sticky while taller than the window (its button would wait for the page end).
    box = page.locator(".sign-box").bounding_box()
    position = page.evaluate("getComputedStyle(document.querySelector('.sign-box')).position")
    assert position != "sticky" or box["height"] <= LAPTOP["height"]
    page.mouse.wheel(0, 2500)
    page.wait_for_timeout(200)
    if position == "sticky":
        assert on_screen(page, ".sign-form button[type=submit]")


def test_addressee_ask_and_goal_appear_once(server, page):
    page.goto(f"{server.url}/en/{SLUG}/")
    text = page.locator("main").inner_text()
    assert text.count("Goal: 10,000") == 1
    assert "To: The Secretary-General" not in text  # the petition text names its addressee
    assert text.count("We ask the United Nations to establish") == 0  # the ask isn't repeated
    assert text.count("establish an independent international commission of inquiry") == 1


def test_small_count_shows_honest_progress_and_recent_signers_by_the_count(server, app, page):
    confirmed_signers(app, 3, public=True)
    page.goto(f"{server.url}/en/{SLUG}/")
    assert page.locator(".count strong").inner_text() == "3"
    assert "Under 1% of the goal so far" in page.locator(".counter").inner_text()
    # The bar shows a visible sliver in the accent colour, not an empty track.
    shot = Image.open(io.BytesIO(page.locator(".progress").screenshot())).convert("RGB")
    rgb = shot.tobytes()  # r, g, b per pixel (Pillow 13 deprecates getdata)
    pixels = zip(rgb[0::3], rgb[1::3], rgb[2::3], strict=True)
    red = sum(1 for r, g, b in pixels if r > 110 and g < 60 and b < 60)
    assert red >= 20, "the progress bar looks empty"
    count_box = page.locator(".counter").bounding_box()
    signers = page.locator(".recent-signers")
    assert signers.is_visible() and signers.locator("li").count() == 3
    gap = signers.bounding_box()["y"] - (count_box["y"] + count_box["height"])
    assert 0 <= gap < 150, "recent signers are not next to the count"


def test_persian_zero_count_is_written_out(server, page):
    page.goto(f"{server.url}/fa/{SLUG}/")
    assert page.locator(".count strong").inner_text() == "هنوز امضایی نیست"
