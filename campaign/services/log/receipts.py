"""Signers' receipts for the transparency log: the secret, its text form, QR code and mail.

The secret is derived, never stored: HMAC(HASH_KEY, signature id + the signature's
random link nonce). The thank-you page can show it again, and once the signature is
erased (its nonce gone), nobody, the server included, can recompute it and link the
leaf back to the row. The log holds only SHA-256 of it with a restore counter
(tlog.commitment, tlog.removal).
"""

from __future__ import annotations

import base64
import binascii

import segno
from sqlalchemy import select

from ...extensions import db
from ...models import Campaign, Signature, SignatureStatus
from ..intake import links
from ..outbox import mail
from ..outbox.mail_transport import render_mail
from ..pages.content import library
from ..sealing import crypto, sealed


def secret(signature: Signature) -> bytes | None:
    if not signature.link_nonce:
        return None
    return bytes.fromhex(
        crypto.keyed_hash("tlog-receipt", f"{signature.id}:{signature.link_nonce}")
    )


def encode_secret(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def text(origin: str, index: int | None, raw: bytes) -> str:
    """`<origin> <leaf index> <secret>`; the index is "-" until the leaf is appended."""
    return f"{origin} {'-' if index is None else index} {encode_secret(raw)}"


def parse(receipt: str) -> bytes | None:
    """The secret from a pasted receipt (the whole line or just the secret), or None."""
    token = (receipt or "").strip().split()[-1:] or [""]
    candidate = token[0]
    if len(candidate) != 43 or not candidate.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(candidate + "=")
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def qr_data_uri(receipt: str) -> str:
    """The receipt as a QR code (the text itself, never a URL: nothing to log)."""
    return segno.make(receipt, error="m").svg_data_uri(scale=4, border=2)


def queue_mails(campaign_id: int, origin: str, added: list[tuple[int, int | None]]) -> int:
    """Mail each newly appended add's signer their receipt, in the caller's transaction;
    a held confirmation (index None) gets the same mail (issue 21, L1). The mail names
    no leaf index, so it reads the same either way.

    Skipped for signatures erased or no longer confirmed since (no address, or nothing
    to prove).
    """
    if not added:
        return 0
    slug = db.session.scalar(select(Campaign.slug).where(Campaign.id == campaign_id))
    content = library().get(slug)
    if content is None:
        return 0
    index_of = dict(added)
    signatures = db.session.scalars(select(Signature).where(Signature.id.in_(index_of))).all()
    queued = 0
    for signature in signatures:
        raw = secret(signature)
        if raw is None or not signature.email_enc or signature.status != SignatureStatus.CONFIRMED:
            continue
        receipt = text(origin, None, raw)
        message = render_mail(
            "receipt",
            signature.language,
            to=sealed.unseal(sealed.SIGNER_MAIL, "email", signature.email_enc, signature.row_key),
            name=sealed.unseal(sealed.SIGNER_MAIL, "name", signature.name_enc, signature.row_key),
            title=content.text(signature.language).title,
            receipt=receipt,
            verify_url=links.external_url("petition.log_verify", signature.language, slug=slug),
            withdraw_url=links.external_url(
                "petition.withdraw",
                signature.language,
                slug=slug,
                token=links.make_token(signature, "withdraw"),
            ),
            data_url=links.external_url(
                "petition.my_data",
                signature.language,
                slug=slug,
                token=links.make_token(signature, "data"),
            ),
        )
        mail.enqueue(message, kind="receipt", signature_id=signature.id)
        queued += 1
    return queued
