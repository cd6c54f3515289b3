"""The check-inbox page's memory: which address the mail went to, and fixing a typo.

The sign view leaves a note in a cookie of its own (`NOTE_COOKIE`): the address they
typed and the id of the signature that request created, if it created one, sealed
with AES-GCM (services/sealed.py), so the cookie is secret and can't be forged or
moved to another petition. Not the Flask session: signing then touches no session
(no session cookie to sign and save on the busiest POST). With it the page can show the address
masked, resend without retyping, and move a still-pending signature to a corrected
address. The answers stay neutral: nothing here tells whether an address has signed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import Signature, SignatureStatus
from . import crypto, links, sealed, signing
from .blind_index import dedup_key, domain_hash
from .campaigns import campaign_ref
from .content import CampaignContent
from .mail import enqueue_render
from .signer_mail import is_expired, take_extra_mail
from .validation import normalize_email

NOTE_COOKIE = "inbox"


@dataclass(frozen=True)
class Note:
    email: str  # the address typed, as typed
    signature_id: int | None  # the submission that sign POST created, if any


def make_note(slug: str, typed_email: str, signature_id: int | None) -> str:
    """The sealed cookie value a sign POST leaves for the check-inbox page."""
    return sealed.seal_note(json.dumps([typed_email or "", signature_id]), slug) or ""


def read_note(token: str | None, slug: str) -> Note | None:
    """The note this browser got when it signed `slug`, if it did (and it is intact)."""
    if not token:
        return None
    try:
        email, signature_id = json.loads(sealed.open_note(token, slug) or "null")
    except (crypto.CryptoError, UnicodeError, ValueError, TypeError):
        return None  # another petition's note, a retired key, or not ours at all
    if not isinstance(email, str) or not email:
        return None
    return Note(email, signature_id if isinstance(signature_id, int) else None)


def mask_email(address: str) -> str:
    """`sh****@example.org`: enough to spot a typo in the domain, not to read the name."""
    local, _, domain = address.partition("@")
    keep = 1 if len(local) <= 3 else 2
    return f"{local[:keep]}{'•' * max(len(local) - keep, 1)}@{domain}"


def correct_email(content: CampaignContent, note: Note | None, new_raw: str) -> str | None:
    """Move the submission this browser's note names to a corrected address and mail it there.

    Returns the corrected address (for the next note) when the submission is still
    pending; None otherwise. The mail worker then decides, as for any submission,
    whether the corrected address gets a confirmation link or the capped "already
    signed" note (services/signer_mail.py). Raises ValueError for an address that isn't one.
    """
    email = normalize_email(new_raw)
    signature_id = note.signature_id if note else None
    if not signature_id or not content.accepts_signatures:
        return None
    signature = db.session.get(Signature, signature_id)
    if (
        signature is None
        or signature.status != SignatureStatus.PENDING
        or signature.campaign_id != campaign_ref(content).id
        or is_expired(signature)
        or not signature.email_enc
    ):
        return None
    if not take_extra_mail(signature.id):  # capped like resending: no mail cannon
        db.session.commit()
        return None
    db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id, Signature.status == SignatureStatus.PENDING)
        .values(
            email_enc=sealed.seal("email", email.address, signature.row_key),
            dedup_key=dedup_key(email.canonical),
            email_domain_hash=domain_hash(email.domain),
            link_nonce=links.new_nonce(),  # the link mailed to the typo stops working
            mailed_at=None,  # the worker decides afresh for the corrected address
        )
        .execution_options(synchronize_session=False)
    )
    enqueue_render("confirm", signature.id, signature.language, {"slug": content.slug})
    db.session.commit()
    return email.address


def mail_links_again(content: CampaignContent, raw_email: str) -> bool:
    """Mail a signer their links (data copy, withdraw) again, for the data-rights form.

    A pending submission gets its confirmation mail again. The caller answers the same
    either way; the mail count is capped like every extra mail, and the worker renders
    the mail. Returns whether a mail was queued (for tests and logs only). Raises
    ValueError for an address that isn't one.
    """
    email = normalize_email(raw_email)
    if content.state() not in ("open", "closed"):  # archived: personal data is gone
        return False
    signature = db.session.scalar(
        select(Signature).where(
            Signature.campaign_id == campaign_ref(content).id,
            Signature.dedup_key == dedup_key(email.canonical),
            Signature.status == SignatureStatus.CONFIRMED,
            Signature.email_enc.is_not(None),
        )
    )
    if signature is None:
        return signing.resend_confirmation(content, raw_email)
    if not take_extra_mail(signature.id):
        db.session.commit()
        return False
    enqueue_render("links", signature.id, signature.language, {"slug": content.slug})
    db.session.commit()
    return True
