"""Every screen at its best, the signer's part (issue 24, items 1-8): measured in Chromium.

Bounding boxes, computed styles and visible text at a phone's 390×844 and a laptop's
1280×720, against the app under gunicorn.
"""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from campaign.services.log import transparency
from campaign.services.pages.content import library
from campaign.services.signatures import signing
from campaign.services.signer_data import consents, privacy
from tests.browser.helpers import describe, serious_violations
from tests.browser.screens import confirmed_signers
from tests.helpers import SLUG
from tests.tlog.helpers import receipt_from, sign_and_confirm

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 720}
CONFIRM, DISCARD = "Confirm my signature", "This is not me: discard it"


@pytest.fixture
def server(live_server):
    # The production default lag, so the page says what it says in production.
    return live_server(COUNT_CACHE_SECONDS=2, TLOG_ORIGIN="petition.test")


def pending_token(app, email: str = "p@example.org") -> str:
    """A pending submission with a comment and two boxes ticked; its confirm token."""
    outcome = signing.sign(
        library().get(SLUG),
        signing.SignatureInput.from_raw(
            name="Shirin Rahimi",
            email=email,
            country="DE",
            comment="I sign for my uncle, who was taken in the summer of 1988.",
            public_consent=True,
            comment_consent=True,
            ip="127.0.0.1",
        ),
    )
    return links.make_token(db.session.get(Signature, outcome.signature_id), "confirm")


def box(page, locator) -> dict:
    found = locator.bounding_box()
    assert found is not None, locator
    return found


def style(page, selector: str, prop: str) -> str:
    return page.evaluate(
        "([s, p]) => getComputedStyle(document.querySelector(s))[p]", [selector, prop]
    )


