"""Campaign updates: organizers post news; it is stored, and mailed through the outbox
to confirmed signers who gave the contact consent (the registry's consent for mail from
the organizers, services/signer_data/consents.py).

The language rule: each signer gets the update in their own language, wrapper and
all, or gets no mail. An update written only in English is not mailed to French or
Persian signers; the organizer's count says so before publishing
(`update_preview.audience`), and the audit entry after mailing.

Publishing is idempotent (one `UpdatePublication` per form nonce, UNIQUE), and the
request queues no mail: the mail worker expands each publication into outbox rows
in batches (`expand_published`), so a large list never holds up the organizer's
request or a transaction.

Every update mail carries a one-click unsubscribe (RFC 8058: `List-Unsubscribe` with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click`) and the withdraw link.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Campaign, CampaignUpdate, Signature, UpdatePublication, utcnow
from ..intake import links
from ..outbox import mail
from ..outbox.mail_transport import Mail, render_mail
from ..pages.content import CampaignContent, library
from ..sealing import audit, sealed
from ..signer_data import consents

DUPLICATE_WINDOW_MINUTES = 30
MAIL_WORKER = "mail worker"  # who the audit log names for mail queued by the worker


class UpdateError(ValueError):
    pass


def new_publish_key() -> str:
    """The one-time key a freshly shown updates form carries (see `post`)."""
    return secrets.token_urlsafe(24)


def post(
    content: CampaignContent,
    campaign: Campaign,
    texts: dict[str, tuple[str, str]],
    *,
    author_id: int | None = None,
    send: bool = True,
    publish_key: str | None = None,
) -> tuple[list[CampaignUpdate], bool]:
    """Store one update per language given (title, body), in one transaction.

    Returns (the updates, whether this call published them). A second call with the
    same `publish_key` (a double-clicked or resent form) publishes nothing and
    returns the first call's updates. Mail is not queued here: `expand_published`,
    run by the mail worker, turns the publication into outbox rows in batches.
    """
    texts = {
        lang: (t.strip(), b.strip()) for lang, (t, b) in texts.items() if t.strip() and b.strip()
    }
    if not texts:
        raise UpdateError(_("Write a title and a text in at least one language."))
    publish_key = (publish_key or new_publish_key())[:64]
    earlier = published_with(publish_key)
    if earlier is not None:
        return earlier, False
    now = utcnow()
    # The same text posted again from another copy of the form is refused too.
    recent = db.session.scalars(
        select(CampaignUpdate).where(
            CampaignUpdate.campaign_id == campaign.id,
            CampaignUpdate.published_at > now - timedelta(minutes=DUPLICATE_WINDOW_MINUTES),
        )
    ).all()
    if any(texts.get(u.language) == (u.title, u.body) for u in recent):
        raise UpdateError(_("This update was just posted; it is not sent twice."))
    publication = UpdatePublication(
        campaign_id=campaign.id,
        publish_key=publish_key,
        send_mail=send,
        mail_cursor=0,
        mails_queued=0,
        created_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(publication)
    except IntegrityError:  # the same key, committed by a parallel request just now
        db.session.rollback()
        return published_with(publish_key) or [], False
    updates = []
    for language, (title, body) in texts.items():
        update = CampaignUpdate(
            campaign_id=campaign.id,
            language=language,
            title=title[:200],
            body=body,
            author_id=author_id,
            published_at=now,
            publication_id=publication.id,
        )
        db.session.add(update)
        updates.append(update)
    db.session.flush()
    reach = audience(campaign.id, texts)
    audit.record(
        "update.post",
        campaign_id=campaign.id,
        target=content.slug,
        details={
            "languages": sorted(texts),
            "mail": send,
            "ids": [u.id for u in updates],
            "title": texts.get(content.default_language, next(iter(texts.values())))[0][:200],
            # Who it will reach as published (the worker's entry says who it reached).
            "recipients": reach.total if send else 0,
            "not_mailed": reach.left_out_total if send else 0,
        },
    )
    db.session.commit()
    return updates, True


def published_with(publish_key: str) -> list[CampaignUpdate] | None:
    publication_id = db.session.scalar(
        select(UpdatePublication.id).where(UpdatePublication.publish_key == publish_key)
    )
    if publication_id is None:
        return None
    return list(
        db.session.scalars(
            select(CampaignUpdate).where(CampaignUpdate.publication_id == publication_id)
        )
    )


@dataclass(frozen=True)
class Audience:
    """Who an update would be mailed to, by language: `reached` are the consenting
    signers of the languages it is written in; `left_out` the others (no mail)."""

    reached: dict[str, int]
    left_out: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.reached.values())

    @property
    def left_out_total(self) -> int:
        return sum(self.left_out.values())


def audience(campaign_id: int, languages: Iterable[str]) -> Audience:
    """Counts only (no one's data is read): consenting signers per language."""
    written = set(languages)
    counts = db.session.execute(
        select(Signature.language, func.count())
        .where(*consenting(campaign_id))
        .group_by(Signature.language)
        .order_by(func.count().desc(), Signature.language)
    ).all()
    return Audience(
        reached={lang: n for lang, n in counts if lang in written},
        left_out={lang: n for lang, n in counts if lang not in written},
    )


def consenting(campaign_id: int) -> list:
    """SQL conditions: a counted signer of this campaign who agreed to mail from the
    organizers (by the consent registry, not a column named here) and can be written to."""
    return [
        Signature.campaign_id == campaign_id,
        Signature.counted,
        *consents.given(consents.ORGANIZERS),
        Signature.email_enc.is_not(None),
        Signature.link_nonce.is_not(None),
        Signature.mailbox_confirmed,  # a paper row's address: once its owner confirmed
    ]


def recipients_query(campaign_id: int, languages: Iterable[str]):
    """The signers an update written in `languages` is mailed to: only those whose
    language it is written in (the language rule above)."""
    return (
        select(Signature)
        .where(*consenting(campaign_id), Signature.language.in_(sorted(languages)))
        .order_by(Signature.id)
    )


def update_mail(content: CampaignContent, signature: Signature, update: CampaignUpdate) -> Mail:
    language = signature.language
    # The header carries the unsubscribe-only token: providers fetch it, forwards keep it.
    unsubscribe_url = links.external_url(
        "petition.unsubscribe",
        language,
        slug=content.slug,
        token=links.make_token(signature, "unsubscribe"),
    )
    message = render_mail(
        "update",
        update.language,
        to=sealed.unseal(sealed.SIGNER_MAIL, "email", signature.email_enc, signature.row_key),
        name=sealed.unseal(sealed.SIGNER_MAIL, "name", signature.name_enc, signature.row_key),
        campaign_title=content.text(update.language).title,
        update_title=update.title,
        body=update.body,
        unsubscribe_url=unsubscribe_url,
        withdraw_url=links.external_url(
            "petition.withdraw",
            language,
            slug=content.slug,
            token=links.make_token(signature, "withdraw"),
        ),
        page_url=links.external_url("petition.campaign_page", language, slug=content.slug),
    )
    message.headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


def expand_published(batch: int = 500) -> int:
    """Queue the mails of published updates, one batch of recipients per publication
    per call; the mail worker calls this on every pass. Returns the mails queued.

    Each batch commits with its cursor advance, conditional on the cursor being
    where this worker read it: two workers racing on one publication can't both
    commit a batch, so every recipient gets one mail. A crash mid-way loses
    nothing; the next pass resumes from the cursor.
    """
    queued = 0
    pending = db.session.scalars(
        select(UpdatePublication)
        .where(UpdatePublication.send_mail.is_(True), UpdatePublication.mail_done_at.is_(None))
        .order_by(UpdatePublication.id)
    ).all()
    for publication in pending:
        queued += _expand_batch(publication, batch)
    return queued


def _expand_batch(publication: UpdatePublication, batch: int) -> int:
    cursor, publication_id = publication.mail_cursor, publication.id
    updates = {
        u.language: u
        for u in db.session.scalars(
            select(CampaignUpdate).where(CampaignUpdate.publication_id == publication_id)
        )
    }
    content = library().get(publication_campaign_slug(publication.campaign_id))
    # FOR SHARE (PostgreSQL): an unsubscribe waits for this batch, or this batch for
    # it and then skips the signer (services/signer_data/privacy.py, unsubscribe).
    chunk = (
        db.session.scalars(
            recipients_query(publication.campaign_id, updates)
            .where(Signature.id > cursor)
            .limit(batch)
            .with_for_update(read=True)
        ).all()
        if updates and content is not None
        else []
    )
    now = utcnow()
    for signature in chunk:
        update = updates[signature.language]  # the query chose signers of these languages
        mail.enqueue(
            update_mail(content, signature, update), kind="update", signature_id=signature.id
        )
    done = len(chunk) < batch
    moved = db.session.execute(
        sa_update(UpdatePublication)
        .where(
            UpdatePublication.id == publication_id,
            UpdatePublication.mail_cursor == cursor,
            UpdatePublication.mail_done_at.is_(None),
        )
        .values(
            mail_cursor=chunk[-1].id if chunk else cursor,
            mails_queued=UpdatePublication.mails_queued + len(chunk),
            mail_done_at=now if done else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:  # another worker took this batch first
        db.session.rollback()
        return 0
    if done:
        for update in updates.values():
            update.emailed_at = now
        left_out = db.session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(*consenting(publication.campaign_id), Signature.language.not_in(sorted(updates)))
        )
        audit.record(
            "update.mailed",
            actor_email=MAIL_WORKER,
            campaign_id=publication.campaign_id,
            target=publication_campaign_slug(publication.campaign_id),
            details={
                "publication": publication_id,
                "mails": publication.mails_queued + len(chunk),
                "languages": sorted(updates),
                "title": _title(updates, content),
                "not_mailed": left_out or 0,
            },
        )
    db.session.commit()
    return len(chunk)


def _title(updates: dict[str, CampaignUpdate], content: CampaignContent | None) -> str:
    """The update's title for the audit log: in the campaign's main language if written."""
    default = content.default_language if content is not None else ""
    chosen = updates.get(default) or next(iter(updates.values()), None)
    return chosen.title if chosen is not None else ""


def publication_campaign_slug(campaign_id: int) -> str:
    return db.session.scalar(select(Campaign.slug).where(Campaign.id == campaign_id)) or ""


def recent(campaign_id: int, limit: int = 20) -> list[CampaignUpdate]:
    return db.session.scalars(
        select(CampaignUpdate)
        .where(CampaignUpdate.campaign_id == campaign_id)
        .order_by(CampaignUpdate.published_at.desc(), CampaignUpdate.id.desc())
        .limit(limit)
    ).all()
