"""Error messages written for people, in every language (issue 10, item 6)."""

from __future__ import annotations

import pytest

from tests.helpers import SLUG

MESSAGES = {
    "en": ("Error:", "An email address needs one @ sign, like name@example.org."),
    "fa": ("خطا:", "نشانی ایمیل باید یک نشانهٔ @ داشته باشد، مانند name@example.org."),
    "fr": ("Erreur\u00a0:", "Une adresse e-mail contient un seul signe @, comme nom@example.org."),
}


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_library_error_text_never_reaches_the_signer(live_server, new_context, language):
    server = live_server()
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{server.url}/{language}/{SLUG}/")
    page.locator("#name").fill("Shirin Rahimi")
    page.locator("#email").fill("shirin@example@org")
    page.locator("#country").select_option("DE")
    page.locator(".sign-form button[type=submit]").click()
    page.wait_for_load_state()
    prefix, message = MESSAGES[language]
    assert page.title().startswith(prefix + " ")
    error = page.locator("#email-error")
    assert error.is_visible() and error.inner_text() == message
    # Beside its field: the message sits right above the input it is about.
    gap = page.locator("#email").bounding_box()["y"] - error.bounding_box()["y"]
    assert 0 < gap < 80
    assert "@-sign" not in page.locator("main").inner_text()


def test_error_pages_say_error_in_their_title(live_server, page):
    server = live_server()
    page.goto(f"{server.url}/no-such-campaign/")
    assert page.title().startswith("Error: ")
