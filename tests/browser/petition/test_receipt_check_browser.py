"""A signer checks their receipt in a real browser (Debian Chromium), from the public log
(checkpoint and entry bundles), with static/js/receipt-check.js: the receipt, and its
commitment, never leave the browser. Without JavaScript, or on request, the server
checks it. A tampered entry bundle is caught against the signed checkpoint."""

from __future__ import annotations

import base64

import pytest

from campaign.services.log import receipts, transparency
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog
from tests.browser.helpers import describe, serious_violations
from tests.helpers import SLUG
from tests.tlog.helpers import receipt_from, sign_and_confirm


@pytest.fixture
def published(client, app):
    """Four confirmed signers, the second withdrawn, all in a signed checkpoint; more
    than one entry bundle is not needed for the logic, 300 leaves would be slow."""
    signers = [sign_and_confirm(client, f"b{n}@example.org") for n in range(4)]
    privacy.withdraw(signers[1][0])
    transparency.checkpoint(SLUG)
    return [receipt_from(html) for _, html in signers]


@pytest.fixture
def server(live_server, published):
    return live_server(TLOG_ORIGIN="petition.test", RATELIMIT_ENABLED=False)


def watch(page) -> list:
    requests = []
    page.on("request", lambda request: requests.append(request))
    return requests


def secrets_of(receipt: str) -> list[str]:
    """The receipt's secret in every form a leak could take, and its commitment (which
    would point at the leaf)."""
    raw = receipts.parse(receipt)
    found = [receipt.split()[-1], base64.b64encode(raw).decode(), raw.hex()]
    for commitment in (tlog.commitment(raw), tlog.commitment(raw, 1), tlog.removal(raw)):
        found += [commitment.hex(), base64.b64encode(commitment).decode()]
    return found


def assert_never_sent(requests, receipt: str) -> None:
    leaks = secrets_of(receipt)
    for request in requests:
        sent = request.url + (request.post_data or "") + str(request.headers)
        assert not any(leak in sent for leak in leaks), request.url
        assert request.method == "GET", request.url


def check_in_browser(page, receipt: str) -> str:
    page.get_by_label("Receipt").fill(receipt)
    page.get_by_role("button", name="Check", exact=True).click()
    result = page.locator("#browser-result h2")
    result.filter(has_not_text="Checking").wait_for()
    return result.inner_text()


def test_receipt_checked_in_the_browser_sends_nothing_of_it(server, published, page):
    requests = watch(page)
    page.goto(f"{server.url}/{SLUG}/log/verify")
    heading = check_in_browser(page, published[0])
    box = page.locator("#browser-result").inner_text()
    assert heading == "Your signature is counted", box
    assert "your receipt was not sent to the server" in box
    assert "signature was verified with the log’s key" in box  # Chromium has Ed25519
    assert "Leaf 0 in a tree of 5 entries" in box
    violations = serious_violations(page)
    assert not violations, describe(violations)

    page.get_by_label("Receipt").fill("")
    assert check_in_browser(page, published[1]) == "Removed from the count"
    assert "Removal at leaf 4" in page.locator("#browser-result").inner_text()
    # just the secret works too
    assert check_in_browser(page, published[3].split()[-1]) == "Your signature is counted"

    fetched = [r.url for r in requests]
    assert any(u.endswith(f"/{SLUG}/log/checkpoint") for u in fetched)
    assert any("/log/tile/entries/000.p/5" in u for u in fetched)
    assert_never_sent(requests, published[0])
    assert_never_sent(requests, published[1])
    assert_never_sent(requests, published[3])


def test_a_receipt_not_in_the_log_and_a_malformed_one(server, page):
    requests = watch(page)
    page.goto(f"{server.url}/{SLUG}/log/verify")
    stranger = receipts.text("petition.test/x/log", None, b"\x07" * 32)
    assert check_in_browser(page, stranger) == "Not in the log"
    before = len(requests)
    page.get_by_label("Receipt").fill("not a receipt")
    page.get_by_role("button", name="Check", exact=True).click()
    error = page.locator("#receipt-browser-error")
    error.wait_for()
    assert "43-character secret" in error.inner_text()
    assert page.get_by_label("Receipt").get_attribute("aria-invalid") == "true"
    assert len(requests) == before  # nothing fetched, nothing posted
    violations = serious_violations(page)
    assert not violations, describe(violations)
    assert_never_sent(requests, stranger)


def test_a_tampered_entry_bundle_is_caught_in_the_browser(server, published, page):
    """A mirror (or the server) hides the removal from the bundle: the entries no longer
    hash to the signed root."""

    def hide_removal(route):
        entries = tlog.parse_entry_bundle(route.fetch().body())
        entries[4] = tlog.add_entry(b"\x44" * 32, "2026-01-01T00")
        route.fulfill(body=tlog.entry_bundle(entries), content_type="application/octet-stream")

    page.route("**/log/tile/entries/**", hide_removal)
    page.goto(f"{server.url}/{SLUG}/log/verify")
    assert check_in_browser(page, published[1]) == "The check in this browser failed"
    assert "do not match its signed checkpoint" in page.locator("#browser-result").inner_text()


def test_without_javascript_or_on_request_the_server_checks(server, published, new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(f"{server.url}/{SLUG}/log/verify")
    assert page.get_by_role("button", name="Check on the server instead").is_hidden()
    page.get_by_label("Receipt").fill(published[1])
    page.get_by_role("button", name="Check", exact=True).click()
    assert page.locator("#result-heading").inner_text() == "Removed from the count"

    page = new_context().new_page()
    page.goto(f"{server.url}/{SLUG}/log/verify")
    page.get_by_label("Receipt").fill(published[0])
    with page.expect_request(lambda r: r.method == "POST") as posted:
        page.get_by_role("button", name="Check on the server instead").click()
    assert posted.value.url.endswith(f"/{SLUG}/log/verify")
    assert page.locator("#result-heading").inner_text() == "Your signature is counted"


def test_an_empty_log_checks_as_not_in_the_log(app, client, live_server, page):
    assert client.get(f"/{SLUG}/").status_code == 200  # the campaign's row exists
    transparency.publish_due(force_checkpoint=True)  # a signed checkpoint of size 0
    assert client.get(f"/{SLUG}/log/checkpoint").data.split(b"\n")[1] == b"0"
    server = live_server(TLOG_ORIGIN="petition.test")
    page.goto(f"{server.url}/{SLUG}/log/verify")
    stranger = receipts.text("petition.test/x/log", None, b"\x09" * 32)
    heading = check_in_browser(page, stranger)
    assert heading == "Not in the log", page.locator("#browser-result").inner_text()
