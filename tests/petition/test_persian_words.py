"""Persian words on the pages (issue 24 §16, content review #31, #32, #34, #48): one word
for petition and one for encrypted, Persian digits on the share card, the organizer in
Persian, and email addresses left to right inside right-to-left pages."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from babel.messages.pofile import read_po

from campaign.petition.reach.share import image_text
from campaign.services.pages.content import load_campaign
from tests.helpers import ROOT, SLUG, sign
from tests.petition.reach.test_embed import embed_form

CATALOG = ROOT / "campaign" / "translations" / "fa" / "LC_MESSAGES" / "messages.po"
EMAIL_INPUT = re.compile(r'<input[^>]*type="email"[^>]*>')


def persian_texts() -> str:
    with open(CATALOG, "rb") as po:
        catalog = read_po(po, locale="fa")
    texts = []
    for message in catalog:
        if message.id:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            texts.extend(strings)
    content = ROOT / "content" / SLUG
    texts += [
        (content / "case.fa.md").read_text("utf-8"),
        (content / "campaign.toml").read_text("utf-8"),
    ]
    return "\n".join(texts)


def test_one_word_for_petition():
    """Review #31: «دادخواست» in headings and the sign button, «طومار» in the consent
    box, the confirm preview and the pack."""
    texts = persian_texts()
    assert "دادخواست" not in texts
    assert "طومار" in texts


def test_one_word_for_encrypted_and_the_object_marker_in_place():
    """Review #32: «رمزنگاری‌شده» and «رمزگذاری‌شده»; «آنچه لازم است را» misplaced «را»."""
    texts = persian_texts()
    assert "رمزگذاری" not in texts
    assert "آنچه لازم است را" not in texts
    assert "فقط آنچه را لازم است نگه می\u200cداریم" in texts


@pytest.mark.parametrize("path", [f"/fa/{SLUG}/", "/fa/privacy", f"/fa/{SLUG}/embed"])
def test_persian_pages_say_tumar(client, path):
    page = client.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "دادخواست" not in text
    assert "طومار" in text


def email_inputs(page: str) -> list[str]:
    inputs = EMAIL_INPUT.findall(page)
    assert inputs, "no email field on the page"
    return inputs


@pytest.mark.parametrize("path", [f"/fa/{SLUG}/", "/fa/privacy", f"/fa/{SLUG}/embed"])
def test_the_email_field_is_left_to_right_on_persian_pages(client, path):
    """Issue 24 §16: an address typed into a right-to-left field shows scrambled
    ("example.org@maryam")."""
    for tag in email_inputs(client.get(path).get_data(as_text=True)):
        assert 'dir="ltr"' in tag, tag


def test_the_check_inbox_fields_are_left_to_right(app):
    client = app.test_client()
    response = sign(client, prefix="/fa")
    assert response.status_code == 303
    correction = client.get(response.headers["Location"]).get_data(as_text=True)
    # Without the signer's note the page offers "send again" to an address instead.
    resend = app.test_client().get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="correct-email"' in correction and 'class="correct-email"' not in resend
    for tag in email_inputs(correction) + email_inputs(resend):
        assert 'dir="ltr"' in tag, tag


def test_the_embeds_check_inbox_keeps_email_fields_left_to_right(app):
    data = embed_form(app.test_client(), path=f"/fa/{SLUG}/embed")
    poster = app.test_client(use_cookies=False)
    response = poster.post(f"/fa/{SLUG}/sign", data=data)
    # In a partner's frame the check-inbox page is the answer itself (no cookie to
    # carry a redirect's note: petition/reach/embed.py).
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'type="email"' in page
    for tag in EMAIL_INPUT.findall(page):  # the embed may offer no field at all
        assert 'dir="ltr"' in tag, tag


@pytest.mark.parametrize(("count", "digits"), [(13, "۱۳"), (0, "۰"), (12000, "۱۲\u066c۰۰۰")])
def test_the_persian_share_card_writes_persian_digits(app, count, digits):
    """Issue 24 §16, review #34: the share image read «13 امضا»."""
    content = load_campaign(ROOT / "content" / SLUG)
    with app.test_request_context(f"/fa/{SLUG}/share.png"):
        line = image_text(content, "fa", count).count_line
    assert digits in line
    assert not re.search(r"[0-9]", line), line


def test_the_french_share_card_keeps_latin_digits(app):
    content = load_campaign(ROOT / "content" / SLUG)
    with app.test_request_context(f"/fr/{SLUG}/share.png"):
        assert "13" in image_text(content, "fr", 13).count_line


@pytest.mark.parametrize("path", [f"/fa/{SLUG}/", "/fa/privacy"])
def test_the_organizer_is_named_in_persian(client, path):
    """Review #48: «گرداننده: Justice for the victims of 1988 (campaign team)»."""
    text = html_lib.unescape(client.get(path).get_data(as_text=True))
    assert "campaign team" not in text and "Justice for the victims" not in text
    assert "عدالت برای قربانیان ۱۳۶۷ (گروه کارزار)" in text
