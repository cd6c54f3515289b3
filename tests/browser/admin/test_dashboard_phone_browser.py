"""The dashboard on a phone (issue 24 §14): the first number is on the first screen.

The header is short, the admin menu folds under "Menu" (a disclosure that works without
JavaScript) and the title is smaller, so at 390×844 the first row of numbers shows
without scrolling, in every language. On a laptop the menu is a plain row of links."""

from __future__ import annotations

import pytest

from campaign.services.admins import accounts
from tests.admin.helpers import make_signature
from tests.browser.helpers import describe, serious_violations
from tests.helpers import SLUG

PASSWORD = "a long browser password"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def signed_in(app, live_server, new_context):
    """An owner signed in (the longest menu), in a context with or without JavaScript."""
    app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
    accounts.create("owner@browser.test", PASSWORD, "owner")
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    server = live_server()

    def open_page(*, javascript: bool = True, viewport: dict = PHONE):
        page = new_context(java_script_enabled=javascript, viewport=viewport).new_page()
        page.goto(f"{server.url}/admin/login")
        page.get_by_label("Email address").fill("owner@browser.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/admin/")
        return page

    return server, open_page


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_the_first_numbers_are_on_a_phones_first_screen(signed_in, language):
    server, open_page = signed_in
    page = open_page()
    page.goto(f"{server.url}/admin/{SLUG}/?lang={language}")
    first_row = [page.locator(f"#stat-{key}").bounding_box() for key in ("counted", "confirmed")]
    for box in first_row:
        assert box["y"] + box["height"] <= PHONE["height"] * 0.6, (language, box)
    # The menu is folded: one 44 px row, its links hidden until "Menu" is opened.
    toggle = page.locator(".admin-menu-toggle > summary")
    assert toggle.is_visible() and toggle.bounding_box()["height"] >= 44
    assert not page.locator("#admin-menu").is_visible()
    header = page.locator(".site-header").bounding_box()
    assert header["height"] <= 80, header
    assert not serious_violations(page), describe(serious_violations(page))


def test_the_folded_menu_opens_without_javascript(signed_in):
    server, open_page = signed_in
    page = open_page(javascript=False)
    page.goto(f"{server.url}/admin/{SLUG}/")
    page.locator(".admin-menu-toggle > summary").click()
    signers = page.locator("#admin-menu").get_by_role("link", name="Signers")
    assert signers.is_visible()
    for link in page.locator("#admin-menu a").all():  # WCAG 2.5.8: 24×24 targets
        box = link.bounding_box()
        assert box["height"] >= 24 and box["width"] >= 24, box
    signers.click()
    page.wait_for_url(f"**/admin/{SLUG}/signers**")


def test_on_a_laptop_the_menu_is_a_row_of_links(signed_in):
    server, open_page = signed_in
    page = open_page(viewport={"width": 1280, "height": 720})  # the menu is never folded
    page.goto(f"{server.url}/admin/{SLUG}/")
    assert not page.locator(".admin-menu-toggle").is_visible()
    links = page.locator("#admin-menu a")
    assert links.count() >= 8 and all(link.is_visible() for link in links.all())
    ys = {round(link.bounding_box()["y"]) for link in links.all()}
    assert len(ys) <= 2, ys  # a row or two of links, not a folded list
