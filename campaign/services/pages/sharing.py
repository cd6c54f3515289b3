"""Sharing: share links per channel, source codes, QR codes and the 1200×630 share image.

No HTTP here: callers pass the campaign's absolute URL. Share links are plain links
to each network's public share endpoint, so the page loads nothing from other sites.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import segno
from babel import Locale
from babel.numbers import format_decimal
from PIL import Image, ImageDraw, ImageFont, features

from ...i18n import PERSIAN_DIGITS

log = logging.getLogger(__name__)

IMAGE_SIZE = (1200, 630)
# Source codes are short, readable labels (e.g. "x", "flyer", "rally-berlin-2026").
SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
# Open Graph wants language_TERRITORY.
OG_LOCALES = {"en": "en_US", "fa": "fa_IR", "fr": "fr_FR"}
RTL = {"fa", "ar", "he", "ur"}


REF_PATTERN = re.compile(r"^[A-Za-z0-9_-]{4,32}$")


def valid_ref(ref: str | None) -> bool:
    """A referral code as `signing` makes them (URL-safe base64)."""
    return bool(ref) and REF_PATTERN.fullmatch(ref) is not None


def valid_source(source: str | None) -> bool:
    return bool(source) and SOURCE_PATTERN.fullmatch(source) is not None


def with_params(url: str, **params: str | None) -> str:
    """`url` with query parameters added or replaced (None values are left out)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k: v for k, v in params.items() if v})
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass(frozen=True)
class ShareLink:
    channel: str  # also the ?source= code the link carries
    label: str  # the network's name (not translated: brand names)
    href: str


CHANNELS = ("x", "facebook", "whatsapp", "telegram", "email")


def share_links(
    page_url: str, text: str, title: str, ref: str | None = None, email_label: str = "Email"
) -> list[ShareLink]:
    """One plain link per channel; each shared URL carries ?source=<channel> (and ?ref=)."""

    def url_for(channel: str) -> str:
        return with_params(page_url, source=channel, ref=ref)

    def q(value: str) -> str:
        return quote(value, safe="")

    return [
        ShareLink("x", "X", f"https://x.com/intent/post?text={q(text)}&url={q(url_for('x'))}"),
        ShareLink(
            "facebook",
            "Facebook",
            f"https://www.facebook.com/sharer/sharer.php?u={q(url_for('facebook'))}",
        ),
        ShareLink(
            "whatsapp", "WhatsApp", f"https://wa.me/?text={q(text + ' ' + url_for('whatsapp'))}"
        ),
        ShareLink(
            "telegram",
            "Telegram",
            f"https://t.me/share/url?url={q(url_for('telegram'))}&text={q(text)}",
        ),
        ShareLink(
            "email",
            email_label,
            f"mailto:?subject={q(title)}&body={q(text + chr(10) + chr(10) + url_for('email'))}",
        ),
    ]


# --- QR codes -------------------------------------------------------------------


def qr_svg(url: str, title: str | None = None) -> bytes:
    """An SVG QR code for `url`, scalable, dark on white, with a quiet zone."""
    code = segno.make(url, error="m", micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=8,
        border=4,
        dark="#000",
        light="#fff",
        xmldecl=True,
        svgns=True,
        title=title,
        svgclass=None,
        lineclass=None,
    )
    return out.getvalue()


def qr_png(url: str) -> bytes:
    """The same QR code as a PNG (for tools that take no SVG): 10 px a module."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=10, border=4)
    return out.getvalue()


# --- the share image ----------------------------------------------------------------

# The card draws with the fonts the project ships (static/fonts, README there), never the
# system's, so every server draws the same card: Noto Sans Bold for Latin lines, and
# Vazirmatn Bold (the pages' Persian font, which has Latin letters too, so a line mixing
# Persian with a URL needs no fallback Pillow lacks) for Persian.
FONT_DIR = Path(__file__).resolve().parents[3] / "static" / "fonts"
LATIN_FONTS = ("NotoSans-Bold.ttf",)
ARABIC_FONTS = ("Vazirmatn-Bold.woff2",)
MIXED_FONTS = ("Vazirmatn-Bold.woff2",)


def find_font(names: tuple[str, ...]) -> Path | None:
    """The first of `names` shipped in static/fonts."""
    return next((FONT_DIR / name for name in names if (FONT_DIR / name).is_file()), None)


def can_shape_arabic() -> bool:
    """Persian needs contextual shaping and bidi, which Pillow only does with libraqm."""
    return bool(features.check("raqm")) and find_font(ARABIC_FONTS) is not None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, remembered until the file changes."""
    return _image_size(str(path), path.stat().st_mtime_ns)


@cache
def _image_size(path: str, mtime: int) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def count_bucket(count: int) -> int:
    """The count rounded down to two significant digits, so the image changes rarely."""
    if count < 100:
        return count
    step = 10 ** (len(str(count)) - 2)
    return count - count % step


