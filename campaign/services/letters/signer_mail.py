"""Signer mail, rendered by the mail worker at send time (`flask mail work`).

The sign request only writes the submission and a bodiless outbox row, the same work
for a first and a repeat signing (so the answer's timing tells nothing). The worker
decides, per submission, what the address gets:

* the address already holds a confirmed (or confirmed, then invalidated) signature:
  the submission is deleted and the address gets the capped "already signed" note;
* otherwise the submission gets its own confirmation link, which confirms exactly what
  was sent with it; the first is free, then at most ALREADY_SIGNED_MAIL_LIMIT more
  while earlier ones wait, and submissions past that cap are deleted unmailed.

A blocked source's placeholder (`signing.placeholder`, the same writes as a signing)
is deleted unmailed. Mail asked for from the public forms (resend, links again, a
corrected address) is decided in services/letters/mail_requests.py. The reminder mail and its
schedule live in services/letters/reminders.py.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, delete, or_, select, update

from ...extensions import db
from ...models import NameToken, OutboxMessage, Signature, SignatureStatus, utcnow
from ..intake import links
from ..outbox import mail_template
from ..outbox.mail import register_renderer
from ..outbox.mail_transport import Mail
from ..pages import cache as caches
from ..pages.content import CampaignContent, library
from ..sealing import sealed
from ..signer_data import privacy


def take_extra_mail(signature_id: int) -> bool:
    """Count one more mail beyond the first (an "already signed" note, a resent
    confirmation, links again, a corrected address), or refuse past
    ALREADY_SIGNED_MAIL_LIMIT in the current window of EXTRA_MAIL_WINDOW_HOURS.

    The window opens with its first mail and a new one opens once it is over, so no
    one can spend an address's allowance for good (issue 21, L2). Checked and raised in
    one statement, so parallel requests can't exceed the cap.
    """
    config = current_app.config
    now = utcnow()
    opens_anew = or_(
        Signature.extra_mails_since.is_(None),
        Signature.extra_mails_since <= now - timedelta(hours=config["EXTRA_MAIL_WINDOW_HOURS"]),
    )
    return bool(
        db.session.execute(
            update(Signature)
            .where(
                Signature.id == signature_id,
                or_(opens_anew, Signature.extra_mails < config["ALREADY_SIGNED_MAIL_LIMIT"]),
            )
            .values(
                extra_mails=case((opens_anew, 1), else_=Signature.extra_mails + 1),
                extra_mails_since=case((opens_anew, now), else_=Signature.extra_mails_since),
                already_signed_mails=Signature.already_signed_mails + 1,  # the lifetime total
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def extra_mails_left(signature: Signature) -> int:
    """How many extra mails the signature's current window still allows."""
    config = current_app.config
    since = signature.extra_mails_since
    window = timedelta(hours=config["EXTRA_MAIL_WINDOW_HOURS"])
    if since is None or since <= utcnow() - window:
        return config["ALREADY_SIGNED_MAIL_LIMIT"]
    return max(config["ALREADY_SIGNED_MAIL_LIMIT"] - (signature.extra_mails or 0), 0)


def delete_submissions(ids: list[int], *, keep_outbox_id: int | None = None) -> None:
    """Delete pending submissions with their name tokens and their mail (but the one
    message being handled, if any). The caller commits."""
    if not ids:
        return
    outbox = delete(OutboxMessage).where(OutboxMessage.signature_id.in_(ids))
    if keep_outbox_id is not None:
        outbox = outbox.where(OutboxMessage.id != keep_outbox_id)
    db.session.execute(outbox)
    db.session.execute(delete(NameToken).where(NameToken.signature_id.in_(ids)))
    db.session.execute(
        delete(Signature)
        .where(Signature.id.in_(ids), Signature.status == SignatureStatus.PENDING)
        .execution_options(synchronize_session=False)
    )


def signer_links(content: CampaignContent, signature: Signature) -> dict[str, str]:
    routed = _Routed(signature.language, content.slug)
    return {
        # The secret that opens the signer's own sealed copy (issue 23): only in the mail
        # sent while the submission is pending; the server keeps it no longer.
        "data_url": routed.url("petition.my_data", signature, "data", k=signature.link_secret),
        "confirm_url": routed.url("petition.confirm", signature, "confirm"),
        "withdraw_url": routed.url("petition.withdraw", signature, "withdraw"),
        "page_url": routed.url("petition.campaign_page", None, ""),
    }


