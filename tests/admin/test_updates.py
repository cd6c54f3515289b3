"""Campaign updates: posted in the admin, mailed (per language) to consenting confirmed
signers with a one-click unsubscribe (RFC 8058), and the public unsubscribe route."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, CampaignUpdate, OutboxMessage, Signature
from tests.admin.helpers import forget_cached_csrf, make_signature
from tests.helpers import SLUG, deliver, hidden_fields


def form_for(client) -> dict:
    """The updates form's hidden fields: the CSRF token and this form's publish key."""
    forget_cached_csrf()
    return hidden_fields(client.get(f"/admin/{SLUG}/updates").get_data(as_text=True))


def test_update_is_stored_and_mailed_in_each_signers_language_or_not_at_all(
    app, users, as_role, mailbox
):
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

    assert deliver(app) == 2  # not Claire: there is no French text
    db.session.expire_all()  # the worker ran in its own app context and session
    assert all(u.emailed_at for u in db.session.scalars(select(CampaignUpdate)))
    assert mailbox.to("reza@example.org") == [] and mailbox.to("sara@example.org") == []
    [english] = mailbox.to("maryam@example.org")
    [persian] = mailbox.to("nima@example.org")
    assert mailbox.to("claire@example.org") == []  # no English mail to a French signer
    assert "The UN heard us" in english["Subject"]
    assert "سازمان ملل" in persian["Subject"]
    persian_text = persian.get_body(("plain",)).get_content()
    assert "Hello" not in persian_text and "An update on" not in persian_text  # its wrapper too
    mailed = json.loads(
        db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "update.mailed"))
    )
    assert (mailed["mails"], mailed["not_mailed"], mailed["languages"]) == (2, 1, ["en", "fa"])
    for message in (english, persian):
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
    from campaign.services.intake import links

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
    from campaign.services.intake import links

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
    from campaign.services.letters import updates
    from campaign.services.pages.content import library

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
    from campaign.services.letters import updates
    from campaign.services.outbox import mail_worker

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
    from campaign.services.outbox import mail, mail_worker
    from campaign.services.outbox.mail_transport import Mail

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


def three_languages() -> None:
    """3 English, 2 French and 1 Persian signer who agreed to hear from us, and two
    who are not mailed whatever is written (no consent; not confirmed)."""
    for i in range(3):
        make_signature(f"Ali Rezaei{'abc'[i]}", f"en{i}@example.org", "DE")
    for i in range(2):
        make_signature(f"Claire Martin{'ab'[i]}", f"fr{i}@example.org", "FR", language="fr")
    make_signature("Nima Rahimi", "fa0@example.org", "IR", language="fa")
    make_signature("Reza Karimi", "reza@example.org", "FR", contact=False)
    make_signature("Sara Tehrani", "sara@example.org", "SE", status="pending")


ENGLISH_AND_FRENCH = {
    "title_en": "The UN heard us",
    "body_en": "Our petition was received.",
    "title_fr": "L’ONU nous a entendus",
    "body_fr": "Notre pétition a été reçue.",
}


def test_updates_form_does_not_mail_unless_the_box_is_ticked(app, users, as_role, mailbox):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    client = as_role("organizer")
    page = client.get(f"/admin/{SLUG}/updates").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="send"[^>]*>', page).group(0)
    assert "checked" not in box
    response = client.post(
        f"/admin/{SLUG}/updates",
        data={**form_for(client), "step": "publish", "title_en": "News", "body_en": "Text."},
    )
    assert response.status_code == 303
    assert db.session.scalar(select(func.count()).select_from(CampaignUpdate)) == 1
    assert deliver(app) == 0 and mailbox.to("maryam@example.org") == []


def test_preview_shows_each_mail_and_who_gets_it_by_language(app, users, as_role):
    three_languages()
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/updates",
        data={**form_for(client), "step": "preview", "send": "y", **ENGLISH_AND_FRENCH},
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = re.sub(r"<[^>]+>", "", page)
    assert "5 people will get this: 3 English, 2 Français." in text
    assert "1 will not, as there is no text in their language: 1 فارسی." in text
    assert "6 signers agreed to hear from us: 3 English, 2 Français, 1 فارسی." in text
    # Each language's mail as a signer gets it: the French one wrapped in French.
    assert "News: The UN heard us" in text and "Our petition was received." in text
    french = re.search(r'<article class="mail-preview" lang="fr".*?</article>', page, re.S)
    assert "L’ONU nous a entendus" in french.group(0) and "Hello" not in french.group(0)
    # A preview publishes and queues nothing, and names no signer.
    assert db.session.scalar(select(func.count()).select_from(CampaignUpdate)) == 0
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert "Ali Rezaei" not in page and "Claire Martin" not in page


def test_test_send_mails_the_organizer_alone_in_each_language(app, users, as_role, mailbox):
    three_languages()
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/updates",
        data={**form_for(client), "step": "test", "send": "y", **ENGLISH_AND_FRENCH},
    )
    assert response.status_code == 200
    assert "5 people will get this" in re.sub(r"<[^>]+>", "", response.get_data(as_text=True))
    assert db.session.scalar(select(func.count()).select_from(CampaignUpdate)) == 0
    assert deliver(app) == 2
    organizer = users["organizer"].email
    subjects = sorted(str(m["Subject"]) for m in mailbox.to(organizer))
    assert subjects[0].startswith("[Test] Actualité") and "L’ONU nous a entendus" in subjects[0]
    assert subjects[1] == "[Test] News: The UN heard us"
    assert all(mailbox.to(f"en{i}@example.org") == [] for i in range(3))
    assert db.session.scalar(select(func.count()).where(AuditEvent.action == "update.test")) == 1


def test_unknown_update_step_is_a_400(app, users, as_role):
    client = as_role("organizer")
    response = client.post(
        f"/admin/{SLUG}/updates", data={**form_for(client), "step": "mail-everyone"}
    )
    assert response.status_code == 400
