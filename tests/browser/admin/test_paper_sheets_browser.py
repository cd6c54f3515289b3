"""A real browser (Chromium via Playwright) makes paper sign-up sheets from the admin
page (issue 26): the form passes axe-core, a refused count is said beside its field, and
the downloaded PDF holds a page per sheet, each with a code the entry screen accepts."""

from __future__ import annotations

import re
import subprocess

import pytest

from campaign.services.admins import accounts
from campaign.services.paper import sheet_codes
from tests.browser.helpers import describe, serious_violations
from tests.helpers import SLUG

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_organizer_makes_sheets_from_the_admin_page(app, live_server, tmp_path, new_context):
    accounts.create("organizer@browser.test", "a long browser password", "organizer")
    server = live_server()
    context = new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Email address").fill("organizer@browser.test")
    page.get_by_label("Password").fill("a long browser password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/admin/")

    page.goto(f"{server.url}/admin/{SLUG}/")
    page.get_by_role("link", name="Print paper sheets").click()
    page.wait_for_url(f"{server.url}/admin/{SLUG}/sheets")
    assert page.get_by_role("heading", name="Print paper sheets").is_visible()
    assert not serious_violations(page), describe(serious_violations(page))

    # A count past the limit: the page says why, beside the field, and prints nothing.
    page.get_by_label("How many sheets").fill("10000")
    page.get_by_role("button", name="Make the sheets (PDF)").click()
    error = page.locator("#count-error")
    assert "Print from 1 to 200 sheets at a time." in error.inner_text()
    assert page.get_by_label("How many sheets").get_attribute("aria-invalid") == "true"
    assert page.title().startswith("Error:")
    assert not serious_violations(page), describe(serious_violations(page))

    page.get_by_label("Language of the sheets").select_option("fa")
    page.get_by_label("Paper size").select_option("letter")
    page.get_by_label("How many sheets").fill("3")
    with page.expect_download() as info:
        page.get_by_role("button", name="Make the sheets (PDF)").click()
    download = info.value
    assert download.suggested_filename == f"{SLUG}-sheets-1-3-fa-letter.pdf"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    pdfinfo = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    assert re.search(r"Pages:\s+3\b", pdfinfo.stdout)
    assert "612 x 792 pts (letter)" in pdfinfo.stdout
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    pages = text.split("\f")[:-1]
    for number, sheet in enumerate(pages, 1):
        codes = set(re.findall(r"\b\d+-[2-9A-HJKMNP-Z]{6}\b", sheet))
        assert {sheet_codes.parse(SLUG, code) for code in codes} == {number}

    # The page lists the run (the download left the page as it was: open it again).
    page.goto(f"{server.url}/admin/{SLUG}/sheets")
    assert "3 sheets printed so far." in page.locator("main").inner_text()
    assert "1 to 3" in page.locator("table.print-runs").inner_text()