# A token is digits, "-" and hex, and a link secret (`secrets.token_urlsafe`) letters,
# digits, "-" and "_": never quoted in a URL, so a link is its endpoint's URL (built
# once per endpoint, language and campaign) with the token, and `?k=` and the secret,
# put in place.
_TOKEN_PLACE = "0-" + "0" * 40
_UNQUOTED = re.compile(r"[A-Za-z0-9_-]+")


class _Routed:
    """Links of one language and campaign: `url(endpoint, signature, purpose[, k])` is
    `links.external_url(endpoint, language, slug=slug[, token=…][, k=k])`, the URL's
    routing done once per endpoint (it was a tenth of the mail worker's CPU per message)."""

    def __init__(self, language: str, slug: str) -> None:
        self.language, self.slug = language, slug
        self.cache = caches.store(caches.SIGNER_LINK_URLS)
        self.base = current_app.config["BASE_URL"]

    def url(
        self, endpoint: str, signature: Signature | None, purpose: str, k: str | None = None
    ) -> str:
        language, slug = self.language, self.slug
        key = (endpoint, language, slug, self.base)
        parts = self.cache.get(key)
        if parts is None:
            if signature is None:
                parts = (links.external_url(endpoint, language, slug=slug),)
            else:
                url = links.external_url(endpoint, language, slug=slug, token=_TOKEN_PLACE)
                head, place, tail = url.rpartition(_TOKEN_PLACE)
                parts = (head, tail) if place and "?" not in tail else None
            if parts is not None:
                self.cache[key] = parts
        if parts is None or (k and not _UNQUOTED.fullmatch(k)):  # routed as it comes
            token = {} if signature is None else {"token": links.make_token(signature, purpose)}
            query = {"k": k} if k else {}
            return links.external_url(endpoint, language, slug=slug, **token, **query)
        if len(parts) == 1:
            return parts[0]
        query = f"?k={k}" if k else ""
        return f"{parts[0]}{links.make_token(signature, purpose)}{parts[1]}{query}"


def is_expired(signature: Signature) -> bool:
    expiry = timedelta(days=current_app.config["CONFIRM_EXPIRY_DAYS"])
    return signature.status == SignatureStatus.PENDING and signature.created_at < utcnow() - expiry


def mail_for(
    template: str, content: CampaignContent, signature: Signature, to: str | None = None
) -> Mail:
    """One of the signer mails (confirm, already_signed, reminder) for `signature`,
    to its address or `to`."""
    return mail_template.render(
        template,
        signature.language,
        fixed={
            "title": content.text(signature.language).title,
            "expiry_days": current_app.config["CONFIRM_EXPIRY_DAYS"],
        },
        fills={
            "to": to
            or sealed.unseal(sealed.SIGNER_MAIL, "email", signature.email_enc, signature.row_key),
            "name": sealed.unseal(
                sealed.SIGNER_MAIL, "name", signature.name_enc, signature.row_key
            ),
            **signer_links(content, signature),
        },
    )


def _content(outbox: OutboxMessage, signature: Signature) -> CampaignContent | None:
    slug = json.loads(outbox.context or "{}").get("slug") or signature.campaign.slug
    return library().get(slug)


def pending_submission(outbox: OutboxMessage) -> tuple[Signature, CampaignContent] | None:
    """The still-pending, unexpired submission a message is about, and its campaign."""
    signature = db.session.get(Signature, outbox.signature_id)
    if signature is None or signature.status != SignatureStatus.PENDING:
        return None
    if not signature.email_enc or is_expired(signature):
        return None
    content = _content(outbox, signature)
    if content is None or not content.accepts_signatures:
        return None
    return signature, content


