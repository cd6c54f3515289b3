"""Mail a visitor asks for from a public form, the same work for every address.

"Send the email again", "mail me my links again" and "wrong address?" each write one
bodiless outbox row on the request, and nothing else: no lookup of the address, no cap
checked, no row updated. What the worker needs (the address's keyed hash, the typed
address, or the corrected address) travels in the row's context, sealed to that row
(`sealed.seal_payload`, bound to its idempotency key). So the request costs the same
whether the address has no submission, a pending, confirmed, withdrawn or erased one,
is blocked, or has spent its extra mails (issue 21, M2), and its answer and timing tell
nothing.

The worker (`flask mail work`) opens the request, forgets the sealed part, and decides
what, if anything, to send: the decision that used to run on the request, under the
same extra-mail cap (`signer_mail.take_extra_mail`). A request the worker turns into a
mail takes that mail's kind (`resend`, `links`, `confirm`), so retries render it as such.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import select, update

from ...extensions import db
from ...models import OutboxMessage, Signature, SignatureStatus
from ..intake import links
from ..intake.validation import normalize_email
from ..outbox import mail
from ..outbox.mail_transport import Mail
from ..pages.campaigns import campaign_ref
from ..pages.content import CampaignContent, library
from ..sealing import crypto, sealed
from ..sealing.blind_index import dedup_key, domain_hash
from .signer_mail import is_expired, mail_for, render_submission, take_extra_mail

RESEND = "resend-request"  # "send the email again": the address's newest pending submission
LINKS = "links-request"  # "mail me my links again": a confirmed signer's links, else as RESEND
CORRECT = "correct-request"  # "wrong address?": move the noted submission, then mail it


def ask(
    kind: str,
    content: CampaignContent,
    language: str,
    secret: str,
    signature_id: int | None = None,
) -> None:
    """Queue one request: one outbox INSERT, committed. `secret` is sealed to the row."""
    row = mail.render_row(kind, signature_id, language)
    sealed_secret = sealed.seal_payload(secret, row["idempotency_key"])
    row["context"] = json.dumps({"slug": content.slug, "ask": sealed_secret})
    db.session.connection().execute(mail.INSERT_RENDERED, row)
    db.session.commit()


def _open(outbox: OutboxMessage) -> tuple[CampaignContent, str] | None:
    """The campaign and the sealed secret of a request. The row keeps only the slug from
    now on (committed with the decision), so a sent request names no one."""
    context = json.loads(outbox.context or "{}")
    slug, token = context.get("slug"), context.get("ask")
    outbox.context = json.dumps({"slug": slug})
    content = library().get(slug) if isinstance(slug, str) else None
    try:
        secret = sealed.open_payload(token, outbox.idempotency_key) if token else None
    except crypto.CryptoError:
        secret = None  # a retired key: nothing to decide
    return (content, secret) if content is not None and secret else None


def _nothing() -> None:
    db.session.commit()  # the request's forgotten secret, and any cap taken


def _mail_as(outbox: OutboxMessage, kind: str, signature: Signature) -> None:
    outbox.kind, outbox.signature_id = kind, signature.id
    db.session.commit()


def _waiting_submission(content: CampaignContent, key: str) -> Signature | None:
    """The address's newest pending submission that was mailed (bot-made ones never were)."""
    signature = db.session.scalar(
        select(Signature)
        .where(
            Signature.campaign_id == campaign_ref(content).id,
            Signature.dedup_key == key,
            Signature.status == SignatureStatus.PENDING,
            Signature.email_enc.is_not(None),
            Signature.mailed_at.is_not(None),
        )
        .order_by(Signature.id.desc())
        .limit(1)
    )
    return None if signature is None or is_expired(signature) else signature


def _confirm_again(outbox: OutboxMessage, content: CampaignContent, key: str) -> Mail | None:
    signature = _waiting_submission(content, key) if content.accepts_signatures else None
    if signature is None or not take_extra_mail(signature.id):
        return _nothing()
    _mail_as(outbox, "resend", signature)
    return mail_for("confirm", content, signature)


