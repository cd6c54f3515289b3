"""Sharing: the share page, share image, QR code and printable flyer, the campaign's
public URLs, and the tags every public page carries (Open Graph, hreflang alternates).
The embeddable form is embed.py."""

from __future__ import annotations

import html
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from ..i18n import current_language, url_language
from ..services import counting, links, sharing, validation
from ..services.cache import SHARE_IMAGES, remember
from ..services.campaigns import campaign_ref
from ..services.content import CampaignContent, library
from . import bp
from .pages import counter_context, load_campaign


def campaign_url(slug: str, language: str | None = None, **params: str | None) -> str:
    """The campaign page's absolute URL (in `language`'s prefix, if given)."""
    return sharing.with_params(
        links.external_url("petition.campaign_page", language, slug=slug), **params
    )


def share_url_language() -> str | None:
    """Shared links keep the visitor's explicit language (its URL prefix), if any."""
    return url_language()


def short_url(slug: str) -> str:
    """The shortest address that reaches the campaign, for print: host/slug."""
    base = urlsplit(current_app.config["BASE_URL"])
    return f"{base.netloc}{base.path.rstrip('/')}/{slug}"


def source_param(default: str) -> str:
    """A ?source= code for QR codes and flyers; refuses anything but a short label."""
    source = request.args.get("source") or default
    if not sharing.valid_source(source):
        abort(400, _("A source code is up to 64 letters, digits, dots, dashes or slashes."))
    return source


def ref_param() -> str | None:
    """A signer's share code (?ref=) for their personal QR code and flyer, if well formed."""
    ref = request.args.get("ref") or None
    return ref if ref and sharing.valid_ref(ref) else None


def share_links_for(content: CampaignContent, ref: str | None = None) -> list[sharing.ShareLink]:
    language = current_language()
    text = content.text(language)
    return sharing.share_links(
        campaign_url(content.slug, share_url_language()),
        text.share_text,
        text.title,
        ref=ref,
        email_label=_("Email"),
    )


# --- the share image ------------------------------------------------------------------


def supplied_image(content: CampaignContent, language: str) -> Path | None:
    """The campaign's own image from content/: `share.fa.png` beside `share.png` wins."""
    if content.share_image is None:
        return None
    own = content.share_image
    localized = own.with_name(f"{own.stem}.{language}{own.suffix}")
    # Never follow a file (a symlink, say) out of the campaign's folder.
    if localized.is_file() and content.contains(localized):
        return localized
    return own if content.contains(own) else None


def share_image_size(content: CampaignContent, language: str) -> tuple[int, int]:
    path = supplied_image(content, language)
    if path is None:
        return sharing.IMAGE_SIZE
    try:
        return sharing.image_size(path)
    except OSError:
        return sharing.IMAGE_SIZE


def image_cache() -> sharing.ImageCache:
    folder = Path(current_app.instance_path) / "share-images"
    return remember(SHARE_IMAGES, folder, lambda: sharing.ImageCache(folder))


def image_text(content: CampaignContent, language: str, count: int) -> sharing.ImageText:
    bucket = sharing.count_bucket(count)
    title = content.text(language).title
    if language in sharing.RTL and not sharing.can_shape_arabic():
        # Without libraqm Pillow cannot join or order Persian letters: use English.
        title = content.text("en").title
        language = "en"
    number = sharing.localized_number(bucket, language)
    with force_locale(language):  # one language per image: no Latin digits in Persian words
        if bucket < count:
            line = ngettext("%(count)s+ signature", "%(count)s+ signatures", bucket, count=number)
        else:
            line = ngettext("%(count)s signature", "%(count)s signatures", bucket, count=number)
    return sharing.ImageText(
        title=title, count_line=line, site=short_url("").rstrip("/"), language=language
    )


def share_image_url(content: CampaignContent, count: int) -> str:
    """Absolute, and changing with the count bucket so card caches pick up new counts."""
    url = links.external_url("petition.share_image", url_language(), slug=content.slug)
    return sharing.with_params(url, v=str(sharing.count_bucket(count)))


