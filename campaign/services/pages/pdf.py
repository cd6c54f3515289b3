"""HTML to PDF with WeasyPrint, reading local files only.

Kept apart from `delivery` because importing WeasyPrint loads Pango and fontconfig
(about 30 MB and seconds of start-up): only the process that makes a PDF pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from weasyprint import HTML
from weasyprint.urls import URLFetcher


class LocalFileFetcher(URLFetcher):
    """Fetches file: URLs under the given folders and refuses everything else, so no
    name, content file or stylesheet can make the server fetch a URL (SSRF)."""

    def __init__(self, roots: tuple[Path, ...]) -> None:
        super().__init__(allowed_protocols=("file",), allow_redirects=False)
        self.roots = tuple(root.resolve() for root in roots)

    def fetch(self, url: str, headers=None):
        path = Path(url.removeprefix("file://").split("?")[0]).resolve()
        if not url.startswith("file://") or not any(path.is_relative_to(r) for r in self.roots):
            raise ValueError(f"not a local file this document may read: {url[:80]!r}")
        return super().fetch(url, headers)


def html_to_pdf(html: str, base_dir: Path) -> bytes:
    """Render `html` (resolving relative URLs against `base_dir`) to PDF bytes."""
    # The stylesheet and the fonts it names (static/fonts, shipped with the project) are
    # all under `base_dir`: the document reads nothing else.
    fetcher = LocalFileFetcher((base_dir,))
    base_url = base_dir.resolve().as_uri() + "/"
    return HTML(string=html, base_url=base_url, url_fetcher=fetcher).write_pdf()


def concatenate(documents: Iterable[bytes]) -> bytes:
    """One PDF of the given PDFs' pages, in order; each is read as it comes."""
    writer = PdfWriter()
    for document in documents:
        writer.append(BytesIO(document))
    writer.compress_identical_objects()  # the fonts each part embedded, shared once
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def stamp(body: bytes, stamps: bytes) -> bytes:
    """One page per page of `stamps`: the first page of `body` under it. A document
    whose pages differ only in a few words (sheet numbers) is laid out once."""
    base = PdfReader(BytesIO(body)).pages[0]
    writer = PdfWriter()
    for overlay in PdfReader(BytesIO(stamps)).pages:
        page = writer.add_page(overlay)
        page.merge_page(base, over=False)
    writer.compress_identical_objects()
    out = BytesIO()
    writer.write(out)
    return out.getvalue()
