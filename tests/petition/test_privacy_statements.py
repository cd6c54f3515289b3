"""The privacy page says what the code does (content review #1, #2, #44, #45, #47):
what erasure keeps, what the public sees, what the addressees get."""

from __future__ import annotations

import html as html_lib
import json
import re

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Campaign, NameToken, Signature
from campaign.services.intake import links
from campaign.services.signatures import moderation
from campaign.services.signer_data import consents, retention
from tests.helpers import SLUG, sign

# What the privacy page says an erased signature keeps ("its country, language, dates,
# status, the codes of the link that brought it and of its own share link, and, for a
# paper signature, its sheet and row"). An organizer's reason for invalidating is free
# text that may describe the signer: erasure clears it, so it is not here.
STATED = {
    "country": "country",
    "language": "language",
    "status": "status",
    "flagged": "status",
    "flag_reason": "status",
    "source": "link codes",
    "referrer_code": "link codes",
    "referral_code": "link codes",
    "method": "paper",
    "sheet_id": "paper",
    "sheet_row": "paper",
    "linked_id": "paper",  # the online signature a paper row repeats
}
# Bookkeeping that says nothing about the signer: ids, counters, the random key the
# (now erased) ciphertexts were bound to, the wording every signer in a language saw.
BOOKKEEPING = {
    "id",
    "campaign_id",
    "row_key",
    "consent_wording_id",
    "already_signed_mails",
    "extra_mails",
    "comment_hidden",
}


def visible(page: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_erasure_keeps_only_what_the_privacy_page_says(client, app):
    """Review #45: the page said "only counts by country and by day remain", while each
    erased row keeps its country, language, dates, status and link codes."""
    sign(client, email="kept@example.org", name="Kept Person", comment="A comment")
    signature = db.session.scalars(select(Signature)).one()
    every = {c.field: "y" for c in consents.all_consents()}
    client.post(f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}", data=every)
    db.session.expire_all()
    signature = db.session.scalars(select(Signature)).one()
    assert signature.name_enc or signature.organizer_sealed  # something to erase
    assert moderation.invalidate(signature, "a duplicate")
    retention.anonymize_campaign(db.session.scalars(select(Campaign)).one(), None, force=True)
    db.session.expire_all()
    row = db.session.scalars(select(Signature)).one()
    left = {
        column.key: getattr(row, column.key)
        for column in Signature.__table__.columns
        if getattr(row, column.key) not in (None, False, 0, "")
    }
    dates = {name for name, value in left.items() if name.endswith("_at")}
    unstated = set(left) - set(STATED) - BOOKKEEPING - dates
    assert not unstated, {name: left[name] for name in unstated}
    assert {"country", "language", "status", "referral_code"} <= set(left)
    assert row.status == "invalidated" and row.invalid_reason is None
    assert db.session.scalar(select(func.count()).select_from(NameToken)) == 0
    page = visible(client.get("/privacy").get_data(as_text=True))
    assert (
        "Each signature keeps only its country, language, dates, status, the codes of the "
        "link that brought it and of its own share link, and, for a paper signature, its "
        "sheet and row" in page
    )
    assert "with the reason" not in page


def test_the_public_sees_what_the_privacy_page_says(client):
    """Review #44: the page named the total and the totals by country; the API also
    gives the counts by day, and the public log an entry per counted signature."""
    api = json.loads(client.get(f"/api/v1/petitions/{SLUG}").data)
    assert "counts_by_country" in api and "history" in api
    page = visible(client.get("/privacy").get_data(as_text=True))
    assert "the totals by country and by day, and the petition's public log" in page
    # Each consent that publishes something is named under the public's line.
    for consent in consents.for_audience(consents.PUBLIC):
        assert str(consent.shares) in page


def test_the_addressees_line_names_only_those_who_chose_to_be_named(client):
    """Review #2: "the recipients receive names and countries only" read as if every
    signer's name went to them (the Persian said "the signers' names")."""
    pages = {
        lang: visible(client.get(f"{lang}/privacy").get_data(as_text=True))
        for lang in ("", "/fa", "/fr")
    }
    assert "its addressees get the total and the counts by country and by day" in pages[""]
    assert "Signers who don't tick this box are only counted." in pages[""]
    assert "names and countries only" not in pages[""]
    assert "نام و کشور امضاکنندگان" not in pages["/fa"]
    assert "seulement comptés" in pages["/fr"]
