"""Campaign updates: posted in the admin, mailed (per language) to consenting confirmed
signers with a one-click unsubscribe (RFC 8058), and the public unsubscribe route."""

from __future__ import annotations

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import CampaignUpdate, Signature
from tests.admin.conftest import make_signature, token_for
from tests.conftest import SLUG, deliver


def test_update_is_stored_and_mailed_in_each_signers_language(app, users, as_role, mailbox):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    make_signature("Nima Rahimi", "nima@example.org", "IR", language="fa")
    make_signature("Claire Martin", "claire@example.org", "FR", language="fr")  # no fr text
    make_signature("Reza Karimi", "reza@example.org", "FR", contact=False)
    make_signature("Sara Tehrani", "sara@example.org", "SE", status="pending")
    client = as_role("organizer")
    token = token_for(client, f"/admin/{SLUG}/updates")
    response = client.post(f"/admin/{SLUG}/updates", data={
        "csrf_token": token, "send": "y",
        "title_en": "The UN heard us", "body_en": "Our petition <b>was</b> received.",
        "title_fa": "سازمان ملل صدای ما را شنید", "body_fa": "دادخواست ما دریافت شد.",
    })  # fmt: skip
    assert response.status_code == 303
    stored = db.session.scalars(select(CampaignUpdate).order_by(CampaignUpdate.language)).all()
    assert [(u.language, u.title) for u in stored] == [
        ("en", "The UN heard us"), ("fa", "سازمان ملل صدای ما را شنید")]  # fmt: skip
    assert all(u.emailed_at for u in stored)

    assert deliver(app) == 3
    assert mailbox.to("reza@example.org") == [] and mailbox.to("sara@example.org") == []
    [english] = mailbox.to("maryam@example.org")
    [persian] = mailbox.to("nima@example.org")
    [fallback] = mailbox.to("claire@example.org")
    assert "The UN heard us" in english["Subject"]
    assert "سازمان ملل" in persian["Subject"]
    assert "The UN heard us" in fallback["Subject"]  # the campaign's main language
    for message in (english, persian, fallback):
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith("<http://petition.test/") and "/unsubscribe/" in unsubscribe
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = message.get_body(("plain",)).get_content()
        assert unsubscribe.strip("<>") in body
        assert "/withdraw/" in body
    assert "<b>was</b>" in english.get_body(("plain",)).get_content()  # plain text, as written
    assert "/fa/" in persian["List-Unsubscribe"]


def test_update_needs_a_title_and_text(app, users, as_role):
    client = as_role("organizer")
    token = token_for(client, f"/admin/{SLUG}/updates")
    response = client.post(f"/admin/{SLUG}/updates", data={"csrf_token": token,
                                                           "title_en": "Only a title"})  # fmt: skip
    assert response.status_code == 422
    assert db.session.scalars(select(CampaignUpdate)).all() == []


def unsubscribe_path(signature: Signature) -> str:
    from campaign.services import links

    return f"/{SLUG}/unsubscribe/{links.make_token(signature, 'manage')}"


def test_one_click_unsubscribe_without_csrf_is_idempotent(app, client):
    signature = make_signature()
    path = unsubscribe_path(signature)
    page = client.get(path)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    db.session.refresh(signature)
    assert signature.contact_consent  # GET (a mail scanner) changes nothing
    # what a mail client sends for RFC 8058: a POST with this body and no CSRF token
    for _ in range(2):
        response = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    db.session.refresh(signature)
    assert not signature.contact_consent and signature.unsubscribed_at is not None
    assert signature.status == "confirmed"  # still counted


def test_unsubscribe_with_a_bad_token_is_404(app, client):
    assert client.get(f"/{SLUG}/unsubscribe/1-{'0' * 40}").status_code == 404
    assert client.post(f"/{SLUG}/unsubscribe/garbage").status_code == 404


def test_other_public_posts_still_need_csrf(app, client):
    signature = make_signature()
    from campaign.services import links

    token = links.make_token(signature, "manage")
    assert client.post(f"/{SLUG}/withdraw/{token}").status_code == 400
