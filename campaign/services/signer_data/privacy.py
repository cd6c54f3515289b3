"""Signers' personal data read back as records, and erased.

Admin views, exports and the signer's own data copy build a `signer_record()`, which
decrypts through `sealed.unseal` with the caller's reason (services/sealing/sealed.py is the
one decrypt path); withdrawal, erasure and `retention`'s anonymization go through `erase()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ...extensions import db
from ...models import (
    NameToken,
    OutboxMessage,
    Signature,
    SignatureStatus,
    utc_iso,
    utcnow,
)
from ..intake import links
from ..log import tlog_pending
from ..pages import cache, counting
from ..sealing import sealed
from ..sealing.sealed import Reason
from . import consents


@dataclass(frozen=True)
class SignerRecord:
    """A signature with its personal data decrypted, for authorized readers only."""

    id: int
    name: str | None
    email: str | None
    comment: str | None
    country: str
    language: str
    status: str
    flagged: bool
    public_consent: bool
    contact_consent: bool
    source: str | None
    referrer_code: str | None
    created_at: datetime
    confirmed_at: datetime | None
    erased: bool
    # Issue 23: the name, email and comment are sealed to the organizers' offline key
    # (what the server can't read shows as sealed, not as erased).
    sealed: bool = False


def signer_record(signature: Signature, reason: Reason) -> SignerRecord:
    """One signature (or a Row with the same names), decrypted for `reason`."""
    return SignerRecord(
        id=signature.id,
        name=sealed.unseal(reason, "name", signature.name_enc, signature.row_key),
        email=sealed.unseal(reason, "email", signature.email_enc, signature.row_key),
        comment=sealed.unseal(reason, "comment", signature.comment_enc, signature.row_key),
        country=signature.country,
        language=signature.language,
        status=signature.status,
        flagged=signature.flagged,
        public_consent=signature.public_consent,
        contact_consent=signature.contact_consent,
        source=signature.source,
        referrer_code=signature.referrer_code,
        created_at=signature.created_at,
        confirmed_at=signature.confirmed_at,
        erased=signature.erased_at is not None,
        sealed=bool(getattr(signature, "organizer_sealed", None)),
    )


def data_copy(signature: Signature, secret: str | None = None) -> dict:
    """Everything held about one signature, decrypted, for the signer's own copy.

    Keyed hashes are described rather than shown: they are not the signer's data
    in any readable form, and showing them would only help someone match them.
    A confirmed row sealed to the organizers (issue 23) opens its name, email and
    comment only with `secret`, the one the signer's data link carries (`?k=`):
    without it they are marked sealed (`sealed_fields`).
    """
    record = signer_record(signature, sealed.SIGNER_LINK)
    own = sealed.open_signer_copy(signature.signer_copy, secret, signature.row_key)
    if own is not None:
        record = replace(record, name=own.name, email=own.email, comment=own.comment)
    locked = bool(signature.organizer_sealed) and own is None and record.name is None
    retention = timedelta(days=current_app.config["IP_HASH_RETENTION_DAYS"])
    wording = consents.wording_of(signature.consent_wording_id)
    granted = consents.granted(signature.id)
    queued = db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.signature_id == signature.id, OutboxMessage.status == "pending"
        )
    )
    sent = db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.signature_id == signature.id, OutboxMessage.status == "sent"
        )
    )

    def when(value: datetime | None) -> str | None:
        return utc_iso(value, whole_seconds=True)

    return {
        "petition": signature.campaign.slug,
        "name": record.name,
        "email": record.email,
        "comment": record.comment,
        "country": record.country,
        "language": record.language,
        # The status only: whether an organizer's abuse flag holds it back is theirs to
        # know, and showing it would tell an abuser their flag (issue 9.18).
        "status": record.status,
        # Each consent of the registry (services/signer_data/consents.py): yes or no, and its
        # wording.
        **{c.data_key: granted[c.key] for c in consents.all_consents()},
        "consent_wording": wording,
        # True: the name, email and comment are sealed, and this link has no key to them.
        "sealed_fields": locked,
        "came_from": record.source,
        # Only a keyed hash of the code you came with is kept, so it can't be shown.
        "came_through_a_share_link": record.referrer_code is not None,
        "own_referral_code": links.referral_code(signature),
        "signed_at": when(record.created_at),
        "confirmed_at": when(record.confirmed_at),
        "reminder_sent_at": when(signature.reminder_sent_at),
        "unsubscribed_at": when(signature.unsubscribed_at),
        "mails_sent": sent,
        "mails_waiting": queued,
        "keyed_hashes": {
            "email": signature.dedup_key is not None,
            "email_domain": signature.email_domain_hash is not None,
            "name_words": len(signature.name_tokens),
            "ip_address_of_the_day": signature.ip_hash is not None,
            "ip_hash_deleted_by": when(signature.created_at + retention)
            if signature.ip_hash
            else None,
        },
    }


def public_name(full_name: str | None) -> str:
    """First name and last initial: all the public list ever shows."""
    words = (full_name or "").split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0]
    return f"{words[0]} {words[-1][0]}."


def delivery_names(campaign_id: int, batch: int = 1000) -> Iterator[tuple[str, str]]:
    """(full name, country) of counted signers who consented to be named in the
    delivery pack, streamed in batches of plain columns (no ORM objects), by country."""
    query = (
        select(Signature.name_enc, Signature.row_key, Signature.country)
        .where(
            Signature.campaign_id == campaign_id,
            Signature.counted,
            *consents.given(consents.ADDRESSEES),
            Signature.erased_at.is_(None),
            Signature.name_enc.is_not(None),
        )
        .order_by(Signature.country, Signature.id)
        .execution_options(yield_per=batch, stream_results=True)
    )
    decrypt = sealed.unsealer(sealed.DELIVERY, "name")
    for name_enc, row_key, country in db.session.execute(query):
        name = decrypt(name_enc, row_key)
        if name:
            yield name, country


def erase(signature: Signature, *, new_status: str | None = None) -> None:
    """Remove personal data, keeping country, dates, status and whether it was counted.

    Also drops mail not yet sent to the signer. The caller commits.
    """
    was_counted = signature.counted
    # The remove's commitment needs the receipt secret, which the nonce below takes away.
    removal = tlog_pending.remove_values(signature, new_status or "erased") if was_counted else {}
    if new_status:
        signature.status = new_status
    # An organizer's reason is free text that may name or describe the signer; the
    # status stays. Nothing reads a system reason (paper's LINKED_REASON) after erasure.
    signature.invalid_reason = None
    signature.name_enc = signature.email_enc = signature.comment_enc = None
    signature.organizer_sealed = signature.signer_copy = signature.link_secret = None
    signature.display_enc = None
    signature.dedup_key = None  # the address may sign again later
    signature.email_domain_hash = signature.ip_hash = None
    signature.link_nonce = None  # every emailed link stops working
    signature.erased_at = utcnow()
    withdraw_consents(signature, consents.all_consents())  # every consent goes with the data
    db.session.execute(delete(NameToken).where(NameToken.signature_id == signature.id))
    # Unsent mail (pending or failed) still holds the address and working links.
    db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.signature_id == signature.id, OutboxMessage.status != "sent"
        )
    )
    if was_counted and not signature.counted:
        counting.adjust(signature.campaign_id, -1, paper=signature.on_paper)
        tlog_pending.queue(removal)


def lock_for_change(signature: Signature) -> None:
    """Re-read the signature under a write lock before changing its state.

    Two requests changing one signature at once (a double click on Withdraw, an
    organizer invalidating while the signer confirms) must not both adjust the count.
    PostgreSQL: SELECT … FOR UPDATE. SQLite: a no-op write takes the database's write
    lock first (reads before it ran outside any transaction), then the row is re-read.
    """
    take_write_lock()
    db.session.refresh(signature, with_for_update=True)


# Built once: confirming takes this lock on every request.
NO_OP_WRITE = (
    update(Signature.__table__)
    .where(Signature.__table__.c.id == -1)
    .values(id=Signature.__table__.c.id)
)


def take_write_lock() -> None:
    """On SQLite, start the write transaction now, so what is read next is current."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.connection().execute(NO_OP_WRITE)


