"""Campaign updates: organizers post news; it is stored, and mailed through the outbox
to confirmed signers who consented to contact, each in the signer's own language.

Every update mail carries a one-click unsubscribe (RFC 8058: `List-Unsubscribe` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`) and the withdraw link.
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import Campaign, CampaignUpdate, Signature, SignatureStatus, utcnow
from . import audit, crypto, links, mail
from .content import CampaignContent

DUPLICATE_WINDOW_MINUTES = 30


class UpdateError(ValueError):
    pass


def post(
    content: CampaignContent,
    campaign: Campaign,
    texts: dict[str, tuple[str, str]],
    *,
    author_id: int | None = None,
    send: bool = True,
) -> tuple[list[CampaignUpdate], int]:
    """Store one update per language given (title, body) and queue the mails.

    Returns (the updates, mails queued). Everything commits in one transaction.
    """
    texts = {
        lang: (t.strip(), b.strip()) for lang, (t, b) in texts.items() if t.strip() and b.strip()
    }
    if not texts:
        raise UpdateError(_("Write a title and a text in at least one language."))
    now = utcnow()
    # A double submit of the form must not mail every signer twice.
    recent = db.session.scalars(
        select(CampaignUpdate).where(
            CampaignUpdate.campaign_id == campaign.id,
            CampaignUpdate.published_at > now - timedelta(minutes=DUPLICATE_WINDOW_MINUTES),
        )
    ).all()
    if any(texts.get(u.language) == (u.title, u.body) for u in recent):
        raise UpdateError(_("This update was just posted; it is not sent twice."))
    updates = {}
    for language, (title, body) in texts.items():
        update = CampaignUpdate(campaign_id=campaign.id, language=language, title=title[:200],
                                body=body, author_id=author_id, published_at=now)  # fmt: skip
        db.session.add(update)
        updates[language] = update
    db.session.flush()
    queued = queue_mails(content, campaign, updates) if send else 0
    if send:
        for update in updates.values():
            update.emailed_at = utcnow()
    audit.record("update.post", campaign_id=campaign.id, target=content.slug,
                 details={"languages": sorted(updates), "mails": queued,
                          "ids": [u.id for u in updates.values()]})  # fmt: skip
    db.session.commit()
    return list(updates.values()), queued


def pick(updates: dict[str, CampaignUpdate], language: str, default: str) -> CampaignUpdate:
    return updates.get(language) or updates.get(default) or next(iter(updates.values()))


def recipients_query(campaign_id: int):
    return (
        select(Signature)
        .where(
            Signature.campaign_id == campaign_id,
            Signature.status == SignatureStatus.CONFIRMED,
            Signature.flagged.is_(False),
            Signature.contact_consent.is_(True),
            Signature.email_enc.is_not(None),
            Signature.link_nonce.is_not(None),
        )
        .order_by(Signature.id)
    )


def update_mail(
    content: CampaignContent, signature: Signature, update: CampaignUpdate
) -> mail.Mail:
    language = signature.language
    # The header carries the unsubscribe-only token: providers fetch it, forwards keep it.
    unsubscribe_url = links.external_url(
        "petition.unsubscribe", language, slug=content.slug,
        token=links.make_token(signature, "unsubscribe"),
    )  # fmt: skip
    message = mail.render_mail(
        "update", update.language, to=crypto.decrypt(signature.email_enc),
        name=crypto.decrypt(signature.name_enc), campaign_title=content.text(update.language).title,
        update_title=update.title, body=update.body, unsubscribe_url=unsubscribe_url,
        withdraw_url=links.external_url("petition.withdraw", language, slug=content.slug,
                                        token=links.make_token(signature, "withdraw")),
        page_url=links.external_url("petition.campaign_page", language, slug=content.slug),
    )  # fmt: skip
    message.headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def queue_mails(
    content: CampaignContent, campaign: Campaign, updates: dict[str, CampaignUpdate]
) -> int:
    """Queue one mail per recipient, walking the recipients by id in chunks (keyset),
    so memory stays flat however many there are. The caller commits."""
    queued, last_id = 0, 0
    while True:
        chunk = db.session.scalars(
            recipients_query(campaign.id).where(Signature.id > last_id).limit(500)
        ).all()
        if not chunk:
            return queued
        for signature in chunk:
            update = pick(updates, signature.language, content.default_language)
            mail.enqueue(update_mail(content, signature, update), kind="update",
                         signature_id=signature.id)  # fmt: skip
            queued += 1
        last_id = chunk[-1].id
        db.session.flush()
        for signature in chunk:
            db.session.expunge(signature)


def recent(campaign_id: int, limit: int = 20) -> list[CampaignUpdate]:
    return db.session.scalars(
        select(CampaignUpdate).where(CampaignUpdate.campaign_id == campaign_id)
        .order_by(CampaignUpdate.published_at.desc(), CampaignUpdate.id.desc()).limit(limit)
    ).all()  # fmt: skip
