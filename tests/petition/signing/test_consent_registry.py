"""One consent registry (issue 21.1): every surface reads it, and only the mailbox
owner grants a consent, on the confirm page (H1)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Boolean, Column, Text, false, select, text

from campaign.extensions import db
from campaign.models import ConsentWording, Signature
from campaign.services.exports import delivery, export_signers
from campaign.services.intake import links
from campaign.services.signer_data import consents, privacy
from campaign.services.signer_data.signers import SignerFilter
from tests.admin.helpers import campaign_content, campaign_row
from tests.helpers import SLUG, sign

DELIVERY = "Give my full name and country to the addressees when the petition is delivered"


def rows() -> list[Signature]:
    db.session.expire_all()
    return list(db.session.scalars(select(Signature).order_by(Signature.id)))


def box(html: str, field: str) -> str | None:
    """The <input> of one consent's box on a page, or None."""
    found = re.search(rf'<input[^>]*name="{field}"[^>]*>', html)
    return found.group(0) if found else None


def confirm_page(client, signature: Signature) -> tuple[str, str]:
    token = links.make_token(signature, "confirm")
    return token, client.get(f"/{SLUG}/confirm/{token}").get_data(as_text=True)


def test_h1_confirming_never_grants_an_unseen_consent(client):
    """Attack: a stranger types the target's address and name with only "give my full
    name to the addressees" ticked. The owner's confirm page must show that consent,
    and confirming without it ticked must not grant it: the owner's boxes decide."""
    sign(client, name="Target Person", email="target@example.org", delivery_consent="y")
    (planted,) = rows()
    token, page = confirm_page(client, planted)
    shown = box(page, "delivery_consent")
    assert shown is not None, "the confirm page does not show the delivery consent"
    assert "checked" in shown and DELIVERY in page
    # The owner unticks it (an unticked box is not posted) and confirms.
    assert client.post(f"/{SLUG}/confirm/{token}", data={}).status_code == 303
    (confirmed,) = rows()
    assert confirmed.status == "confirmed" and confirmed.delivery_consent is False
    assert list(privacy.delivery_names(confirmed.campaign_id)) == []


def test_two_submissions_with_different_consents_differ_on_their_confirm_pages(client):
    sign(client, email="same@example.org", delivery_consent="y")
    sign(client, email="same@example.org")
    first, second = rows()
    _, planted = confirm_page(client, first)
    _, own = confirm_page(client, second)
    assert "checked" in box(planted, "delivery_consent")
    assert "checked" not in box(own, "delivery_consent")


def test_every_consent_is_a_box_on_the_confirm_page_and_the_owner_may_tick_one(client):
    sign(client, comment="For my uncle", public_consent="y")
    (signature,) = rows()
    token, page = confirm_page(client, signature)
    for consent in consents.all_consents():
        assert box(page, consent.field) is not None, consent.key
        assert str(consent.shares) in page
    # Ticked on the confirm page only: granted; ticked when signing but unticked here: not.
    posted = {"delivery_consent": "y", "contact_consent": "y"}
    assert client.post(f"/{SLUG}/confirm/{token}", data=posted).status_code == 303
    (signature,) = rows()
    assert (signature.delivery_consent, signature.contact_consent) == (True, True)
    assert (signature.public_consent, signature.comment_consent) == (False, False)


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_the_fast_path_and_the_view_store_the_same_choices(client, encoding):
    """A urlencoded POST is confirmed by post_fastpath, a multipart one by the view."""
    sign(client, comment="Words", public_consent="y", delivery_consent="y")
    (signature,) = rows()
    token = links.make_token(signature, "confirm")
    posted = {"public_consent": "y", "comment_consent": "y"}
    if encoding == "multipart":
        response = client.post(
            f"/{SLUG}/confirm/{token}", data=posted, content_type="multipart/form-data"
        )
    else:
        response = client.post(f"/{SLUG}/confirm/{token}", data=posted)
    assert response.status_code == 303
    (signature,) = rows()
    granted = consents.granted(signature.id)
    assert granted == {"public": True, "comment": True, "contact": False, "delivery": False}


def test_a_comment_box_without_a_comment_grants_nothing(client):
    sign(client)
    (signature,) = rows()
    token, page = confirm_page(client, signature)
    assert box(page, "comment_consent") is None  # nothing to publish: not asked
    client.post(f"/{SLUG}/confirm/{token}", data={"comment_consent": "y"})
    assert rows()[0].comment_consent is False


def test_the_data_copy_withdraws_each_consent_on_its_own(client):
    sign(client, email="own@example.org", comment="Mine", contact_consent="y")
    (signature,) = rows()
    token = links.make_token(signature, "confirm")
    every = {c.field: "y" for c in consents.all_consents()}
    client.post(f"/{SLUG}/confirm/{token}", data=every)
    (signature,) = rows()
    data = links.make_token(signature, "data")
    page = client.get(f"/{SLUG}/my-data/{data}").get_data(as_text=True)
    for consent in consents.all_consents():
        assert f"/my-data/{data}/withdraw-consent/{consent.key}" in page
    answer = client.post(f"/{SLUG}/my-data/{data}/withdraw-consent/delivery")
    assert answer.status_code == 303
    assert consents.granted(signature.id) == {
        "public": True,
        "comment": True,
        "contact": True,
        "delivery": False,
    }
    assert rows()[0].status == "confirmed"  # the signature stands
    # Bound to the data link: another purpose's token, or an unknown consent, does nothing.
    withdraw = links.make_token(signature, "withdraw")
    assert client.post(f"/{SLUG}/my-data/{withdraw}/withdraw-consent/public").status_code == 404
    assert client.post(f"/{SLUG}/my-data/{data}/withdraw-consent/nothing").status_code == 404
    assert consents.granted(signature.id)["public"] is True


