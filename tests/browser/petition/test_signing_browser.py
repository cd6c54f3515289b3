"""Signing in a real browser against a real gunicorn server, with real SMTP.

Sign → the mail the SMTP server caught → its confirmation link → the button →
the count on the campaign page is 1. Also without JavaScript, and axe-core on
every page of the way (no serious or critical violations).
"""

from __future__ import annotations

import pytest

from tests.browser.helpers import describe, serious_violations
from tests.helpers import SLUG, deliver


@pytest.fixture
def server(live_server, mailbox, app):
    """The app under gunicorn, mailing the test's SMTP server, counts never cached."""
    server = live_server(SMTP_URL=mailbox.url, COUNT_CACHE_SECONDS=0)
    # The mail worker (here: the test's app) renders the links, from the same BASE_URL.
    app.config["BASE_URL"] = server.url
    return server


def shown_count(page) -> str:
    return page.locator(".count strong").inner_text().strip()


def fill_sign_form(page, name: str, email: str, country: str = "DE") -> None:
    page.get_by_label("Full name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Country", exact=True).select_option(country)


def confirmation_link(app, mailbox, address: str) -> str:
    assert deliver(app) >= 1
    [message] = mailbox.to(address)
    assert message.get_body(("html",)) is not None  # an HTML part besides the plain text
    [link] = mailbox.links(message, "confirm")
    return link


def assert_accessible(page, what: str) -> None:
    violations = serious_violations(page)
    assert not violations, f"{what}: {page.url}\n{describe(violations)}"


def test_sign_confirm_and_see_the_count(server, app, mailbox, page):
    page.goto(f"{server.url}/{SLUG}/")
    assert shown_count(page) == "0"
    assert_accessible(page, "campaign page")

    fill_sign_form(page, "Shirin Rahimi", "shirin@example.org")
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url(f"**/{SLUG}/check-inbox")
    assert page.get_by_role("heading", level=1).inner_text() == "Check your inbox"
    assert_accessible(page, "check-inbox page")

    link = confirmation_link(app, mailbox, "shirin@example.org")
    assert link.startswith(f"{server.url}/en/{SLUG}/confirm/")  # absolute, from BASE_URL
    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "Confirm your signature"
    assert_accessible(page, "confirm page")

    page.get_by_role("button", name="Confirm my signature").click()
    page.wait_for_load_state()
    assert "Thank you" in page.get_by_role("heading", level=1).inner_text()
    assert_accessible(page, "thank-you page")

    page.goto(f"{server.url}/{SLUG}/")
    assert shown_count(page) == "1"


def test_signing_works_without_javascript(server, app, mailbox, new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{server.url}/{SLUG}/")
    fill_sign_form(page, "Arash Karimi", "arash@example.org", "SE")
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url(f"**/{SLUG}/check-inbox")

    page.goto(confirmation_link(app, mailbox, "arash@example.org"))
    page.get_by_role("button", name="Confirm my signature").click()
    page.wait_for_load_state()
    assert "Thank you" in page.get_by_role("heading", level=1).inner_text()
    page.goto(f"{server.url}/{SLUG}/")
    assert shown_count(page) == "1"


def test_form_errors_are_shown_and_accessible(server, page):
    page.goto(f"{server.url}/{SLUG}/")
    fill_sign_form(page, "=cmd", "not-an-email")
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_load_state()
    assert page.locator("#name-error").is_visible()
    assert page.locator("#email-error").is_visible()
    assert page.get_by_label("Email", exact=True).input_value() == "not-an-email"  # kept
    # The error summary takes focus (site.js), so screen readers announce it.
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert_accessible(page, "form with errors")


def test_public_pages_are_accessible_in_every_language(live_server, page, new_context):
    """One server for every read-only page: axe on each, all failures reported together."""
    server = live_server()
    failures = []
    pages = [f"/{language}/{SLUG}/" for language in ("en", "fa", "fr")] + [
        f"/fa/{SLUG}/check-inbox",
        "/privacy",
        f"/{SLUG}/confirm/1-{'x' * 40}",
        "/no-such-campaign/",
    ]
    for path in pages:
        page.goto(server.url + path)
        if path.startswith("/fa/"):
            assert page.locator("html").get_attribute("lang") == "fa"
            assert page.locator("html").get_attribute("dir") == "rtl"
        violations = serious_violations(page)
        if violations:
            failures.append(f"{path}\n{describe(violations)}")
    # A phone-sized screen: targets and reflow (WCAG 2.5.8, 1.4.10).
    phone = new_context(viewport={"width": 375, "height": 740}).new_page()
    phone.goto(f"{server.url}/{SLUG}/")
    violations = serious_violations(phone)
    if violations:
        failures.append(f"/{SLUG}/ at 375 px\n{describe(violations)}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scroll
    assert not failures, "\n".join(failures)

    # Keyboard: the first Tab reaches the skip link, visibly; Enter moves to the content.
    page.goto(f"{server.url}/{SLUG}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.wait_for_url("**#main", timeout=5000)  # the jump may land a moment after the key
