"""Printable sign-up sheets (issue 26): one HTML document, one page per sheet, made
into a PDF by WeasyPrint (services/pages/pdf.py, imported only here, when a PDF is made).

Each page carries the petition's short form (the addressee and the ask) with a QR code
to the whole text, rows for a full name, a country, an optional email and a signature,
one empty box per row for each consent the registry offers on paper (its wording in
the key above the rows), a short privacy notice, and the sheet's number and check code
(sheet_codes), large, at its top and its foot. Persian sheets run right to left with
Persian digits; the code itself keeps Latin digits and letters, as it is typed.
Everything shown comes from content files, the consent registry or the catalogs, and is
escaped by Jinja; the QR code's SVG is segno's, of a URL this module builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup

from ...i18n import number, text_direction
from ..intake import links
from ..pages import sharing
from ..pages.content import CampaignContent
from ..signer_data import consents
from .print_runs import Allocation
from .sheet_codes import sheet_code

# Rows per sheet: each leaves 12.5 mm (A4) or 11.5 mm (Letter) to write in by hand.
ROWS = {"a4": 12, "letter": 12}
# CSS page sizes (WeasyPrint): the paper the organizer chose, portrait.
PAGE_SIZES = {"a4": "A4", "letter": "letter"}
QR_SOURCE = "sheet"  # the ?source= of the sheet's QR code (the dashboard's sources)


@dataclass(frozen=True)
class PaperConsent:
    """A box on the sheet: its number in the key, and the registry's wording."""

    key: str
    number: str  # in the sheet's digits
    label: str


@dataclass(frozen=True)
class Sheet:
    number: int
    number_text: str  # in the sheet's digits ("۴۲" on a Persian sheet)
    code: str  # "42-7KQ3XM": Latin, as typed on the entry screen


def paper_consents(language: str) -> list[PaperConsent]:
    """The registry's consents a paper sheet offers, with their wording in `language`."""
    wordings = consents.wordings(language)
    offered = [c for c in consents.all_consents() if c.on_paper]
    with force_locale(language):
        return [PaperConsent(c.key, number(n), wordings[c.key]) for n, c in enumerate(offered, 1)]


def qr_code(slug: str, language: str) -> Markup:
    """The QR code to the whole petition, inline SVG (segno's, of our own URL)."""
    url = sharing.with_params(
        links.external_url("petition.campaign_page", language, slug=slug), source=QR_SOURCE
    )
    svg = sharing.qr_svg(url).decode("utf-8")
    svg = svg[svg.index("<svg") :]  # without the XML declaration, to sit inside HTML
    return Markup(svg)  # noqa: S704  # nosec B704 - segno's SVG of a URL we built


def short_url(slug: str, language: str) -> str:
    """The petition's address to type, short: host/lang/slug."""
    base = urlsplit(current_app.config["BASE_URL"])
    return f"{base.netloc}{base.path.rstrip('/')}/{language}/{slug}"


def privacy_url() -> str:
    base = urlsplit(current_app.config["BASE_URL"])
    return f"{base.netloc}{base.path.rstrip('/')}/privacy"


def render_html(
    content: CampaignContent, allocation: Allocation, *, stylesheet: str, numbers: bool
) -> str:
    """The run's sheet, in its language, as HTML: the sheet without its number (laid out
    once), or (`numbers`) a page per sheet with only its number and code, to lay over it."""
    language, paper = allocation.language, allocation.paper_size
    text = content.text(language)
    organizer = content.in_language(language)
    with force_locale(language):
        sheets = (
            [Sheet(n, number(n), sheet_code(content.slug, n)) for n in allocation.numbers]
            if numbers
            else []
        )
        rows = [number(n) for n in range(1, ROWS[paper] + 1)]
        return render_template(
            "paper/sheet.html",
            language=language,
            text_direction=text_direction(language),
            page_size=PAGE_SIZES[paper],
            paper=paper,
            title=text.title,
            addressee=text.addressee,
            ask=text.ask,
            qr=qr_code(content.slug, language),
            petition_url=short_url(content.slug, language),
            privacy_url=privacy_url(),
            organizer_name=organizer.organizer_name,
            organizer_contact=organizer.organizer_contact,
            boxes=paper_consents(language),
            rows=rows,
            sheets=sheets,
            stylesheet=stylesheet,
        )


def stylesheet_path() -> Path:
    return Path(current_app.static_folder) / "css" / "sheet.css"


def write_pdf(content: CampaignContent, allocation: Allocation) -> bytes:
    """The print run's sheets as one PDF, a page a sheet. The sheet is laid out once and
    each sheet's number laid over a copy of it: WeasyPrint takes about a second to lay
    out a whole sheet, and a fraction of that for a page holding only a number."""
    # Imported here, not at the top: WeasyPrint loads Pango and fonts (~30 MB, seconds),
    # which no web worker should pay for until someone prints sheets. (No import cycle.)
    from ..pages import pdf

    base = Path(current_app.static_folder)
    stylesheet = stylesheet_path().resolve().as_uri()
    sheet, numbers = (
        pdf.html_to_pdf(
            render_html(content, allocation, stylesheet=stylesheet, numbers=numbered), base
        )
        for numbered in (False, True)
    )
    return pdf.stamp(sheet, numbers)


def filename(content: CampaignContent, allocation: Allocation) -> str:
    return (
        f"{content.slug}-sheets-{allocation.first}-{allocation.last}"
        f"-{allocation.language}-{allocation.paper_size}.pdf"
    )
