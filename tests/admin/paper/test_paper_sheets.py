"""Printable paper sheets (issue 26): the admin page makes a real PDF (WeasyPrint), read
back with poppler's pdftotext and pdfinfo, in each of the campaign's languages."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, PrintRun
from campaign.services.paper import print_runs, sheet_codes, sheets
from campaign.services.signer_data import consents
from tests.admin.exports.test_delivery_pack import pdf_text, squash, words
from tests.admin.helpers import campaign_content, campaign_row, token_for
from tests.helpers import SLUG

PAGE = f"/admin/{SLUG}/sheets"
# What each language's sheet must say, beside the campaign's own text and the registry's.
HEADERS = {
    "en": ("Full name", "Country", "Email (optional)", "Signature", "Box 1", "Box 2"),
    "fr": ("Prénom et nom", "Pays", "E-mail (facultatif)", "Signature", "Case 1", "Case 2"),
    "fa": ("نام و نام خانوادگی", "کشور", "ایمیل (اختیاری)", "امضا", "خانهٔ ۱", "خانهٔ ۲"),
}
PRIVACY = {
    "en": "If you give an email address, you get one email asking you to confirm your signature",
    "fr": "vous recevez un e-mail qui vous demande de confirmer votre signature",
    "fa": "یک ایمیل برای تأیید امضایتان دریافت می‌کنید",
}
WITHDRAW = {
    "en": "To withdraw, use the link in that email or write to contact@petition.invalid",
    "fr": "Pour retirer votre signature, utilisez le lien de cet e-mail ou écrivez à",
    "fa": "برای پس گرفتن امضا، از پیوند همان ایمیل استفاده کنید",
}
PAGE_SIZES = {"a4": "595.276 x 841.89 pts (A4)", "letter": "612 x 792 pts (letter)"}
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"


def make_sheets(client, **form):
    data = {"language": "en", "paper": "a4", "count": "2", **form}
    return client.post(PAGE, data={"csrf_token": token_for(client, PAGE), **data})


def pdfinfo(body: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(body)
    out = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)


def page_texts(body: bytes, tmp_path: Path) -> list[str]:
    """pdftotext's text, a page at a time (it ends each page with a form feed)."""
    return pdf_text(body, tmp_path).split("\f")[:-1]


def codes_in(text: str) -> list[str]:
    return re.findall(r"\b\d{1,7}-[2-9A-HJKMNP-Z]{6}\b", text)


@pytest.mark.parametrize(
    ("language", "paper"), [("en", "a4"), ("en", "letter"), ("fr", "a4"), ("fa", "letter")]
)
def test_a_sheet_in_each_language_reads_back_with_its_words_boxes_code_and_size(
    app, users, as_role, tmp_path, language, paper
):
    client = as_role("organizer")
    response = make_sheets(client, language=language, paper=paper, count="2")
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Sheet-Numbers"] == "1-2"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{SLUG}-sheets-1-2-{language}-{paper}.pdf"'
    body = response.get_data()
    info = pdfinfo(body, tmp_path)
    assert info["Page size"].strip() == PAGE_SIZES[paper]
    assert info["Pages"].strip() == "2"  # one sheet a page

    pages = page_texts(body, tmp_path)
    assert len(pages) == 2
    content = campaign_content()
    text = content.text(language)
    wordings = consents.wordings(language)
    on_paper = [c for c in consents.all_consents() if c.on_paper]
    assert {c.key for c in on_paper} == {"contact", "delivery"}
    for number, page in enumerate(pages, 1):
        flat = squash(page)
        # The sheet's code, at its top and its foot, one this server's parse accepts.
        code = sheet_codes.sheet_code(SLUG, number)
        assert codes_in(page) == [code, code], page
        assert sheet_codes.parse(SLUG, code) == number
        for header in HEADERS[language]:
            assert squash(header) in flat, (language, header)
        assert squash(PRIVACY[language]) in flat and squash(WITHDRAW[language]) in flat
        # The ask, the addressee and the registry's wording of each box on paper, in the
        # sheet's language. Persian: pdftotext gives each right-to-left run in reading
        # order but orders the runs between digits and brackets visually, so every word,
        # and the longest phrase without them.
        shown = [text.ask, text.addressee, *(wordings[c.key] for c in on_paper)]
        for wording in shown:
            if language == "fa":
                assert words(wording) <= words(page), (wording, words(wording) - words(page))
            else:
                assert squash(wording) in flat, (language, wording)
        if language == "fa":
            assert squash(wordings["delivery"]) in flat  # no digits or brackets in it
        for consent in consents.all_consents():
            if not consent.on_paper:
                assert squash(wordings[consent.key]) not in flat, consent.key
        assert "petition.test/privacy" in page
        assert f"petition.test/{language}/{SLUG}" in flat  # the whole text, with the QR
        if language == "fa":
            assert squash(f"برگهٔ {PERSIAN_DIGITS[number]}") in flat  # "Sheet ۱"
            for row in ("۱", "۹", "۱۰", "۱۲"):  # the rows, in Persian digits
                assert re.search(rf"(?<![۰-۹]){row}(?![۰-۹])", page), row
            assert not re.search(r"(?<![\d-])1[0-2]?(?![\d-])", page.replace(code, ""))
        else:
            assert re.search(r"(?m)^12$", page)  # twelve rows, on A4 and on Letter
            assert f"Sheet {number}" in page or f"Feuille {number}" in page