@bp.get("/<slug>/share.png")
def share_image(slug: str):
    content = load_campaign(slug)
    language = current_language()
    own = supplied_image(content, language)
    if own is not None:
        response = send_file(own, max_age=3600)  # type from the name: .png, .jpg
    else:
        count = counting.confirmed_count(campaign_ref(content).id)
        text = image_text(content, language, count)
        key = sharing.ImageCache.key(slug, text.language, sharing.count_bucket(count), text)
        data = image_cache().get_or_render(key, text)
        response = Response(data, mimetype="image/png")
        response.headers["Cache-Control"] = "public, max-age=3600"
    # Card crawlers fetch images cross-origin; the image holds nothing private.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


# --- share page, QR code, flyer -------------------------------------------------------


# Tall enough for the whole form at a phone's width in every language (measured in
# Chromium: tests/browser/test_reach_screens_browser.py).
def embed_snippet(slug: str) -> str:
    """The iframe code the share page offers partner sites (the form is embed.py's)."""
    src = links.external_url("petition.embed", share_url_language(), slug=slug)
    title = html.escape(_("Sign the petition"), quote=True)  # a translation may hold quotes
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="1300" '
        f'loading="lazy" referrerpolicy="strict-origin-when-cross-origin"></iframe>'
    )


@bp.get("/<slug>/share")
def share_page(slug: str):
    content = load_campaign(slug)
    return render_template(
        "petition/share.html",
        **counter_context(content),
        share_links=share_links_for(content),
        page_url=campaign_url(slug, share_url_language()),
        embed_code=embed_snippet(slug),
    )


@bp.get("/<slug>/qr.svg")
def qr_code(slug: str):
    content = load_campaign(slug)
    source = source_param("qr")
    url = campaign_url(slug, share_url_language(), source=source, ref=ref_param())
    svg = sharing.qr_svg(url, title=content.text(current_language()).title)
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    if request.args.get("download"):
        filename = f"{slug}-{source}.svg".replace("/", "-")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/<slug>/flyer")
def flyer(slug: str):
    content = load_campaign(slug)
    source = source_param("flyer")
    ref = ref_param()
    return render_template(
        "petition/flyer.html",
        **counter_context(content),
        source=source,
        ref=ref,
        event=request.args.get("source", ""),
        # The printed link carries the same ?source= (and ?ref=) as the QR code.
        short_url=sharing.with_params(short_url(slug), source=request.args.get("source"), ref=ref),
    )


# --- tags on every page ---------------------------------------------------------------


def alternates() -> list[tuple[str, str]]:
    """(hreflang, absolute URL) for each language of this page, and x-default."""
    if request.blueprint not in (None, "petition", "api_pages") or request.method != "GET":
        return []
    base = current_app.config["BASE_URL"]
    path = request.path
    rows = [(code, f"{base}/{code}{path}") for code in current_app.config["LANGUAGES"]]
    rows.append(("x-default", f"{base}{path}"))
    return rows


def social_tags(content: CampaignContent, count: int) -> dict:
    """What a card validator reads: og:* and twitter:* for a campaign page."""
    language = current_language()
    text = content.text(language)
    width, height = share_image_size(content, language)
    own = supplied_image(content, language)
    image_type = (mimetypes.guess_type(own.name)[0] if own else None) or "image/png"
    locales = sharing.OG_LOCALES
    return {
        "title": text.title,
        "description": text.summary,
        "url": current_app.config["BASE_URL"]
        + url_for("petition.campaign_page", slug=content.slug),
        "image": share_image_url(content, count),
        "image_width": width,
        "image_height": height,
        "image_alt": text.title,
        "image_type": image_type,
        "locale": locales.get(language, language),
        "alternate_locales": [
            locales.get(code, code) for code in content.languages if code != language
        ],
    }


def site_organizer() -> CampaignContent | None:
    """The home campaign, with its organizer's name in the page's language."""
    home = library().home()
    return home.in_language(current_language()) if home else None


@bp.app_context_processor
def share_context() -> dict:
    return {
        "hreflang_alternates": alternates,
        "social_tags": social_tags,
        "campaign_share_links": share_links_for,
        "campaign_url": campaign_url,
        "share_url_language": share_url_language,
        "country_name": lambda code: validation.country_name(code, current_language()),
        # Who runs the site: the home campaign's organizer (footer, /privacy).
        "site_organizer": site_organizer,
    }