def withdraw(signature: Signature) -> bool:
    """The signer takes their signature back: erased, uncounted, no more mail."""
    lock_for_change(signature)
    if signature.status == SignatureStatus.WITHDRAWN:
        return False
    signature.withdrawn_at = utcnow()
    erase(signature, new_status=SignatureStatus.WITHDRAWN)
    db.session.commit()
    cache.public_views_changed()  # the name may be on the public list
    return True


# Mail that exists only because the signer agreed to be contacted.
CONTACT_MAIL_KINDS = ("update",)


def unsubscribe(signature: Signature) -> None:
    """No more news: the consent is withdrawn and the news already queued for this
    signer but not yet sent is dropped (issue 21, S2), in one transaction under the
    signature's lock. The update expander reads its recipients `FOR SHARE`
    (services/letters/updates.py), so a batch being queued either finishes first (and its
    rows are deleted here) or waits and no longer sees this signer."""
    lock_for_change(signature)
    signature.contact_consent = False
    if signature.organizer_sealed and signature.status != SignatureStatus.PENDING:
        signature.email_enc = None  # kept readable only for that consent (issue 23)
    signature.unsubscribed_at = utcnow()
    db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.signature_id == signature.id,
            OutboxMessage.kind.in_(CONTACT_MAIL_KINDS),
            OutboxMessage.status != "sent",
        )
    )
    db.session.commit()


def withdraw_consents(signature: Signature, taken: tuple[consents.Consent, ...]) -> None:
    """Set these consents to no, on the row (whichever columns the registry names) and on
    the loaded object. A confirmed row sealed to the organizers (issue 23) also loses
    what each kept readable to the server (`Consent.keeps`). The caller commits."""
    table = Signature.__table__
    values: dict[str, object] = {c.column: False for c in taken}
    if signature.organizer_sealed and signature.status != SignatureStatus.PENDING:
        values |= {c.keeps: None for c in taken if c.keeps is not None}
    db.session.execute(update(table).where(table.c.id == signature.id).values(values))
    for column, value in values.items():
        if column in Signature.__mapper__.columns:
            set_committed_value(signature, column, value)


def take_back(signature: Signature, key: str) -> bool:
    """The signer withdraws one consent (from their data copy's link); the signature
    stands. Returns False for a key the registry doesn't know."""
    consent = consents.get(key)
    if consent is None:
        return False
    withdraw_consents(signature, (consent,))
    db.session.commit()
    if consent.audience == consents.PUBLIC:
        cache.public_views_changed()  # the name or comment may be on the public list
    return True
