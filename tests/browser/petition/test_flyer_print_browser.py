"""Real Chromium prints the flyer (issue 24, item 10): every flyer fits one A4 and one
Letter sheet, QR code included, and the printed link is short and typeable.

Chromium's own print-to-PDF (page.pdf) lays the page out with the print stylesheet,
as a reader's Print command does; pypdf counts the sheets and reads the text back.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from tests.helpers import SLUG

pytestmark = pytest.mark.browser

FLYERS = (
    f"/{SLUG}/flyer",
    f"/{SLUG}/flyer?ref=abcdEFGH1234",
    f"/{SLUG}/flyer?source=rally-berlin",
    f"/{SLUG}/flyer?source=rally-berlin&ref=abcdEFGH1234",
    f"/fa/{SLUG}/flyer?source=rally-berlin",
    f"/fr/{SLUG}/flyer?source=rally-berlin",
)


def printed(page, paper: str) -> PdfReader:
    page.emulate_media(media="print")
    return PdfReader(io.BytesIO(page.pdf(format=paper, print_background=True)))


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_every_flyer_prints_on_one_sheet_with_its_qr_code(live_server, new_context, paper):
    server = live_server()
    page = new_context().new_page()
    sheets = {}
    for path in FLYERS:
        assert page.goto(server.url + path).status == 200, path
        # The QR code is loaded (an <img>): it is printed, on the same sheet.
        assert page.evaluate("document.querySelector('.flyer-qr').naturalWidth") > 0, path
        sheets[path] = len(printed(page, paper).pages)
    assert sheets == {path: 1 for path in FLYERS}


def test_the_printed_link_is_short_and_the_tracking_is_in_the_qr_code_only(
    live_server, new_context
):
    server = live_server()
    page = new_context().new_page()
    page.goto(f"{server.url}/{SLUG}/flyer?source=rally-berlin&ref=abcdEFGH1234")
    link = page.locator(".flyer-url").inner_text().strip()
    host = server.url.split("://", 1)[1]
    assert link == f"{host}/{SLUG}"  # typeable: no ?source=, no ?ref=
    qr = page.locator(".flyer-qr").get_attribute("src")
    assert "source=rally-berlin" in qr and "ref=abcdEFGH1234" in qr
    text = "".join(printed(page, "A4").pages[0].extract_text().split())  # lines rejoined
    assert f"{host}/{SLUG}" in text and "rally-berlin" not in text and "?" not in text