def test_the_code_and_the_text_never_overlap(app, users, as_role, tmp_path):
    """The code is laid over a sheet laid out once: its boxes are left empty there, and
    the privacy notice ends above the code at the foot, on both paper sizes."""
    client = as_role("organizer")
    for paper, language in (("a4", "fr"), ("letter", "fa")):
        body = make_sheets(client, language=language, paper=paper, count="1").get_data()
        path = tmp_path / f"{paper}.pdf"
        path.write_bytes(body)
        html = subprocess.run(
            ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
        ).stdout
        words = [
            (float(y0), float(y1), float(x0), float(x1), word)
            for x0, y0, x1, y1, word in re.findall(
                r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', html
            )
        ]
        codes = sorted((w for w in words if codes_in(w[4])), key=lambda w: w[0])
        assert len(codes) == 2, codes
        top, foot = codes
        others = [w for w in words if not codes_in(w[4]) and w[0] > top[1] + 1]
        lowest = max(w[1] for w in others if w[0] < foot[0] - 5)
        assert lowest < foot[0], (paper, lowest, foot)
        # Nothing else shares the code boxes' area.
        for y0, y1, x0, x1, word in words:
            for box in (top, foot):
                label = word in ("Sheet", "Feuille", "برگهٔ", "ٔهگرب") or word.isdigit()
                if codes_in(word) or label:  # the box's own words: "Sheet 1", the code
                    continue
                inside = y0 < box[1] and y1 > box[0] and x0 < box[3] and x1 > box[2]
                assert not inside, (paper, word, box)


def test_the_printed_qr_code_scans_to_the_petition(app, users, as_role, tmp_path):
    """The sheet's QR code, rasterized from the PDF (pdftoppm) and read by zbar."""
    body = make_sheets(as_role("organizer"), language="fa", count="1").get_data()
    (tmp_path / "sheet.pdf").write_bytes(body)
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", "sheet.pdf", "page"],
        cwd=tmp_path,
        check=True,
    )
    [image] = tmp_path.glob("page*.png")
    decoded = subprocess.run(
        ["zbarimg", "--raw", "-q", str(image)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert decoded == [f"http://petition.test/fa/{SLUG}/?source=sheet"], decoded


def test_two_print_runs_never_share_a_number(app, users, as_role, tmp_path):
    client = as_role("organizer")
    first = make_sheets(client, count="3")
    second = make_sheets(client, language="fr", paper="letter", count="2")
    assert first.headers["X-Sheet-Numbers"] == "1-3"
    assert second.headers["X-Sheet-Numbers"] == "4-5"
    one = {c for page in page_texts(first.get_data(), tmp_path) for c in codes_in(page)}
    two = {c for page in page_texts(second.get_data(), tmp_path) for c in codes_in(page)}
    assert {sheet_codes.parse(SLUG, c) for c in one} == {1, 2, 3}
    assert {sheet_codes.parse(SLUG, c) for c in two} == {4, 5}
    campaign_id = campaign_row().id
    assert print_runs.printed_sheet(campaign_id, 5).language == "fr"
    assert print_runs.printed_sheet(campaign_id, 5).paper_size == "letter"
    page = client.get(PAGE).get_data(as_text=True)
    assert "5 sheets printed so far." in page
    assert "4 to 5" in page and "1 to 3" in page


def test_a_print_run_is_audited_and_the_log_says_so_in_words(app, users, as_role):
    client = as_role("organizer")
    assert make_sheets(client, language="fa", paper="letter", count="3").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "paper.sheets_printed"))
    assert event.actor_email == users["organizer"].email
    assert event.target == "sheets 1-3" and event.campaign_id == campaign_row().id
    details = json.loads(event.details)
    assert (details["first"], details["last"], details["sheets"]) == (1, 3, 3)
    assert (details["language"], details["paper"]) == ("fa", "letter")
    log = as_role("owner").get("/admin/audit").get_data(as_text=True)
    assert "printed 3 paper sheets (numbers 1 to 3; Persian" in log or (
        "printed 3 paper sheets (numbers 1 to 3; فارسی, US Letter) for" in log
    ), re.findall(r"printed[^<]*", log)


