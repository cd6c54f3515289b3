"""A closed campaign's blind indexes deleted after BLIND_INDEX_RETENTION_DAYS (issue 23).

A thief holding HASH_KEY and a list of addresses can test each against the dedup keys
(or names against the name tokens): that is the one way a copy of the server still
links a known person to a signature. Once a campaign is closed nobody can sign it
again, so the keys that stop double signing, and the indexes that serve searches and
abuse trends, have no more work: they are deleted, and the rows keep only country,
dates, consents and the sealed copies. docs/SECURITY.md states the remaining risk.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from ...extensions import db
from ...models import Campaign, NameToken, Signature, utcnow


def purge_blind_indexes(campaign: Campaign, closes: date | None, *, force: bool = False) -> int:
    """Null the dedup keys, domain and IP hashes and delete the name tokens of a
    campaign closed more than BLIND_INDEX_RETENTION_DAYS ago (or now, with `force`).
    Returns the signatures changed; safe to run on a schedule (does nothing twice)."""
    if not force:
        if closes is None:
            return 0
        period = timedelta(days=current_app.config["BLIND_INDEX_RETENTION_DAYS"])
        if utcnow().date() <= closes + period:
            return 0
    ids = select(Signature.id).where(Signature.campaign_id == campaign.id)
    db.session.execute(delete(NameToken).where(NameToken.signature_id.in_(ids)))
    changed = db.session.execute(
        update(Signature)
        .where(
            Signature.campaign_id == campaign.id,
            (Signature.dedup_key.is_not(None))
            | (Signature.email_domain_hash.is_not(None))
            | (Signature.ip_hash.is_not(None)),
        )
        .values(dedup_key=None, email_domain_hash=None, ip_hash=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return changed
