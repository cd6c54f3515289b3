"""The delivery pack as a document (issue 24 §15): a covering letter on the first page in
each language, the checkpoint and its verify command whole inside the margins, named
signers at 9 pt or more in numbered columns that never cut a name, no heading alone at
a page's foot, plurals that agree, and the fonts the project ships."""

from __future__ import annotations

import re
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from flask_babel import force_locale
from pypdf import PdfReader

from campaign.extensions import db
from campaign.services.exports import delivery, pack_layout
from campaign.services.log import tlog_keys, tlog_pending, tlog_store
from tests.admin.exports.test_delivery_pack import CONSENTING, pdf_text, signers, squash, words
from tests.admin.helpers import campaign_content, campaign_row, make_signature
from tests.helpers import SLUG

A4_WIDTH_PT = 595.28
MARGIN_PT = 16 / 25.4 * 72  # delivery.css @page: 16 mm left and right


def page_text(pdf: bytes, tmp_path: Path, first: int, last: int | None = None) -> str:
    path = tmp_path / "part.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", "-enc", "UTF-8", "-f", str(first), "-l", str(last or first)]
    return subprocess.run(
        [*args, str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def pack(language: str = "en"):
    tlog_pending.backfill(campaign_row().id)
    return delivery.build(
        campaign_content(), campaign_row(), language=language, fmt="pdf", via="test"
    )


@pytest.mark.parametrize("language", ["en", "fr", "fa"])
def test_the_first_page_is_a_covering_letter(app, tmp_path, language):
    """Before: the first page held a title and the count, and was mostly empty."""
    signers()
    made = pack(language)
    cover = page_text(made.body, tmp_path, 1)
    text = campaign_content().text(language)
    date = pack_layout.long_date(made.numbers.counted_at, language)
    if language == "fa":
        # pdftotext orders right-to-left runs visually between punctuation: words, then.
        found = words(pdf_text(made.body, tmp_path).split("\f")[0])
        for part in (text.addressee, text.ask, text.organizer_name, date):
            assert words(part) <= found, (part, words(part) - found)
        assert "۷" in cover and "UTC" in cover
        assert "گیرنده" in cover and "تاریخ" in cover
    else:
        flat = squash(cover)
        for part in (text.addressee, text.ask, text.organizer_name, date):
            assert squash(part) in flat, part
        counted = {"en": "7 confirmed signatures", "fr": "7 signatures confirmées"}[language]
        assert squash(counted) in flat
        assert made.numbers.counted_at.strftime("%H:%M") in cover
    # The petition's text in the pack's language follows on the cover (page 1, or 2).
    last_line = text.petition_text.strip().splitlines()[-1]
    assert words(last_line) <= words("".join(pdf_text(made.body, tmp_path).split("\f")[:2]))


def test_the_checkpoint_and_its_command_are_whole_inside_the_margins(app, tmp_path):
    """Before: the checkpoint's signature line ran off the page's right edge."""
    signers()
    made = pack()
    note = tlog_store.latest_checkpoint(campaign_row().id).note
    signature_line = [line for line in note.splitlines() if line.startswith("—")][0]
    flat = squash(pdf_text(made.body, tmp_path))
    assert squash(signature_line) in flat
    command = f"flask count verify http://petition.test/{SLUG}/log --key "
    # pdftotext joins a line that ends in a hyphen and drops the hyphen: compare without.
    assert squash(command + tlog_keys.verifier_key(SLUG)).replace("-", "") in flat.replace("-", "")
    path = tmp_path / "pack.pdf"
    path.write_bytes(made.body)
    boxes = subprocess.run(
        ["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    right = [float(x) for x in re.findall(r'xMax="([\d.]+)"', boxes)]
    assert right and max(right) <= A4_WIDTH_PT - MARGIN_PT + 1, max(right)


def name_sizes(pdf: bytes, name: str) -> list[float]:
    """The printed size (points) of each run of text holding `name`."""
    sizes = []
    for page in PdfReader(BytesIO(pdf)).pages:

        def visit(text, cm, tm, font, size):
            if name in text:
                sizes.append(abs(size * tm[3] * cm[3]))

        page.extract_text(visitor_text=visit)
    return sizes


def test_named_signers_print_at_nine_points_or_more(app, tmp_path):
    signers()
    sizes = name_sizes(pack().body, CONSENTING)
    assert sizes and min(sizes) >= 9, sizes


def many(countries: int, each: int) -> list[delivery.NameGroup]:
    groups = []
    for c in range(countries):
        code = f"{chr(65 + c // 26)}{chr(65 + c % 26)}"
        names = [f"Person{c}x{n} Family" for n in range(each)]
        groups.append(delivery.NameGroup(code, f"Country {code}", names))
    return groups


def test_no_country_heading_stands_alone_at_a_pages_foot(app, tmp_path):
    """Offline list (issue 23), many short countries: pages break everywhere."""
    groups = many(60, 20)
    with force_locale("en"):
        body = delivery.write_pdf(
            campaign_content(), None, None, language="en", groups=iter(groups), listed=1200
        )
    pages = pdf_text(body, tmp_path).split("\f")
    assert len(pages) > 4
    for number, page in enumerate(pages[1:-1], start=2):
        lines = [line for line in page.splitlines() if line.strip()]
        assert not re.fullmatch(r"Country [A-Z]{2} \([A-Z]{2}\)", lines[-1]), (number, lines[-3:])
    every = squash("".join(pages))
    for group in groups:  # every name printed once, whole
        for name in group.names:
            assert every.count(squash(name)) == 1, name


def test_the_offline_list_has_its_cover_and_a_numbered_table(app, tmp_path):
    names = ["Azadeh Nouri", "Babak Nouri", "مهسا امینی"]
    groups = [
        delivery.NameGroup("DE", "Germany", names[:2]),
        delivery.NameGroup("IR", "Iran", names[2:]),
    ]
    with force_locale("fr"):
        body = delivery.write_pdf(
            campaign_content(), None, None, language="fr", groups=iter(groups), listed=3
        )
    cover = squash(page_text(body, tmp_path, 1))
    text = campaign_content().text("fr")
    assert squash(text.addressee) in cover and squash(text.ask) in cover
    assert squash("3 signataires nommés") in cover
    assert not re.search(r"\d\s*signatures?confirmées", cover)  # claims no total
    listing = pdf_text(body, tmp_path).split("\f", 1)[1]
    for number, name in enumerate(names[:2], start=1):  # numbered, in order
        assert re.search(rf"\b{number}\s+{name}", listing), listing
    assert words("مهسا امینی") <= words(listing)


def test_a_long_name_takes_two_columns_and_is_never_cut():
    rows = pack_layout.NameRows("en", 12)
    long_name = "Maria Fernanda de los Ángeles Rodríguez-Villanueva y Echeverría"
    lines = [line for p in rows.paragraphs(["Ali Ro", long_name, "Bo Li", "Cy Na"]) for line in p]
    cells = [cell for line in lines for cell in line.split("\t")]
    assert [c.split("  ", 1)[1] for c in cells] == ["Ali Ro", long_name, "Bo Li", "Cy Na"]
    assert lines[0].count("\t") == 1  # the long name's two columns fill the first line
    assert all(len(line.split("\t")) <= 3 for line in lines)
    assert rows.paragraphs([]) is not None and rows.number == 4  # numbering runs on


def test_one_signature_reads_one_signature_on_the_cover(app, tmp_path):
    """ "1 confirmed signatures": the cover's count had no plural."""
    make_signature(CONSENTING, "one@example.org", "DE").delivery_consent = True
    db.session.commit()
    english = page_text(pack("en").body, tmp_path, 1)
    assert re.search(r"\b1\s+confirmed signature\b(?!s)", english), english
    french = page_text(pack("fr").body, tmp_path, 1)
    assert re.search(r"\b1\s+signature confirmée\b(?!s)", french), french


def test_the_pack_draws_only_with_the_fonts_the_project_ships(app, tmp_path):
    signers()
    path = tmp_path / "pack.pdf"
    path.write_bytes(pack("fa").body)
    fonts = subprocess.run(
        ["pdffonts", str(path)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    families = {re.sub(r"^[A-Z]{6}\+", "", line.split()[0]) for line in fonts}
    ours = {
        f"Pack-{family}{style}"
        for family in ("Sans", "Naskh", "Mono")
        for style in ("", "-Bold", "-Oblique", "-BoldOblique")
    }
    assert families and families <= ours, families  # no system font slipped in
    css = (Path(app.static_folder) / "css" / "delivery.css").read_text()
    assert "local(" not in css and "/usr/share/fonts" not in css
    for font in re.findall(r'url\("\.\./fonts/([^"]+)"\)', css):
        assert (Path(app.static_folder) / "fonts" / font).is_file(), font
    assert (Path(app.static_folder) / "fonts" / "Noto-OFL.txt").is_file()