def render_resend_request(outbox: OutboxMessage) -> Mail | None:
    """A pending submission's confirmation link again, within the cap."""
    opened = _open(outbox)
    return _confirm_again(outbox, *opened) if opened else _nothing()


def render_links_request(outbox: OutboxMessage) -> Mail | None:
    """A confirmed signer's links (withdraw, data copy); a pending one's link again.

    The request carries the address as typed, so a signer whose address is sealed to
    the organizers (issue 23: confirmed without campaign mail, no readable address
    left) is mailed at the address they typed, which has their dedup key. A retry of
    that mail is the one rendered now, stored sealed to its row as any stored mail is
    (the renderer is not asked again). Requests queued before this carried the dedup
    key alone."""
    opened = _open(outbox)
    if opened is None:
        return _nothing()
    content, asked = opened
    if content.state() not in ("open", "closed"):  # archived: personal data is gone
        return _nothing()
    if "@" in asked:
        try:  # validated (and looked up in DNS) when asked: not again
            email = normalize_email(asked, check_dns=False)
            exact = normalize_email(asked, fold_aliases=False, check_dns=False)
        except ValueError:
            return _nothing()
        # Mail the typed address only when it is the signer's own, not an alias that
        # folds onto it (`FOLD_EMAIL_ALIASES`): user+x@ may be another mailbox.
        key = dedup_key(email.canonical)
        typed = email.address if exact.canonical == email.canonical else None
    else:
        key, typed = asked, None
    signature = db.session.scalar(
        select(Signature).where(
            Signature.campaign_id == campaign_ref(content).id,
            Signature.dedup_key == key,
            Signature.status == SignatureStatus.CONFIRMED,
        )
    )
    if signature is None:
        return _confirm_again(outbox, content, key)
    to = None if signature.email_enc else typed
    if (signature.email_enc is None and to is None) or not take_extra_mail(signature.id):
        return _nothing()
    mail = mail_for("links", content, signature, to)
    if to is not None:  # the address is forgotten: a retry sends what was rendered
        outbox.payload_enc = sealed.seal_payload(json.dumps(asdict(mail)), outbox.idempotency_key)
    _mail_as(outbox, "links", signature)
    return mail


def render_correct_request(outbox: OutboxMessage) -> Mail | None:
    """Move a still-pending submission to the corrected address, then decide its mail as
    for any new submission (a link, or the capped "already signed" note)."""
    opened = _open(outbox)
    if opened is None or outbox.signature_id is None:
        return _nothing()
    content, typed = opened
    try:
        email = normalize_email(typed)
    except ValueError:
        return _nothing()
    signature = db.session.get(Signature, outbox.signature_id)
    if (
        signature is None
        or signature.status != SignatureStatus.PENDING
        or signature.campaign_id != campaign_ref(content).id
        or is_expired(signature)
        or not signature.email_enc
        or not content.accepts_signatures
        or not take_extra_mail(signature.id)  # capped like resending: no mail cannon
    ):
        return _nothing()
    db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id, Signature.status == SignatureStatus.PENDING)
        .values(
            email_enc=sealed.seal("email", email.address, signature.row_key),
            dedup_key=dedup_key(email.canonical),
            email_domain_hash=domain_hash(email.domain),
            link_nonce=links.new_nonce(),  # the link mailed to the typo stops working
            mailed_at=None,  # decided afresh for the corrected address
        )
        .execution_options(synchronize_session=False)
    )
    outbox.kind = "confirm"  # from now on, this submission's mail
    # The worker may hold this row already (it loads a batch's signatures at once):
    # read it anew, corrected address and all.
    db.session.expire(signature)
    db.session.commit()
    return render_submission(outbox)


mail.register_renderer(RESEND, render_resend_request)
mail.register_renderer(LINKS, render_links_request)
mail.register_renderer(CORRECT, render_correct_request)
