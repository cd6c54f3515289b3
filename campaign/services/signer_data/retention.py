"""How long signers' data is kept: the scheduled deletions and erasures.

Unconfirmed signatures past CONFIRM_EXPIRY_DAYS are deleted (`purge_expired`), IP
hashes are cleared after IP_HASH_RETENTION_DAYS (`purge_ip_hashes`), and a closed
campaign's personal data is erased once ANONYMIZE_AFTER_CLOSE_DAYS have passed
(`anonymize_campaign`, through `privacy.erase`). `flask signatures purge` and
`flask campaign anonymize` run them.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from ...extensions import db
from ...models import Campaign, OutboxMessage, Signature, SignatureStatus, SupersededLink, utcnow
from .privacy import erase


def purge_expired() -> int:
    """Delete unconfirmed signatures past their expiry; they were never counted.

    Each DELETE re-checks the status and age itself (RETURNING the ids it removed), so a
    confirm committed after the ids were chosen keeps its row: no read-then-delete race.
    """
    cutoff = utcnow() - timedelta(days=current_app.config["CONFIRM_EXPIRY_DAYS"])
    deleted = 0
    while True:
        chunk = (
            select(Signature.id)
            .where(Signature.status == SignatureStatus.PENDING, Signature.created_at < cutoff)
            .limit(500)
        )
        ids = list(
            db.session.scalars(
                delete(Signature)
                .where(
                    Signature.id.in_(chunk.scalar_subquery()),
                    Signature.status == SignatureStatus.PENDING,
                    Signature.created_at < cutoff,
                )
                .returning(Signature.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not ids:
            break
        # Name tokens go with their row (ON DELETE CASCADE); the mail has no foreign key.
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.signature_id.in_(ids)))
        db.session.commit()
        deleted += len(ids)
    # The links of submissions a confirmation replaced expire with them too.
    db.session.execute(delete(SupersededLink).where(SupersededLink.created_at < cutoff))
    db.session.commit()
    return deleted


def purge_ip_hashes() -> int:
    """IP hashes are kept only as long as the abuse window needs them."""
    cutoff = utcnow() - timedelta(days=current_app.config["IP_HASH_RETENTION_DAYS"])
    result = db.session.execute(
        update(Signature)
        .where(Signature.ip_hash.is_not(None), Signature.created_at < cutoff)
        .values(ip_hash=None)
    )
    db.session.commit()
    return result.rowcount


def anonymize_campaign(campaign: Campaign, closes: date | None, *, force: bool = False) -> int:
    """Erase a closed campaign's personal data once its retention period is over.

    Safe to run on a schedule: it does nothing before the period ends, and nothing
    twice. Counts by country and by day survive, since rows keep those columns.
    """
    if not force:
        if closes is None:
            return 0
        period = timedelta(days=current_app.config["ANONYMIZE_AFTER_CLOSE_DAYS"])
        if utcnow().date() <= closes + period:
            return 0
    erased = 0
    while True:
        batch = db.session.scalars(
            select(Signature)
            .where(Signature.campaign_id == campaign.id, Signature.erased_at.is_(None))
            .limit(500)
        ).all()
        if not batch:
            break
        for signature in batch:
            erase(signature)
        erased += len(batch)
        db.session.commit()
    campaign.anonymized_at = utcnow()
    db.session.commit()
    return erased
