"""How the delivery pack lays out its list of named signers, and its cover's date.

A readable table costs WeasyPrint about a millisecond per line of text (it lays out and
draws each line with Pango), so one name per row made the 100,000-name pack minutes
long. Here each printed line holds up to three numbered names, in tab-aligned columns
(`tab-size` in static/css/delivery.css): one text line per three names, a paragraph per
ROWS_PER_PARAGRAPH lines. A name too wide for one column takes two or three, measured
with the same font files the PDF draws with (static/fonts), so no name is ever cut.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from functools import cache
from math import ceil
from pathlib import Path

from babel.dates import format_date
from PIL import ImageFont

from ...i18n import PERSIAN_DIGITS, text_direction
from ..log import tlog_keys
from ..pages.content import CampaignContent

FONT_DIR = Path(__file__).resolve().parents[3] / "static" / "fonts"
NAME_PT = 9.5  # the names' size (delivery.css `.name-rows`): at least 9 pt
COLUMNS = 3
LINE_MM = 178.0  # A4's 210 mm less the 16 mm margins (delivery.css @page)
COLUMN_MM = 59.0  # delivery.css `tab-size` of `.name-rows`
GAP_MM = 3.0  # kept free at a column's end
ROWS_PER_PARAGRAPH = 12  # lines per paragraph: pages break between (and inside) them
PT_TO_MM = 25.4 / 72
FIGURE_SPACE = "\u2007"  # as wide as a digit: numbers line up
ARABIC_SCRIPT = range(0x0600, 0x0900)


@cache
def _font(arabic: bool) -> ImageFont.FreeTypeFont:
    name = "NotoNaskhArabic-Regular.ttf" if arabic else "NotoSans-Regular.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size=1000)  # 1 unit = 1/1000 em


@cache
def _advance(ch: str, arabic: bool) -> float:
    return _font(arabic).getlength(ch)


def width_mm(text: str) -> float:
    """How wide `text` prints at NAME_PT: the sum of its characters' advances in the
    pack's own fonts (remembered per character: a string's layout costs 60 µs, 100,000
    of them seconds), with a margin for kerning and, in Arabic script, joining."""
    arabic = not text.isascii() and any(ord(ch) in ARABIC_SCRIPT for ch in text)
    units = sum(_advance(ch, arabic) for ch in text) * (1.1 if arabic else 1.02)
    return units / 1000 * NAME_PT * PT_TO_MM


def digits(text: str, language: str) -> str:
    return text.translate(PERSIAN_DIGITS) if language == "fa" else text


class NameRows:
    """Numbers the names of the whole list in order (1, 2, … across groups and parts)
    and packs them into tab-separated lines. One instance per list."""

    def __init__(self, language: str, total: int) -> None:
        self.language = language
        self.places = len(str(max(total, 1)))
        self.number = 0

    def cell(self, name: str) -> str:
        self.number += 1
        number = str(self.number).rjust(self.places, FIGURE_SPACE)
        # Whitespace folded: a tab or line break inside a name must not make a column.
        return f"{digits(number, self.language)}  {' '.join(name.split())}"

    def paragraphs(self, names: list[str]) -> Iterator[list[str]]:
        """Lines of up to COLUMNS cells (tab-separated), ROWS_PER_PARAGRAPH at a time."""
        lines: list[str] = []
        line: list[str] = []
        used = 0
        for name in names:
            cell = self.cell(name)
            span = min(COLUMNS, max(1, ceil((width_mm(cell) + GAP_MM) / COLUMN_MM)))
            if used + span > COLUMNS:
                lines.append("\t".join(line))
                line, used = [], 0
            line.append(cell)
            used += span
            # A tab moves to the next column stop past the text: a wide cell's span.
        if line:
            lines.append("\t".join(line))
        for start in range(0, len(lines), ROWS_PER_PARAGRAPH):
            yield lines[start : start + ROWS_PER_PARAGRAPH]


def name_rows(language: str, total: int) -> Callable[[list[str]], Iterator[list[str]]]:
    """For the templates: `name_rows(group.names)` gives the group's paragraphs of lines,
    numbered on from the previous group."""
    return NameRows(language, total).paragraphs


def long_date(moment: datetime, language: str) -> str:
    """The cover's date, as a letter writes it: "6 December 2026", "6 décembre 2026"."""
    locale = "en_GB" if language == "en" else language  # the day first, as the UN writes it
    return digits(format_date(moment, "long", locale=locale), language)


def isolate(text: str) -> str:
    """Left-to-right text (an ISO date) kept in order inside right-to-left Persian:
    without the isolates, 2026-11-29 reads 29-11-2026."""
    return f"\u2066{text}\u2069"


def daily_points(history: list[dict]) -> list[tuple[str, int]]:
    """Confirmed signatures per day, from the first day to the last, gaps as zero."""
    if not history:
        return []
    counts = {item["date"]: item["count"] for item in history}
    day, last = date.fromisoformat(history[0]["date"]), date.fromisoformat(history[-1]["date"])
    points = []
    while day <= last:
        points.append((day.isoformat(), counts.get(day.isoformat(), 0)))
        day += timedelta(days=1)
    return points


def cover_context(content: CampaignContent, language: str, moment: datetime) -> dict:
    """What the cover letter (templates/delivery/_cover.html) needs besides the numbers."""
    return {
        "campaign": content,
        "language": language,
        "text_direction": text_direction(language),
        "title": content.text(language).title,
        "cover": content.text(language),
        "cover_date": long_date(moment, language),
        "isolate": isolate,
    }


def verify_command(slug: str, log_url: str) -> str:
    """The command that checks the pack's checkpoint against the public log, with the
    log's key pinned (README "Verify the count"); printed whole, wrapped on paper."""
    log = log_url.rsplit("/", 1)[0]  # …/<slug>/log/checkpoint → …/<slug>/log
    return f"flask count verify {log} --key {tlog_keys.verifier_key(slug)}"
