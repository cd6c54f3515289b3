"""Retake docs/screens.md's pictures from the code as it is (not part of the suite: the
file name is not test_*.py). Run it on purpose:

    .venv/bin/python -m pytest -q tests/browser/take_screens.py

It writes docs/screens/*.png and docs/screenshot.png with Debian's Chromium at the sizes
the issues judge (390×844 phone, 1280×720 laptop, 1280×900 desktop), seven confirmed test
signers, and renders the delivery pack's pages with poppler's pdftoppm. The browser tests
measure what these pictures show; this only photographs it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

from PIL import Image

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.admins import accounts
from campaign.services.exports import delivery
from campaign.services.intake import links
from campaign.services.log import tlog_pending
from tests.admin.helpers import campaign_content, campaign_row
from tests.browser.petition.test_embed_browser import (  # noqa: F401 (a fixture)
    partner_page_with_snippet,
    partner_site,
    wait_for_fit,
)
from tests.browser.petition.test_signer_best_browser import pending_token
from tests.browser.screens import confirmed_signers
from tests.helpers import ROOT, SLUG

OUT = ROOT / "docs" / "screens"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 720}
DESKTOP = {"width": 1280, "height": 900}
PASSWORD = "a long screens password"


def shoot(page, name: str, **options) -> None:
    page.wait_for_timeout(300)  # fonts and the last layout
    page.screenshot(path=str(OUT / f"{name}.png"), **options)


def pdf_page(pdf: bytes, page: int, name: str, tmp_path: Path) -> None:
    source = tmp_path / f"{name}.pdf"
    source.write_bytes(pdf)
    args = ["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run([*args, str(source), str(OUT / name)], check=True)


def test_take_the_screens(app, live_server, new_context, partner_site, tmp_path):  # noqa: F811
    OUT.mkdir(parents=True, exist_ok=True)
    app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
    signers = confirmed_signers(app, 7, public=True)
    for n, signer in enumerate(signers):
        row = db.session.get(Signature, signer.id)
        row.delivery_consent = n < 4
        row.contact_consent = True  # the updates preview counts who would get a mail
        row.language = ("en", "en", "en", "fa", "fa", "fr", "en")[n]
    db.session.commit()
    server = live_server(
        COUNT_CACHE_SECONDS=0,
        TLOG_ORIGIN="petition.test",
        EMBED_ALLOWED_ORIGINS=partner_site.origin,
    )

    # The signer: first screens, the confirm page, the thank-you page, Persian.
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    shoot(page, "phone-first-screen")
    page.goto(f"{server.url}/en/{SLUG}/confirm/{pending_token(app, 'screens@example.org')}")
    shoot(page, "phone-confirm")
    page.goto(f"{server.url}/fa/{SLUG}/")
    shoot(page, "persian-phone")
    page = new_context(viewport=LAPTOP).new_page()
    page.goto(f"{server.url}/en/{SLUG}/")
    shoot(page, "laptop-form")
    shutil.copy(OUT / "laptop-form.png", ROOT / "docs" / "screenshot.png")
    page.goto(f"{server.url}/fa/{SLUG}/")
    shoot(page, "persian-laptop")
    [newcomer] = confirmed_signers(app, 1, start=7)
    page = new_context(viewport=DESKTOP).new_page()
    page.goto(f"{server.url}/en/{SLUG}/confirm/{links.make_token(newcomer, 'confirm')}")
    shoot(page, "thank-you", full_page=True)

    # The sharer: the embed after signing, on a partner's phone page; a printed flyer.
    page = new_context(viewport=PHONE).new_page()
    page.goto(partner_page_with_snippet(page, server, partner_site, filler_px=120))
    frame = page.frame_locator("iframe")
    frame.locator(".embed-ask").wait_for()
    wait_for_fit(page)
    frame.get_by_label("Full name", exact=True).fill("Parisa Karimi")
    frame.get_by_label("Email", exact=True).fill("parisa.screens@example.org")
    frame.get_by_label("Country", exact=True).select_option("FR")
    frame.get_by_role("button", name="Sign the petition").click()
    frame.get_by_role("heading", name="Check your inbox").wait_for()
    page.wait_for_timeout(800)  # the resize and bring-into-view messages
    shoot(page, "embed-after-signing")
    page = new_context(viewport=DESKTOP).new_page()
    page.goto(f"{server.url}/{SLUG}/flyer?source=rally-berlin")
    page.emulate_media(media="print")
    pdf_page(page.pdf(format="A4", print_background=True), 1, "flyer-printed", tmp_path)

    # The organizer: the dashboard (laptop and phone), the updates preview.
    accounts.create("owner@screens.test", PASSWORD, "owner")
    for viewport, name in ((DESKTOP, "dashboard"), (PHONE, "dashboard-phone")):
        page = new_context(viewport=viewport).new_page()
        page.goto(f"{server.url}/admin/login")
        page.get_by_label("Email address").fill("owner@screens.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/admin/")
        page.goto(f"{server.url}/admin/{SLUG}/")
        shoot(page, name)
    page.set_viewport_size(DESKTOP)
    page.goto(f"{server.url}/admin/{SLUG}/updates")
    page.locator("#title_en").fill("The UN heard us")
    page.locator("#body_en").fill("Our petition was received on 10 December.")
    page.locator("#title_fa").fill("سازمان ملل صدای ما را شنید")
    page.locator("#body_fa").fill("طومار ما دریافت شد.")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    page.evaluate(
        "document.querySelector('#audience').scrollIntoView({block: 'start'});"
        "window.scrollBy(0, -120)"
    )
    shoot(page, "updates-preview")

    # The delivery pack: its covering letter, and a page of the named signers.
    tlog_pending.backfill(campaign_row().id)
    made = delivery.build(campaign_content(), campaign_row(), fmt="pdf", via="screens")
    pdf_page(made.body, 1, "pack-cover", tmp_path)
    pages = subprocess.run(
        ["pdfinfo", "-"], input=made.body, capture_output=True, check=True
    ).stdout.decode()
    last = int(next(line for line in pages.splitlines() if line.startswith("Pages:")).split()[1])
    pdf_page(made.body, last, "pack-names", tmp_path)
    for name in ("pack-cover", "pack-names", "flyer-printed"):
        with Image.open(OUT / f"{name}.png") as image:
            assert image.width > 500, name
    with Image.open(io.BytesIO((OUT / "dashboard-phone.png").read_bytes())) as image:
        assert image.size == (PHONE["width"], PHONE["height"])
