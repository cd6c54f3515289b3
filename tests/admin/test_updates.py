"""Campaign updates: posted in the admin, mailed (per language) to consenting confirmed
signers with a one-click unsubscribe (RFC 8058), and the public unsubscribe route."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import CampaignUpdate, Signature
from tests.admin.helpers import forget_cached_csrf, make_signature
from tests.helpers import SLUG, deliver, hidden_fields


def form_for(client) -> dict:
    """The updates form's hidden fields: the CSRF token and this form's publish key."""
    forget_cached_csrf()
    return hidden_fields(client.get(f"/admin/{SLUG}/updates").get_data(as_text=True))


def test_update_is_stored_and_mailed_in_each_signers_language(app, users, as_role, mailbox):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    make_signature("Nima Rahimi", "nima@example.org", "IR", language="fa")
    make_signature("Claire Martin", "claire@example.org", "FR", language="fr")  # no fr text
    make_signature("Reza Karimi", "reza@example.org", "FR", contact=False)
    make_signature("Sara Tehrani", "sara@example.org", "SE", status="pending")
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/updates",
        data={
            **form_for(client),
            "send": "y",
            "title_en": "The UN heard us",
            "body_en": "Our petition <b>was</b> received.",
            "title_fa": "سازمان ملل صدای ما را شنید",
            "body_fa": "دادخواست ما دریافت شد.",
        },
    )
    assert response.status_code == 303
    stored = db.session.scalars(select(CampaignUpdate).order_by(CampaignUpdate.language)).all()
    assert [(u.language, u.title) for u in stored] == [
        ("en", "The UN heard us"),
        ("fa", "سازمان ملل صدای ما را شنید"),
    ]
    assert not any(u.emailed_at for u in stored)  # the worker queues the mail

    assert deliver(app) == 3
    db.session.expire_all()  # the worker ran in its own app context and session
    assert all(u.emailed_at for u in db.session.scalars(select(CampaignUpdate)))
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
    response = client.post(
        f"/admin/{SLUG}/updates", data={**form_for(client), "title_en": "Only a title"}
    )
    assert response.status_code == 422
    assert db.session.scalars(select(CampaignUpdate)).all() == []


def unsubscribe_path(signature: Signature) -> str:
    from campaign.services import links

    return f"/{SLUG}/unsubscribe/{links.make_token(signature, 'unsubscribe')}"


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


def test_other_public_posts_refuse_cross_site_requests(app, client):
    signature = make_signature()
    from campaign.services import links

    token = links.make_token(signature, "withdraw")
    response = client.post(f"/{SLUG}/withdraw/{token}", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


def test_double_clicked_update_publishes_once(app, users, as_role, mailbox):
    """Two posts of one form (a double click) published and mailed twice before."""
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    client = as_role("organizer")
    data = {**form_for(client), "send": "y", "title_en": "Hearing", "body_en": "Next week."}
    first = client.post(f"/admin/{SLUG}/updates", data=data)
    second = client.post(f"/admin/{SLUG}/updates", data=data)
    assert first.status_code == second.status_code == 303
    assert len(db.session.scalars(select(CampaignUpdate)).all()) == 1
    assert deliver(app) == 1
    assert len(mailbox.to("maryam@example.org")) == 1
    # The same key through the service, as a parallel request would send it.
    from campaign.models import Campaign
    from campaign.services import updates
    from campaign.services.content import library

    campaign = db.session.scalars(select(Campaign)).one()
    again, fresh = updates.post(
        library().get(SLUG),
        campaign,
        {"en": ("Hearing", "Next week.")},
        publish_key=data["publish_key"],
    )
    assert not fresh and [u.title for u in again] == ["Hearing"]
    assert deliver(app) == 0


def test_update_recipients_queued_by_worker(app, users, as_role, mailbox):
    """The request queues no mail; `flask mail work` expands the update in batches,
    resumes from its cursor, and a racing second worker can't queue a batch twice."""
    from campaign.models import UpdatePublication
    from campaign.services import mail_worker, updates

    for n in range(5):
        make_signature(f"Signer {'ABCDE'[n]}", f"s{n}@example.org", "DE")
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/updates",
        data={**form_for(client), "send": "y", "title_en": "News", "body_en": "Text"},
    )
    assert response.status_code == 303
    assert outbox() == []  # nothing queued on the request
    assert updates.expand_published(batch=2) == 2
    publication = db.session.scalars(select(UpdatePublication)).one()
    assert publication.mail_done_at is None and len(outbox()) == 2
    # A second worker that read the same cursor before this batch loses the race.
    stale = SimpleNamespace(
        id=publication.id, campaign_id=publication.campaign_id, mail_cursor=publication.mail_cursor
    )
    assert updates.expand_published(batch=2) == 2
    assert updates._expand_batch(stale, 2) == 0
    assert len(outbox()) == 4
    assert deliver(app) == 5  # `flask mail work` queues the last one and sends all
    for n in range(5):
        assert len(mailbox.to(f"s{n}@example.org")) == 1
    db.session.expire_all()
    assert db.session.scalars(select(UpdatePublication)).one().mail_done_at is not None
    assert mail_worker.prepare_outbox() == 0  # done: nothing more


def outbox() -> list:
    from campaign.models import OutboxMessage

    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "update")).all()


def test_s2_unsubscribing_drops_the_queued_update_mail(app, users, as_role, mailbox):
    """Before, the news already queued for a signer (expanded by the worker, not yet
    sent) still went out after they pressed Unsubscribe. Other mail is kept: only
    the update was sent because of the consent."""
    from campaign.models import OutboxMessage
    from campaign.services import mail, mail_worker
    from campaign.services.mail_transport import Mail

    leaving = make_signature("Maryam Ahmadi", "leaving@example.org", "DE")
    staying = make_signature("Nima Rahimi", "staying@example.org", "IR")
    client = as_role("organizer")
    posted = client.post(
        f"/admin/{SLUG}/updates",
        data={**form_for(client), "send": "y", "title_en": "News", "body_en": "The UN heard us."},
    )
    assert posted.status_code == 303
    with app.app_context():
        assert mail_worker.prepare_outbox() == 2  # queued, not sent
    other = Mail(to="leaving@example.org", subject="Your receipt", text="kept")
    mail.enqueue(other, kind="receipt", signature_id=leaving.id)
    db.session.commit()

    response = client.post(unsubscribe_path(leaving), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    db.session.expire_all()
    queued = db.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
    assert sorted((m.kind, m.signature_id) for m in queued) == sorted(
        [("update", staying.id), ("receipt", leaving.id)]
    )
    deliver(app)
    assert [m["Subject"] for m in mailbox.to("leaving@example.org")] == ["Your receipt"]
    assert len(mailbox.to("staying@example.org")) == 1