def test_only_organizers_and_owners_print_sheets(app, users, as_role):
    viewer = as_role("viewer")
    assert viewer.get(PAGE).status_code == 403
    token = token_for(viewer, "/admin/account")
    refused = viewer.post(
        PAGE, data={"csrf_token": token, "language": "en", "paper": "a4", "count": "1"}
    )
    assert refused.status_code == 403
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    assert db.session.scalar(select(func.count(PrintRun.id))) == 0
    for role in ("organizer", "owner"):
        page = as_role(role).get(PAGE)
        assert page.status_code == 200 and 'id="sheets-button"' in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"count": "0"}, "Print from 1 to 200 sheets at a time."),
        ({"count": "-3"}, "Print from 1 to 200 sheets at a time."),
        ({"count": "201"}, "Print from 1 to 200 sheets at a time."),
        ({"count": "10000"}, "Print from 1 to 200 sheets at a time."),
        ({"count": "99999999999999999999999"}, "Print from 1 to 200 sheets at a time."),
        ({"count": "ten"}, "Not a valid integer value."),
        ({"count": ""}, "Please say how many sheets to print."),
        ({"language": "de"}, "Not a valid choice."),
        ({"language": "<script>"}, "Not a valid choice."),
        ({"paper": "a3"}, "Not a valid choice."),
    ],
)
def test_bad_input_gets_a_clear_422_and_prints_nothing(app, users, as_role, form, message):
    client = as_role("organizer")
    response = make_sheets(client, **form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "Please check the form." in page and message in page, page
    assert "<script>" not in page.split("<main", 1)[1].split("</main>")[0]
    assert db.session.scalar(select(func.count(PrintRun.id))) == 0
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "paper.sheets_printed")
        )
        == 0
    )


def test_an_unknown_campaign_is_404(app, users, as_role):
    assert as_role("organizer").get("/admin/no-such-campaign/sheets").status_code == 404


def test_everything_on_the_sheet_is_escaped(app, tmp_path):
    """Text from content files and the organizer's name lands in the sheet as text."""
    content = campaign_content()
    hostile = "<img src=x onerror=alert(1)> & <b>bold</b>"
    texts = dict(content.texts)
    texts["en"] = replace(texts["en"], ask=hostile, title=f"Title {hostile}", addressee=hostile)
    content = replace(content, texts=texts, organizer_name=f"Org {hostile}")
    allocation = print_runs.allocate(
        campaign_row(), count=1, language="en", paper_size="a4", languages=("en",)
    )
    html = sheets.render_html(content, allocation, stylesheet="x.css", numbers=False)
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    text = pdf_text(sheets.write_pdf(content, allocation), tmp_path)
    assert squash(hostile) in squash(text)  # shown as the text it is


def test_a_consent_the_registry_adds_on_paper_gets_its_box_and_wording(app):
    """The sheet reads the registry: a new consent marked on_paper is a new box, in the
    key with its wording, and one off paper is not."""
    allocation = print_runs.allocate(
        campaign_row(), count=1, language="en", paper_size="a4", languages=("en",)
    )
    extra = consents.Consent(
        key="partners",
        column="contact_consent",
        wording_column="contact_text",
        label="Tell our partner groups I signed (a test consent)",
        shares="Your name goes to partner groups.",
        audience=consents.ORGANIZERS,
        names_signer=True,
        on_paper=True,
        data_key="tell_partners",
    )
    with consents.registered(extra):
        html = sheets.render_html(campaign_content(), allocation, stylesheet="x", numbers=False)
    assert "Tell our partner groups I signed (a test consent)" in html
    assert html.count('class="box"') == 12 * 3 and "Box 3" in html
    hidden = replace(extra, key="hidden", label="A consent not offered on paper", on_paper=False)
    with consents.registered(hidden):
        html = sheets.render_html(campaign_content(), allocation, stylesheet="x", numbers=False)
    assert "A consent not offered on paper" not in html and html.count('class="box"') == 24
