"""Check-inbox and thank-you pages as a signer sees them (issue 10, items 4 and 5)."""

from __future__ import annotations

import pytest

from tests.browser.helpers import describe, serious_violations
from tests.browser.petition.test_signing_browser import confirmation_link, fill_sign_form
from tests.browser.screens import confirmed_signers
from tests.helpers import SLUG, deliver


@pytest.fixture
def server(live_server, mailbox, app):
    server = live_server(SMTP_URL=mailbox.url, COUNT_CACHE_SECONDS=0)
    # The mail worker (here: the test's app) renders the links, from the same BASE_URL.
    app.config["BASE_URL"] = server.url
    return server


def test_check_inbox_shows_masked_address_resends_and_corrects_a_typo(server, app, mailbox, page):
    page.goto(f"{server.url}/en/{SLUG}/")
    fill_sign_form(page, "Shirin Rahimi", "shirin@exmaple.org")  # the typo is the domain
    page.get_by_role("button", name="Sign the petition").click()
    page.wait_for_url(f"**/{SLUG}/check-inbox")
    sent_to = page.locator(".lead .sent-to")
    assert sent_to.inner_text() == "sh••••@exmaple.org"  # enough to spot the typo
    assert sent_to.get_attribute("dir") == "ltr"
    assert "shirin@" not in page.content()  # never the full address in the page
    deliver(app)  # the worker renders and sends the first mail (resending needs it sent)

    # Resend without retyping: one button, no email field in that form.
    assert page.locator("form.resend-again input[type=email]").count() == 0
    page.get_by_role("button", name="Send the email again").click()
    page.wait_for_url("**resent=1")
    assert page.get_by_role("status").first.is_visible()
    deliver(app)
    assert len(mailbox.to("shirin@exmaple.org")) == 2

    # Correct the typo: the address typed before, in full (L7: on a shared computer only
    # the signer knows it), then the right one. The mail goes there, and its link works.
    page.get_by_label("The address you typed").fill("shirin@exmaple.org")
    page.get_by_label("Correct email address").fill("shirin@example.org")
    page.get_by_role("button", name="Send to this address instead").click()
    page.wait_for_url("**corrected=1")
    assert page.locator(".lead .sent-to").inner_text() == "sh••••@example.org"
    assert not serious_violations(page), describe(serious_violations(page))
    link = confirmation_link(app, mailbox, "shirin@example.org")
    page.goto(link)
    page.get_by_role("button", name="Confirm my signature").click()
    page.wait_for_load_state()
    assert page.title().startswith("Thank you for signing")
    # The link mailed to the typo no longer confirms anything.
    [old] = mailbox.links(mailbox.to("shirin@exmaple.org")[0], "confirm")
    page.goto(old)
    assert page.title().startswith("Error:")


def test_correcting_without_a_signature_from_this_browser_answers_the_same(server, page):
    """No probing: a fresh browser gets the same neutral answer and nothing is sent."""
    page.goto(f"{server.url}/en/{SLUG}/check-inbox")
    page.get_by_label("Your email address").fill("someone@example.org")
    page.get_by_role("button", name="Send the email again").click()
    page.wait_for_url("**resent=1")
    assert "If this address has a signature waiting" in page.get_by_role("status").inner_text()


def test_thank_you_page_has_its_title_count_back_link_share_link_qr_and_referrals(
    server, app, page
):
    from campaign.services.intake import links

    [sharer] = confirmed_signers(app, 1)
    code = links.referral_code(sharer)  # the row stores only a keyed hash of it
    confirmed_signers(app, 2, referrer=code, start=1)
    page.goto(f"{server.url}/en/{SLUG}/confirm/{links.make_token(sharer, 'confirm')}")
    assert page.title().startswith("Thank you for signing ·")
    assert "3 people have signed so far." in page.locator(".thanks-count").inner_text()
    back = page.get_by_role("link", name="Back to the petition")
    assert back.is_visible() and back.get_attribute("href").endswith(f"/{SLUG}/")
    assert page.locator(".through-count").count() == 0  # no per-sharer count (issue 21, H2)
    link = page.locator("#referral-link")
    assert f"ref={code}" in link.input_value()
    box = link.bounding_box()
    assert box["width"] >= 300 and box["y"] + box["height"] <= 900  # prominent, first screen
    qr = page.locator(".my-qr img")
    assert qr.is_visible() and page.evaluate("(img) => img.naturalWidth", qr.element_handle()) > 0
    assert f"ref={code}" in qr.get_attribute("src")
    assert page.get_by_role("link", name="Print a flyer with your code").is_visible()
    assert not serious_violations(page), describe(serious_violations(page))
