"""Share links, QR codes and the generated share image (services/pages/sharing.py)."""

import io
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image

from campaign.services.pages import sharing
from tests.helpers import ROOT


def test_every_share_link_carries_its_channel_and_ref():
    links = sharing.share_links("https://p.example/fa/slug/", "I signed", "Title", ref="abc123")
    assert [link.channel for link in links] == list(sharing.CHANNELS)
    for link in links:
        decoded = unquote(link.href)
        assert f"https://p.example/fa/slug/?source={link.channel}&ref=abc123" in decoded, decoded
    assert links[-1].href.startswith("mailto:?subject=Title")


def test_share_links_are_plain_https_or_mailto():
    for link in sharing.share_links("https://p.example/s/", "t", "T"):
        scheme = urlsplit(link.href).scheme
        assert scheme in {"https", "mailto"}


@pytest.mark.parametrize(
    "source,ok",
    [
        ("x", True),
        ("rally-berlin-2026", True),
        ("flyer/a4", True),
        ("", False),
        ("<script>", False),
        ("a" * 65, False),
        ("-start", False),
    ],
)
def test_source_codes(source, ok):
    assert sharing.valid_source(source) is ok


def test_with_params_replaces_and_skips_none():
    url = sharing.with_params("https://p.example/s/?source=a&x=1", source="b", ref=None)
    assert parse_qs(urlsplit(url).query) == {"source": ["b"], "x": ["1"]}


def test_count_bucket():
    assert [sharing.count_bucket(n) for n in (0, 7, 99, 100, 1234, 98765)] == [
        0,
        7,
        99,
        100,
        1200,
        98000,
    ]


def test_qr_svg_is_an_svg_without_inline_style():
    svg = sharing.qr_svg("https://p.example/s/?source=qr", title="Sign <now>").decode()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert "style=" not in svg
    assert "<title>Sign &lt;now&gt;</title>" in svg


@pytest.mark.parametrize(
    "language,title",
    [
        ("en", "UN: open an inquiry into the 1988 massacre of political prisoners in Iran"),
        ("fa", "سازمان ملل: تحقیق دربارهٔ قتل‌عام زندانیان سیاسی در ایران در سال ۱۹۸۸"),
    ],
)
def test_share_image_is_1200_by_630_png(language, title):
    data = sharing.render_share_image(
        sharing.ImageText(title, "1,200+ signatures", "petition.test", language)
    )
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (1200, 630)


def test_persian_shaping_is_available_or_documented():
    # With libraqm, Persian titles are shaped; without it the English title is used.
    from PIL import features

    assert sharing.can_shape_arabic() == (
        bool(features.check("raqm")) and sharing.find_font(sharing.ARABIC_FONTS) is not None
    )


def test_image_cache_renders_once(tmp_path, monkeypatch):
    cache = sharing.ImageCache(tmp_path)
    text = sharing.ImageText("Title", "5 signatures", "p.test", "en")
    key = cache.key("slug", "en", 5, text)
    first = cache.get_or_render(key, text)
    assert (tmp_path / f"{key}.png").read_bytes() == first
    monkeypatch.setattr(sharing, "render_share_image", lambda _t: pytest.fail("re-rendered"))
    assert cache.get_or_render(key, text) == first
    assert sharing.ImageCache(tmp_path).get_or_render(key, text) == first  # from disk


def test_the_card_draws_with_the_fonts_the_project_ships():
    """Issue 24 §15: the card used whatever Noto and DejaVu the system had, so a fresh
    server drew it differently (or with Pillow's bitmap font)."""
    fonts = ROOT / "static" / "fonts"
    for names in (sharing.LATIN_FONTS, sharing.ARABIC_FONTS, sharing.MIXED_FONTS):
        found = sharing.find_font(names)
        assert found is not None and found.parent == fonts and found.is_file(), names
    assert (fonts / "Noto-OFL.txt").is_file() and (fonts / "Vazirmatn-OFL.txt").is_file()