def localized_number(value: int, language: str) -> str:
    """The count for the share image: Persian digits on a Persian card.

    Babel's "arabext" numbering system still gives Latin digits for fa, so the
    digits are mapped as the pages map them (i18n.PERSIAN_DIGITS)."""
    try:
        formatted = format_decimal(value, locale=Locale.parse(language))
    except (ValueError, TypeError):
        return format_decimal(value, locale="en")
    return formatted.translate(PERSIAN_DIGITS) if language == "fa" else formatted


@dataclass(frozen=True)
class ImageText:
    """What goes on the image, already translated by the caller."""

    title: str
    count_line: str  # e.g. "1,200+ signatures"
    site: str  # the short URL, e.g. "petition.example.org"
    language: str


def _load_font(path: Path | None, size: int, *, raqm: bool):
    if path is None:
        return ImageFont.load_default(size=size)
    engine = ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC
    return ImageFont.truetype(str(path), size=size, layout_engine=engine)


def covers(font, text: str) -> bool:
    """Whether `font` has a glyph for every character of `text` (not the .notdef box)."""
    missing = list(font.getmask("\U0010fffd"))
    return all(ch.isspace() or list(font.getmask(ch)) != missing for ch in set(text))


def _font_for(text: str, size: int, paths: tuple[Path | None, ...], raqm: bool):
    """The first font among `paths` that can draw all of `text`, else the last one."""
    font = None
    for path in paths:
        font = _load_font(path, size, raqm=raqm)
        if path is None or covers(font, text):
            return font
    return font


def _wrap(draw, text: str, font, width: int, direction: str | None) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if not line or draw.textlength(candidate, font=font, direction=direction) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def render_share_image(text: ImageText) -> bytes:
    """A 1200×630 PNG: the title, wrapped to fit, and the count. Right-aligned in RTL.

    Persian is drawn with libraqm (shaping and bidi). Without raqm, Pillow would
    draw Persian letters unjoined and left to right, so the caller passes the
    English title instead (see `can_shape_arabic`).
    """
    width, height = IMAGE_SIZE
    margin = 72
    rtl = text.language in RTL and can_shape_arabic()
    direction = "rtl" if rtl else None
    fonts = (find_font(ARABIC_FONTS), find_font(MIXED_FONTS)) if rtl else (find_font(LATIN_FONTS),)
    image = Image.new("RGB", IMAGE_SIZE, "#fdfcfa")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 18), fill="#8a1c1c")
    draw.rectangle((0, height - 120, width, height), fill="#1b1b1b")

    def put(xy_start: int, y: int, line: str, font, fill: str, align_end: bool) -> None:
        length = draw.textlength(line, font=font, direction=direction)
        x = width - xy_start - length if align_end else xy_start
        draw.text((x, y), line, font=font, fill=fill, direction=direction)

    # Shrink the title until it fits in five lines.
    for size in (68, 60, 54, 48, 42, 36):
        font = _font_for(text.title, size, fonts, rtl)
        lines = _wrap(draw, text.title, font, width - 2 * margin, direction)
        if len(lines) <= 5:
            break
    y = 64
    line_height = int(size * (1.45 if rtl else 1.22))
    for line in lines[:5]:
        put(margin, y, line, font, "#1b1b1b", rtl)
        y += line_height

    count_font = _font_for(text.count_line, 44, fonts, rtl)
    site_font = _load_font(find_font(LATIN_FONTS), 30, raqm=False)
    bar_y = height - 120 + 26
    put(margin, bar_y, text.count_line, count_font, "#fff", rtl)
    site_length = draw.textlength(text.site, font=site_font)
    site_x = margin if rtl else width - margin - site_length
    draw.text((site_x, bar_y + 12), text.site, font=site_font, fill="#d6d2cb")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class ImageCache:
    """Generated images in memory (a few) and on disk under `instance/share-images/`.

    Keyed by slug, language, count bucket and a digest of the text, so a new title
    or a new bucket makes a new image, and old files are simply never read again.
    """

    MEMORY_ITEMS = 32

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._memory: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(slug: str, language: str, bucket: int, text: ImageText) -> str:
        digest = hashlib.sha256(repr(text).encode()).hexdigest()[:12]
        safe_slug = re.sub(r"[^A-Za-z0-9_-]", "_", slug)
        return f"{safe_slug}-{language}-{bucket}-{digest}"

    def get_or_render(self, key: str, text: ImageText) -> bytes:
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key]
        path = self.folder / f"{key}.png"
        try:
            data = path.read_bytes()
        except OSError:
            data = render_share_image(text)
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)  # atomic: another worker never reads half a file
            except OSError as exc:  # a read-only disk still serves the image
                log.warning("could not cache share image %s: %s", path, exc)
        with self._lock:
            self._memory[key] = data
            while len(self._memory) > self.MEMORY_ITEMS:
                self._memory.popitem(last=False)
        return data