def test_the_privacy_page_states_each_consent_and_what_erasure_keeps(client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "two choices" not in page and "names and countries only" not in page
    assert "Your 4 choices" in page
    for consent in consents.all_consents():
        assert str(consent.label) in page and str(consent.shares) in page
    assert "keeps only its country, language, dates, status" in page
    assert "the public log keeps its anonymous entries" in page
    assert "Vos 4 choix" in client.get("/fr/privacy").get_data(as_text=True)
    fa = client.get("/fa/privacy").get_data(as_text=True)
    assert "نام و کشور امضاکنندگان" not in fa  # "the signers' names": as if all were named


# --- a consent added to the registry inside the test ------------------------------

LATER = consents.Consent(
    key="press",
    column="press_consent",
    wording_column="press_text",
    label="Let journalists write to me about why I signed",
    shares="Journalists writing about the petition get your name and email address.",
    audience=consents.PUBLIC,
    names_signer=True,
    on_paper=False,
    data_key="journalists_may_write",
)


@pytest.fixture
def later_consent(app) -> Iterator[consents.Consent]:
    """LATER as a migration would add it: its two columns in the database and the
    tables, and its entry in the registry; all removed afterwards."""
    added = [
        (Signature.__table__, Column("press_consent", Boolean, server_default=false())),
        (ConsentWording.__table__, Column("press_text", Text)),
    ]
    with db.engine.begin() as connection:
        connection.execute(
            text("ALTER TABLE signatures ADD COLUMN press_consent BOOLEAN NOT NULL DEFAULT false")
        )
        connection.execute(text("ALTER TABLE consent_wordings ADD COLUMN press_text TEXT"))
    for table, column in added:
        table.append_column(column)
    try:
        with consents.registered(LATER):
            yield LATER
    finally:
        for table, column in added:
            table._columns.remove(column)
        db.session.rollback()
        db.engine.dispose()
        with db.engine.begin() as connection:
            connection.execute(text("ALTER TABLE signatures DROP COLUMN press_consent"))
            connection.execute(text("ALTER TABLE consent_wordings DROP COLUMN press_text"))


def test_a_consent_added_to_the_registry_appears_on_every_surface(client, later_consent):
    label, shares = LATER.label, LATER.shares
    # The sign form asks for it, unticked.
    form = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert label in form and "checked" not in box(form, "press_consent")
    sign(client, email="later@example.org", press_consent="y", delivery_consent="y")
    (signature,) = rows()
    # Its wording is stored with the others.
    wording = consents.wording_of(signature.consent_wording_id)
    assert wording["press"] == label and wording["delivery"] == DELIVERY
    # The confirm page shows it, ticked as submitted, with what it shares.
    token, page = confirm_page(client, signature)
    assert "checked" in box(page, "press_consent") and shares in page
    # Confirming stores the owner's choice (the fast path's one statement included).
    posted = {"press_consent": "y", "delivery_consent": "y"}
    assert client.post(f"/{SLUG}/confirm/{token}", data=posted).status_code == 303
    assert consents.granted(signature.id)["press"] is True
    # The data copy shows it with its wording, and withdraws it on its own.
    data = links.make_token(signature, "data")
    copy = json.loads(client.get(f"/{SLUG}/my-data/{data}?format=json").get_data())
    assert copy["journalists_may_write"] is True and copy["consent_wording"]["press"] == label
    page = client.get(f"/{SLUG}/my-data/{data}").get_data(as_text=True)
    assert "withdraw-consent/press" in page
    # The privacy page describes it.
    privacy_page = client.get("/privacy").get_data(as_text=True)
    assert label in privacy_page and shares in privacy_page and "Your 5 choices" in privacy_page
    # The full export has its column; the delivery pack states how many gave it.
    exported = "".join(export_signers.export_csv(campaign_row().id, "full", SignerFilter()))
    header, first = exported.lstrip("\ufeff").splitlines()[:2]
    assert "press_consent" in header.split(",")
    assert dict(zip(header.split(","), first.split(","), strict=True))["press_consent"] == "yes"
    pack = delivery.build(campaign_content(), campaign_row(), language="en", fmt="html")
    assert label in pack.body.decode()
    assert pack.numbers.consents_given["press"] == 1
    # Withdrawn from the data copy: no.
    client.post(f"/{SLUG}/my-data/{data}/withdraw-consent/press")
    assert consents.granted(signature.id)["press"] is False
    # Withdrawing the signature takes every consent, this one included.
    privacy.withdraw(rows()[0])
    assert not any(consents.granted(signature.id).values())


def test_owner_only_consents_are_those_that_show_or_name_a_signer():
    assert {c.key for c in consents.owner_only()} == {"public", "comment", "delivery"}
    assert {c.key for c in consents.all_consents() if c.on_paper} == {"contact", "delivery"}
