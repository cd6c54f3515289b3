"""The delivery pack's words in each language (issue 24 §15, §17, §18; content review
#34, #36, #49): plurals that agree with their number, Persian digits throughout the
Persian pack, and the title as one message."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.admin.exports.test_delivery_pack import signers
from tests.admin.helpers import token_for
from tests.helpers import SLUG


def pack_html(as_role, language: str) -> str:
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/delivery",
        data={
            "csrf_token": token_for(client, f"/admin/{SLUG}/delivery"),
            "language": language,
            "format": "html",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    page = response.get_data(as_text=True)
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_one_signature_is_not_one_signatures(app, users, as_role):
    """Review #49: "1 signatures still unconfirmed are not counted"."""
    signers()  # one pending, one withdrawn, one named: each count is 1
    text = pack_html(as_role, "en")
    assert "1 signature still unconfirmed is not counted" in text
    assert "1 withdrew and is not counted" in text
    assert "1 signer agreed to be named in this pack" in text
    assert "6 other signers are counted but not named" in text
    assert not re.search(r"\b1 (signatures|signers|were|are)\b", text), text


def test_the_persian_pack_writes_persian_digits(app, users, as_role):
    """Review #34: «کمتر از 5 امضاکننده»: the smallest country group went unformatted."""
    signers()
    text = pack_html(as_role, "fa")
    assert "کمتر از ۵ امضاکننده" in text
    assert "۱ امضای هنوز تأییدنشده شمرده نشده است" in text
    # ASCII digits only in left-to-right parts: dates, the checkpoint, the English title.
    persian_only = [s for s in re.split(r"[.:؛]\s", text) if re.search(r"[\u0600-\u06ff]", s)]
    persian_only = [s for s in persian_only if not re.search(r"[A-Za-z]|\d{4}-\d\d", s)]
    assert len(persian_only) > 10
    for sentence in persian_only:
        assert not re.search(r"[0-9]", sentence), sentence


@pytest.mark.parametrize(
    ("language", "title"),
    [("fr", "Dossier de remise\u202f: "), ("en", "Delivery pack: "), ("fa", "بستهٔ تحویل: ")],
)
def test_the_pack_title_is_one_message(app, users, as_role, language, title):
    """Review #36: «Dossier de remise: ONU : …», a colon glued after a translation."""
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/delivery",
        data={
            "csrf_token": token_for(client, f"/admin/{SLUG}/delivery"),
            "language": language,
            "format": "html",
        },
    )
    head = re.search(r"<title>(.*?)</title>", response.get_data(as_text=True), re.S).group(1)
    assert html_lib.unescape(head).startswith(title), head


@pytest.mark.parametrize(
    ("language", "note", "organizer"),
    [
        ("fr", "rapport non signé", "Justice pour les victimes de 1988 (équipe de campagne)"),
        ("fa", "گزارشی بی\u200cامضا", "عدالت برای قربانیان ۱۳۶۷ (گروه کارزار)"),
        ("en", "unsigned report", "Justice for the victims of 1988 (campaign team)"),
    ],
)
def test_the_source_note_and_the_sender_are_in_the_packs_language(
    app, users, as_role, language, note, organizer
):
    """Review #22, #48: the French and Persian packs printed the English source note
    («… based on: … (unsigned report on an NCRI online conference …)») and sender."""
    text = pack_html(as_role, language)
    assert note in text and organizer in text
    if language != "en":
        assert "unsigned report" not in text and "campaign team" not in text
