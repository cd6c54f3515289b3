"""A paper row whose owner never answers (issue 26): its address stops being readable.

A row entered with an email keeps its name and address readable to the server while
its paper mail waits (services/paper/entry.py), as a pending online submission keeps
them until it expires. A pending online submission is deleted at CONFIRM_EXPIRY_DAYS
(signer_data.retention.purge_expired); a paper row counts (its ink signature is the
evidence), so it is kept, but at the same age, unanswered, it is closed like a confirmed signature:

* its address leaves the server's readable columns (`email_enc`): it was never
  confirmed, so it could never carry campaign mail, and the contact box goes with it;
  the organizers' sealed copy keeps the address as written on the sheet;
* with an organizer key, its name does too (`name_enc`): the sealed copy holds it;
  without one (development only), the name stays, as every confirmed name does;
* the link secret goes: the signer's own copy opens only with the key their mail
  carries; the paper link answers "no longer valid", the withdraw and data links work;
* its unsent mail is deleted.

It stays counted as paper, and is never looked up against other signatures: a count
that changed at expiry would tell whether the address had signed online (entry.py).
Run by `flask signatures purge`, beside the purge of pending online submissions.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, case, delete, false, select, update

from ...extensions import db
from ...models import PAPER, OutboxMessage, Signature, utcnow
from ..signer_data import consents

CHUNK = 500


def _unanswered(cutoff):
    return and_(
        Signature.method == PAPER,
        Signature.email_enc.is_not(None),
        Signature.email_confirmed_at.is_(None),
        Signature.created_at < cutoff,
    )


def _closed_values() -> dict:
    sealed_row = Signature.organizer_sealed.is_not(None)
    values: dict = {
        Signature.email_enc: None,
        Signature.link_secret: None,
        Signature.name_enc: case((sealed_row, None), else_=Signature.name_enc),
    }
    for consent in consents.all_consents():
        column = getattr(Signature, consent.column)
        if consent.keeps == "email_enc":  # the address goes: so does what needs it
            values[column] = false()
        elif consent.keeps is not None:  # as a confirmation keeps it (none on paper yet)
            kept = getattr(Signature, consent.keeps)
            values[kept] = case((and_(sealed_row, column.is_not(True)), None), else_=kept)
    return values


def seal_unanswered() -> int:
    """Close the paper rows whose owner has not answered the paper mail within
    CONFIRM_EXPIRY_DAYS; returns how many. Each UPDATE re-checks the row is still
    unanswered, so an owner confirming meanwhile keeps their row as they confirmed it."""
    cutoff = utcnow() - timedelta(days=current_app.config["CONFIRM_EXPIRY_DAYS"])
    values = _closed_values()
    closed = 0
    while True:
        chunk = select(Signature.id).where(_unanswered(cutoff)).limit(CHUNK)
        ids = list(
            db.session.scalars(
                update(Signature)
                .where(Signature.id.in_(chunk.scalar_subquery()), _unanswered(cutoff))
                .values(values)
                .returning(Signature.id)
                .execution_options(synchronize_session=False)
            )
        )
        if not ids:
            break
        db.session.execute(
            delete(OutboxMessage).where(
                OutboxMessage.signature_id.in_(ids), OutboxMessage.status != "sent"
            )
        )
        db.session.commit()
        closed += len(ids)
    return closed