def render_submission(outbox: OutboxMessage) -> Mail | None:
    """A new submission's mail: decided here, at send time, not on the request."""
    found = pending_submission(outbox)
    if found is None:
        return None
    signature, content = found
    if signature.mailed_at is not None:  # decided on an earlier attempt: send it again
        return mail_for("confirm", content, signature)
    # Serialize deciders of one address: SQLite takes its write lock, PostgreSQL locks
    # the address's rows (in id order, so two workers can't deadlock).
    privacy.take_write_lock()
    rows = db.session.execute(
        select(Signature.id, Signature.status, Signature.confirmed_at, Signature.mailed_at)
        .where(
            Signature.campaign_id == signature.campaign_id,
            Signature.dedup_key == signature.dedup_key,
        )
        .order_by(Signature.id)
        .with_for_update()
    ).all()
    if signature.dedup_key is None or all(row.id != signature.id for row in rows):
        db.session.rollback()
        return None
    held = next((row for row in rows if row.confirmed_at is not None), None)
    if held is not None:
        # The address has signed: this submission is redundant; a capped note instead,
        # to this submission's address (the same mailbox): a signature sealed to the
        # organizers keeps no readable address without contact consent (issue 23).
        to = sealed.unseal(sealed.SIGNER_MAIL, "email", signature.email_enc, signature.row_key)
        delete_submissions([signature.id], keep_outbox_id=outbox.id)
        allowed = held.status == SignatureStatus.CONFIRMED and take_extra_mail(held.id)
        outbox.kind, outbox.signature_id = "already-signed", held.id
        db.session.commit()
        return (
            _mail_to_signer(outbox, "already_signed", confirmed=False, to=to) if allowed else None
        )
    mailed = sum(
        1
        for row in rows
        if row.id != signature.id
        and row.mailed_at is not None
        and row.status == SignatureStatus.PENDING
    )
    if mailed > current_app.config["ALREADY_SIGNED_MAIL_LIMIT"]:
        delete_submissions([signature.id], keep_outbox_id=outbox.id)  # over the cap
        db.session.commit()
        return None
    # Issue 23: sealed to the organizers now, as the link (with the secret that opens
    # the signer's copy) is first mailed; the confirm statement then nulls the rest.
    sealing = sealed.seal_pending(signature, privacy.public_name)
    db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id)
        .values(mailed_at=utcnow(), **sealing)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()  # expires `signature`: its link secret is read back for the mail
    return mail_for("confirm", content, signature)


def _mail_to_signer(
    outbox: OutboxMessage, template: str, *, confirmed: bool, to: str | None = None
) -> Mail | None:
    """`template` for the signature a message is about, while it still has an address
    (its own, or `to`) and links (and, with `confirmed`, only while it is confirmed)."""
    signature = db.session.get(Signature, outbox.signature_id)
    if signature is None or not (signature.email_enc or to) or not signature.link_nonce:
        return None
    if confirmed and signature.status != SignatureStatus.CONFIRMED:
        return None
    content = _content(outbox, signature)
    return None if content is None else mail_for(template, content, signature, to)


def render_already_signed(outbox: OutboxMessage) -> Mail | None:
    return _mail_to_signer(outbox, "already_signed", confirmed=False)


def render_confirm_again(outbox: OutboxMessage) -> Mail | None:
    """A resent confirmation (from the form or an organizer): only while still pending."""
    found = pending_submission(outbox)
    if found is None:
        return None
    sealing = sealed.seal_pending(found[0], privacy.public_name)  # an organizer's resend
    if sealing:  # of a submission never mailed before (issue 23)
        db.session.execute(
            update(Signature)
            .where(Signature.id == found[0].id, Signature.organizer_sealed.is_(None))
            .values(**sealing)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return mail_for("confirm", found[1], found[0])


def render_links(outbox: OutboxMessage) -> Mail | None:
    """The data-rights form's mail: a confirmed signer's withdraw and data-copy links."""
    return _mail_to_signer(outbox, "links", confirmed=True)


def render_blocked(outbox: OutboxMessage) -> None:
    """A blocked source's placeholder (signing.placeholder): deleted, nothing sent."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if signature is not None and signature.email_enc is None:  # a placeholder holds none
        delete_submissions([signature.id], keep_outbox_id=outbox.id)
        outbox.signature_id = None
        db.session.commit()


register_renderer("blocked", render_blocked)
register_renderer("confirm", render_submission)
register_renderer("already-signed", render_already_signed)
register_renderer("resend", render_confirm_again)
register_renderer("confirm-resend", render_confirm_again)
register_renderer("links", render_links)
