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

from ...i18n import current_language, url_language
from ...services.intake import links, validation
from ...services.pages import counting, sharing
from ...services.pages.cache import SHARE_IMAGES, remember
from ...services.pages.campaigns import campaign_ref
from ...services.pages.content import CampaignContent, library
from .. import bp
from ..pages import counter_context, load_campaign


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


# Without script on the partner's page the frame keeps this height and scrolls inside:
# the count, the ask and the form's first fields show. With the snippet's script, it
# fits its content (static/js/embed.js posts the height;
# tests/browser/petition/test_embed_browser.py).
NO_SCRIPT_HEIGHT = 760

# The partner's page believes only messages from our origin and from its own frame,
# and takes nothing from them but a height (bounded) and "bring me into view".
RESIZE_SCRIPT = """<script>
window.addEventListener("message", function (event) {
  var frame = document.getElementById("%(id)s");
  if (event.origin !== "%(origin)s" || !frame || event.source !== frame.contentWindow) return;
  var data = event.data || {};
  if (data.type !== "petition-embed") return;
  var height = Math.ceil(Number(data.height));
  if (height > 200 && height < 8000) frame.style.height = height + "px";
  if (data.reveal === true) frame.scrollIntoView({block: "start"});
});
</script>"""


def embed_snippet(slug: str) -> str:
    """The iframe code the share page offers partner sites (the form is embed.py's),
    with the small script that fits the frame to its content."""
    src = links.external_url("petition.embed", share_url_language(), slug=slug)
    title = html.escape(_("Sign the petition"), quote=True)  # a translation may hold quotes
    base = urlsplit(current_app.config["BASE_URL"])
    frame_id = f"petition-{slug}"
    script = RESIZE_SCRIPT % {"id": frame_id, "origin": f"{base.scheme}://{base.netloc}"}
    return (
        f'<iframe src="{src}" id="{frame_id}" title="{title}" width="100%" '
        f'height="{NO_SCRIPT_HEIGHT}" style="border: 0" loading="lazy" '
        f'referrerpolicy="strict-origin-when-cross-origin"></iframe>\n{script}'
    )


@bp.get("/<slug>/share")
def share_page(slug: str):
    content = load_campaign(slug)
    # The event's name typed into the QR code's field tags the code shown and downloaded.
    event = source_param("qr") if request.args.get("source") else ""
    return render_template(
        "petition/reach/share.html",
        **counter_context(content),
        event=event,
        share_links=share_links_for(content),
        page_url=campaign_url(slug, share_url_language()),
        embed_code=embed_snippet(slug),
        no_script_height=NO_SCRIPT_HEIGHT,
    )


@bp.get("/<slug>/qr.svg")
def qr_code(slug: str):
    content = load_campaign(slug)
    source = source_param("qr")
    url = campaign_url(slug, share_url_language(), source=source, ref=ref_param())
    svg = sharing.qr_svg(url, title=content.text(current_language()).title)
    return qr_response(Response(svg, mimetype="image/svg+xml"), slug, source, "svg")


@bp.get("/<slug>/qr.png")
def qr_code_png(slug: str):
    load_campaign(slug)  # a 404 for an unknown campaign
    source = source_param("qr")
    url = campaign_url(slug, share_url_language(), source=source, ref=ref_param())
    return qr_response(Response(sharing.qr_png(url), mimetype="image/png"), slug, source, "png")


def qr_response(response: Response, slug: str, source: str, extension: str) -> Response:
    response.headers["Cache-Control"] = "public, max-age=86400"
    if request.args.get("download"):
        filename = f"{slug}-{source}.{extension}".replace("/", "-")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/<slug>/flyer")
def flyer(slug: str):
    content = load_campaign(slug)
    source = source_param("flyer")
    ref = ref_param()
    return render_template(
        "petition/reach/flyer.html",
        **counter_context(content),
        source=source,
        ref=ref,
        event=request.args.get("source", ""),
        # The printed link is short enough to type; the tracking is in the QR code only.
        short_url=short_url(slug),
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