def px(page, selector: str, prop: str = "fontSize") -> float:
    return float(style(page, selector, prop).removesuffix("px"))


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_confirm_is_the_primary_action_first_and_discard_is_set_apart(
    server, app, new_context, viewport
):
    token = pending_token(app)
    page = new_context(viewport=viewport).new_page()
    page.goto(f"{server.url}/en/{SLUG}/confirm/{token}")
    confirm = page.get_by_role("button", name=CONFIRM)
    discard = page.get_by_role("button", name=DISCARD)
    c, d = box(page, confirm), box(page, discard)
    assert c["y"] + c["height"] < d["y"], "discard comes before confirm"
    assert d["y"] - (c["y"] + c["height"]) >= 48, "discard is not set apart from confirm"
    assert "primary" in confirm.get_attribute("class")
    assert "primary" not in discard.get_attribute("class")
    if viewport is LAPTOP:
        assert c["y"] + c["height"] <= LAPTOP["height"], f"confirm at {c['y']:.0f} px"
    # The list of what is confirmed is styled, and every consent of the registry shows.
    assert style(page, ".confirm-preview dl", "display") == "grid"
    assert style(page, ".confirm-preview dt", "fontWeight") == "700"
    for consent in consents.all_consents():
        label = page.get_by_label(str(consent.label))
        assert label.is_visible() and box(page, label)["y"] < c["y"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert not serious_violations(page), describe(serious_violations(page))


def test_phone_first_screen_sign_button_whole_and_a_second_call_after_the_case(
    server, app, new_context
):
    confirmed_signers(app, 6, public=True)
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    jump = box(page, page.locator(".jump-to-sign a"))
    assert jump["y"] >= 0 and jump["y"] + jump["height"] <= PHONE["height"], jump
    # The count's refresh interval is not on the first screen (developer talk).
    assert "updated every" not in page.locator(".campaign-hero").inner_text()
    # After the case and comments, a way to sign without scrolling 10 screens back.
    again = page.locator(".sign-again a")
    case = box(page, page.locator(".case"))
    assert again.is_visible() and box(page, again)["y"] > case["y"] + case["height"]
    assert again.get_attribute("href") == "#sign"
    again.click()
    page.wait_for_timeout(300)
    name = box(page, page.locator("#name"))
    assert 0 <= name["y"] <= PHONE["height"]


def test_laptop_open_choices_never_trap_the_sign_button_in_the_box(server, new_context):
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(200)
    page.locator("details.choices > summary").click()
    page.wait_for_timeout(200)
    sign_box = page.locator(".sign-box")
    # No scroller of its own: the page's scrolling reaches everything in it.
    assert sign_box.evaluate("(e) => e.scrollHeight <= e.clientHeight + 1")
    button = page.locator(".sign-form button[type=submit]")
    seen = False
    for _ in range(12):
        b = box(page, button)
        if 0 <= b["y"] and b["y"] + b["height"] <= LAPTOP["height"]:
            seen = True
            break
        page.mouse.wheel(0, -250 if b["y"] < 0 else 250)
        page.wait_for_timeout(150)
    assert seen, "scrolling the page never shows the Sign button"


TARGETS = [
    ".language-switcher a",
    ".share-box p > a",
    ".footer-links a",
    ".transparency-key a",
]


def test_phone_text_is_16px_and_targets_24px_and_inputs_44px(server, new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    page.locator("details.choices > summary").click()
    for selector in ("#email-hint", ".sign-form .fine-print", ".sign-form .consents label"):
        assert px(page, selector) >= 16, selector
    for selector in TARGETS:
        for i in range(page.locator(selector).count()):
            b = box(page, page.locator(selector).nth(i))
            assert b["height"] >= 24 and b["width"] >= 24, (selector, i, b)
    for selector in ("#name", "#email", "#country"):
        assert box(page, page.locator(selector))["height"] >= 44, selector
    fine = page.locator(".sign-form .fine-print").inner_text()
    assert "first box" not in fine and "last box" not in fine


def test_thank_you_page_on_a_phone_receipt_16px_distinct_qr_codes_24px_links(
    server, app, new_context
):
    [signer] = confirmed_signers(app, 1)
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/confirm/{links.make_token(signer, 'confirm')}")
    assert px(page, ".receipt-text") >= 16 and px(page, ".receipt p") >= 16
    for selector in (".my-qr a", ".receipt a", ".thanks-count a"):
        for i in range(page.locator(selector).count()):
            b = box(page, page.locator(selector).nth(i))
            assert b["height"] >= 24, (selector, i, b)
    links_box = [box(page, page.locator(".my-qr a").nth(i)) for i in range(2)]
    assert links_box[1]["y"] - (links_box[0]["y"] + links_box[0]["height"]) >= 8  # a gap
    # Two codes that cannot be mistaken: each captioned, the private one marked private.
    share = page.locator(".my-qr figcaption").inner_text()
    private = page.locator(".receipt-qr figcaption").inner_text()
    assert "share" in share.lower() and "private" in private.lower()
    assert style(page, ".receipt-qr", "borderTopStyle") == "dashed"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not serious_violations(page), describe(serious_violations(page))


def test_comment_counter_says_when_pasted_text_is_too_long(server, new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    counter = page.locator("#comment-count")
    assert "500" in counter.inner_text()
    page.locator("#comment").fill("x" * 120)
    assert "380 characters left" in counter.inner_text()
    page.locator("#comment").fill("y" * 530)  # pasted: nothing silently cut
    assert page.locator("#comment").input_value() == "y" * 530
    assert "30 characters too many" in counter.inner_text()
    # Without JavaScript the limit is still said, next to the field.
    nojs = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    nojs.goto(f"{server.url}/en/{SLUG}/")
    assert "Up to 500 characters" in nojs.locator("#comment-count").inner_text()


def test_my_data_on_a_phone_stacks_labels_above_values(server, app, new_context):
    [signer] = confirmed_signers(app, 1)
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/my-data/{links.make_token(signer, 'data')}")
    dt, dd = page.locator(".data-copy dt").nth(1), page.locator(".data-copy dd").nth(1)
    t, v = box(page, dt), box(page, dd)
    assert v["y"] >= t["y"] + t["height"] - 1, "the value is beside its label"
    assert v["width"] >= 300  # a value wraps across the screen, not 2 letters a line
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_withdrawn_page_has_a_way_back(server, app, page):
    [signer] = confirmed_signers(app, 1)
    token = links.make_token(signer, "withdraw")
    page.goto(f"{server.url}/en/{SLUG}/withdraw/{token}")
    page.get_by_role("button", name="Withdraw and erase my data").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Your signature is withdrawn"
    back = page.get_by_role("link", name="Back to the petition")
    assert back.is_visible()
    back.click()
    page.wait_for_url(f"**/{SLUG}/")


def test_receipt_check_on_a_phone_fits_and_leads_with_the_plain_answer(
    server, app, client, new_context
):
    signers = [sign_and_confirm(client, f"r{n}@example.org") for n in range(2)]
    privacy.withdraw(signers[1][0])
    transparency.checkpoint(SLUG)
    receipt = receipt_from(signers[0][1])
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/log/verify")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    area = box(page, page.locator("#receipt"))
    assert area["width"] >= 300 and area["x"] + area["width"] <= PHONE["width"]
    assert style(page, "#receipt", "borderTopWidth") == "2px"  # styled as the inputs are
    page.get_by_label("Receipt").fill(receipt)
    page.get_by_role("button", name="Check", exact=True).click()
    heading = page.locator("#browser-result h2")
    heading.filter(has_not_text="Checking").wait_for()
    assert heading.inner_text() == "Your signature is counted"
    result = page.locator("#browser-result").inner_text()
    assert "more entries than signatures" in result  # why the log is longer than the count
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not serious_violations(page), describe(serious_violations(page))


def test_email_typo_is_offered_a_fix_and_never_called_disposable(server, new_context):
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    email, suggestion = page.get_by_label("Email", exact=True), page.locator("#email-suggestion")
    for typed, meant in (
        ("shirin@gmail.con", "shirin@gmail.com"),
        ("shirin@gmail.co", "shirin@gmail.com"),
        ("shirin@yaho.com", "shirin@yahoo.com"),
    ):
        email.fill(typed)
        email.blur()
        assert suggestion.is_visible() and suggestion.inner_text() == f"Did you mean {meant}?"
    # One tap takes the fix; a right address offers nothing.
    suggestion.get_by_role("button").click()
    assert email.input_value() == "shirin@yahoo.com" and suggestion.is_hidden()
    email.fill("shirin@example.org")
    email.blur()
    assert suggestion.is_hidden()
    # A typo on the public disposable list is answered as a typo, not as a fake.
    page.get_by_label("Full name", exact=True).fill("Shirin Rahimi")
    email.fill("shirin@gmial.com")
    email.blur()  # on to the next field: the suggestion shows, the signer goes on
    page.get_by_label("Country", exact=True).select_option("DE")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign the petition").click()
    errors = page.locator(".field-errors").inner_text()
    assert "disposable" not in errors and "Did you mean shirin@gmail.com?" in errors
    assert not serious_violations(page), describe(serious_violations(page))
    # The suggestion doesn't block: a kept typo is signed, and check-inbox says it again.
    nojs = new_context(viewport=PHONE, java_script_enabled=False).new_page()
    nojs.goto(f"{server.url}/en/{SLUG}/")
    nojs.get_by_label("Full name", exact=True).fill("Shirin Rahimi")
    nojs.get_by_label("Email", exact=True).fill("shirin@yaho.com")
    nojs.get_by_label("Country", exact=True).select_option("DE")
    nojs.get_by_role("button", name="Sign the petition").click()
    nojs.wait_for_url(f"**/{SLUG}/check-inbox")
    assert "Did you mean sh••••@yahoo.com?" in nojs.locator(".typo-notice").inner_text()


@pytest.mark.parametrize(
    ("language", "left", "meant"),
    [
        ("fr", "380 caractères restants", "Vouliez-vous dire shirin@gmail.com\u202f?"),
        ("fa", "۳۸۰ نویسه مانده", "منظورتان shirin@gmail.com بود؟"),
    ],
)
def test_counter_and_typo_suggestion_speak_french_and_persian(
    server, new_context, language, left, meant
):
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/{language}/{SLUG}/")
    page.locator("#comment").fill("x" * 120)
    assert page.locator("#comment-count").inner_text() == left
    page.locator("#email").fill("shirin@gmail.con")
    page.locator("#email").blur()
    assert page.locator("#email-suggestion").inner_text() == meant
