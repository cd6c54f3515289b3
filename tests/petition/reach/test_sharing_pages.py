"""Sharing on the public pages: social card tags, share links, QR code, flyer, hreflang."""

import io
import subprocess
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from PIL import Image
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.signatures import confirmation
from tests.helpers import SLUG, sign


class HeadTags(HTMLParser):
    """Reads <meta> and <link> tags the way a card validator does."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict] = []
        self.anchors: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and (attrs.get("property") or attrs.get("name")):
            key = attrs.get("property") or attrs.get("name")
            self.meta.setdefault(key, []).append(attrs.get("content", ""))
        elif tag == "link":
            self.links.append(attrs)
        elif tag == "a" and attrs.get("href"):
            self.anchors.append(attrs["href"])


def parse(html: str) -> HeadTags:
    tags = HeadTags()
    tags.feed(html)
    return tags


def local(url: str) -> str:
    return url.replace("http://petition.test", "")


def test_campaign_page_has_a_complete_social_card(client):
    tags = parse(client.get(f"/{SLUG}/").get_data(as_text=True))
    meta = {key: values[0] for key, values in tags.meta.items()}
    assert meta["og:title"].startswith("UN: open an inquiry")
    assert meta["og:description"] and meta["twitter:description"] == meta["og:description"]
    assert meta["og:url"] == f"http://petition.test/{SLUG}/"
    canonical = [link["href"] for link in tags.links if link.get("rel") == "canonical"]
    assert canonical == [meta["og:url"]]
    assert meta["og:image"].startswith(f"http://petition.test/{SLUG}/share.png")
    assert (meta["og:image:width"], meta["og:image:height"]) == ("1200", "630")
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["twitter:image"] == meta["og:image"]
    assert meta["og:locale"] == "en_US"
    assert sorted(tags.meta["og:locale:alternate"]) == ["fa_IR", "fr_FR"]

    # The image is reachable and is what the tags say.
    image = client.get(local(meta["og:image"]))
    assert image.status_code == 200
    assert image.content_type == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (1200, 630)
    assert "public" in image.headers["Cache-Control"]


def test_persian_card_and_image(client):
    tags = parse(client.get(f"/fa/{SLUG}/").get_data(as_text=True))
    meta = {key: values[0] for key, values in tags.meta.items()}
    assert meta["og:locale"] == "fa_IR"
    assert meta["og:url"] == f"http://petition.test/fa/{SLUG}/"
    assert meta["og:image"].startswith(f"http://petition.test/fa/{SLUG}/share.png")
    image = client.get(local(meta["og:image"]))
    assert Image.open(io.BytesIO(image.data)).size == (1200, 630)


def test_campaign_supplied_share_image_is_used(client, app, tmp_path):
    import shutil

    from campaign.services.pages.content import ContentLibrary
    from tests.helpers import ROOT

    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    Image.new("RGB", (1200, 630), "#123456").save(content / SLUG / "share.png")
    toml = content / SLUG / "campaign.toml"
    toml.write_text('share_image = "share.png"\n' + toml.read_text())
    app.extensions["campaign.content"] = ContentLibrary(content)
    response = client.get(f"/{SLUG}/share.png")
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.data)).getpixel((600, 300)) == (0x12, 0x34, 0x56)


def test_hreflang_alternates_on_public_pages(client):
    for path in (f"/{SLUG}/", f"/fr/{SLUG}/share", "/privacy", "/api"):
        tags = parse(client.get(path).get_data(as_text=True))
        alternates = {
            link["hreflang"]: link["href"] for link in tags.links if link.get("rel") == "alternate"
        }
        bare = path.removeprefix("/fr")
        assert alternates == {
            "en": f"http://petition.test/en{bare}",
            "fa": f"http://petition.test/fa{bare}",
            "fr": f"http://petition.test/fr{bare}",
            "x-default": f"http://petition.test{bare}",
        }, path


def share_hrefs(html: str) -> list[str]:
    """Share links: the networks', and mail with a prepared message (not the footer's
    plain mailto: to the organizers)."""
    return [
        href
        for href in parse(html).anchors
        if href.startswith("https://") or (href.startswith("mailto:") and "?" in href)
    ]


def test_share_links_are_plain_links_with_source_codes(client):
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    hrefs = share_hrefs(html)
    hosts = {urlsplit(h).netloc or urlsplit(h).scheme for h in hrefs}
    assert {"x.com", "www.facebook.com", "wa.me", "t.me", "mailto"} <= hosts
    for channel, href in zip(
        ("x", "facebook", "whatsapp", "telegram", "email"), hrefs, strict=False
    ):
        assert f"/{SLUG}/?source={channel}" in unquote(href), href
    # Copy and Web Share buttons are there for JS to reveal, hidden otherwise.
    assert 'hidden data-copy="campaign-link"' in html
    assert "hidden data-share=" in html
    assert "<script" not in html.split("</head>")[1]  # no inline or third-party script


def test_signature_through_a_share_link_stores_source_and_ref(client, app):
    response = sign(client, query="?source=telegram&ref=friend123", email="via-share@example.org")
    assert response.status_code == 303
    signature = db.session.scalars(select(Signature)).one()
    from campaign.services.intake import links

    assert signature.source == "telegram"
    assert signature.referrer_code == links.referrer_hash("friend123")  # never the code


def test_referral_codes_in_a_dump_do_not_show_who_recruited_whom(client, app, mailbox):
    """Codes sat in clear: a dump joined each recruit's referrer_code to its
    recruiter's referral_code. Now neither column holds a code, nothing joins, and
    only a holder of HASH_KEY can match recruits to their recruiter."""
    from campaign.services.intake import links
    from campaign.services.pages.content import library

    sign(client, email="recruiter@example.org")
    recruiter = db.session.scalars(select(Signature)).one()
    code = links.referral_code(recruiter)
    for n in range(3):
        sign(client, query=f"?ref={code}", email=f"recruit{n}@example.org")
    rows = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    own_codes = {row.referral_code for row in rows}
    referrers = {row.referrer_code for row in rows if row.referrer_code}
    assert len(referrers) == 1 and not own_codes & referrers  # no join in a dump
    dump = " ".join(f"{row.referral_code} {row.referrer_code}" for row in rows)
    assert code not in dump
    content = library().get(SLUG)
    for row in rows[1:3]:
        confirmation.confirm(content, links.make_token(row, "confirm"))
    recruits = select(func.count(Signature.id)).where(
        Signature.referrer_code == links.referrer_hash(code), Signature.counted
    )
    assert db.session.scalar(recruits) == 2


def test_utm_source_is_accepted(client, app):
    sign(client, query="?utm_source=newsletter&utm_medium=email", email="utm@example.org")
    signature = db.session.scalars(select(Signature)).one()
    assert signature.source == "newsletter/email"


def test_thank_you_page_gives_referral_share_links(client, app, mailbox):
    from tests.helpers import deliver

    sign(client, email="sharer@example.org")
    deliver(app)
    [message] = mailbox.to("sharer@example.org")
    confirm = local(mailbox.links(message, "confirm")[0])
    thanks = client.post(confirm, follow_redirects=True)
    html = thanks.get_data(as_text=True)
    from campaign.services.intake import links

    code = links.referral_code(db.session.scalars(select(Signature)).one())
    hrefs = share_hrefs(html)
    assert len(hrefs) == 5
    for href in hrefs:
        query = parse_qs(urlsplit(unquote(href).split("url=")[-1].split("u=")[-1]).query)
        assert code in unquote(href) and "source=" in unquote(href), (href, query)
    assert f"?ref={code}" in html


def test_share_page_has_links_qr_flyer_and_embed_snippet(client):
    response = client.get(f"/{SLUG}/share")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert len(share_hrefs(html)) == 5
    assert f'src="/{SLUG}/qr.svg"' in html
    assert f'href="/{SLUG}/flyer"' in html
    assert f"&lt;iframe src=&#34;http://petition.test/{SLUG}/embed&#34;" in html


def test_qr_code_with_event_source(client):
    response = client.get(f"/{SLUG}/qr.svg?source=rally-berlin")
    assert response.status_code == 200
    assert response.content_type.startswith("image/svg+xml")
    assert b"<svg" in response.data
    assert client.get(f"/{SLUG}/qr.svg?source=%3Cscript%3E").status_code == 400
    assert client.get("/no-such-campaign/qr.svg").status_code == 404


def test_share_page_tags_the_event_qr_code_with_a_field_and_offers_png(client):
    html = client.get(f"/{SLUG}/share").get_data(as_text=True)
    assert 'name="source"' in html and 'id="qr-event"' in html  # a field, not a URL to edit
    assert f'href="/{SLUG}/qr.png?download=1"' in html
    html = client.get(f"/{SLUG}/share?source=rally-berlin").get_data(as_text=True)
    assert f'src="/{SLUG}/qr.svg?source=rally-berlin"' in html
    assert f'href="/{SLUG}/qr.png?source=rally-berlin&amp;download=1"' in html
    assert f'href="/{SLUG}/qr.svg?source=rally-berlin&amp;download=1"' in html
    assert f'href="/{SLUG}/flyer?source=rally-berlin"' in html
    assert client.get(f"/{SLUG}/share?source=%3Cscript%3E").status_code == 400
    png = client.get(f"/{SLUG}/qr.png?source=rally-berlin&download=1")
    assert png.status_code == 200 and png.content_type == "image/png"
    assert png.data.startswith(b"\x89PNG")
    assert "rally-berlin.png" in png.headers["Content-Disposition"]
    assert client.get(f"/{SLUG}/qr.png?source=%3Cscript%3E").status_code == 400
    assert client.get("/no-such-campaign/qr.png").status_code == 404


def test_qr_code_encodes_the_source_link(client, tmp_path):
    """Read back by a decoder of its own (zbar's zbarimg), not by the library that drew it."""
    png = client.get(f"/{SLUG}/qr.png?source=rally-berlin")
    assert png.status_code == 200
    (tmp_path / "qr.png").write_bytes(png.data)
    decoded = subprocess.run(
        ["zbarimg", "--raw", "-q", str(tmp_path / "qr.png")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert decoded == f"http://petition.test/{SLUG}/?source=rally-berlin"


def test_flyer_has_title_ask_qr_and_short_url(client):
    html = client.get(f"/{SLUG}/flyer?source=leaflet").get_data(as_text=True)
    assert "UN: open an inquiry" in html
    assert "We ask the United Nations" in html
    assert f"/{SLUG}/qr.svg?source=leaflet" in html
    # The printed link is short and typeable; the tracking is in the QR code only.
    assert f"petition.test/{SLUG}</bdi>" in html and "?source=leaflet</bdi>" not in html
    assert 'media="print"' in html


def test_milestones_and_raised_goal_are_shown(client, app):
    from campaign.models import Campaign
    from campaign.services.pages import cache, counting

    client.get("/")
    row = db.session.scalars(select(Campaign)).one()
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "Halfway: 5,000" in html and "Goal: 10,000" in html
    counting.adjust(row.id, 10_500)
    db.session.commit()
    cache.signatures_changed()
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "We passed our goal of 10,000 signatures. New goal: 20,000." in html
    assert '<progress class="progress" max="20000"' in html


def test_following_a_real_share_link_records_its_channel(client, app):
    # Follow the Telegram share link from the page, as a recipient of the message would.
    html = client.get(f"/{SLUG}/?ref=sharer42").get_data(as_text=True)
    hrefs = share_hrefs(html)
    telegram = next(h for h in hrefs if h.startswith("https://t.me/"))
    target = parse_qs(urlsplit(telegram).query)["url"][0]
    assert target.startswith(f"http://petition.test/{SLUG}/?source=telegram")
    split = urlsplit(target)
    response = sign(client, query=f"?{split.query}", email="recipient@example.org")
    assert response.status_code == 303
    signature = db.session.scalars(select(Signature)).one()
    assert signature.source == "telegram"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink", "localized-symlink"])
def test_share_image_path_traversal_is_refused(client, app, tmp_path, how):
    """campaign.toml's share_image named /proc/self/environ, and the service served it
    as a PNG. Absolute paths, ../ and symlinks out of the folder are all refused:
    `flask content load` fails, and the page serves its generated image instead."""
    import shutil

    from campaign.services.pages.content import ContentLibrary
    from tests.helpers import ROOT

    secret = tmp_path / "secret.env"
    secret.write_text("HASH_KEY=leaked-if-served\n")
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    folder = content / SLUG
    name = {"absolute": str(secret), "dotdot": "../../secret.env"}.get(how, "share.png")
    if how == "symlink":
        (folder / "share.png").symlink_to(secret)
    if how == "localized-symlink":  # the per-language variant beside a real image
        Image.new("RGB", (1200, 630), "#123456").save(folder / "share.png")
        (folder / "share.fr.png").symlink_to(secret)
    toml = folder / "campaign.toml"
    toml.write_text(f'share_image = "{name}"\n' + toml.read_text())
    app.extensions["campaign.content"] = ContentLibrary(content)
    result = app.test_cli_runner().invoke(args=["content", "load"])
    if how == "localized-symlink":
        assert result.exit_code == 0, result.output  # the named image itself is fine
    else:
        assert result.exit_code != 0 and "refused" in result.output
    for prefix in ("", "/fr"):
        response = client.get(f"{prefix}/{SLUG}/share.png")
        assert response.status_code == 200
        assert b"leaked-if-served" not in response.data
        assert response.data.startswith(b"\x89PNG")
