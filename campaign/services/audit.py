"""The append-only audit log: who did what to which signer data, and when.

Rows are only ever inserted (database triggers refuse UPDATE and DELETE).
`record()` adds the event to the caller's transaction, so an action and its audit
entry commit together; pass `commit=True` when nothing else is pending.
"""

from __future__ import annotations

import json
from typing import Any

from flask_login import current_user
from sqlalchemy import insert, select

from ..extensions import db
from ..models import AdminUser, AuditEvent, utcnow


def _current_actor() -> AdminUser | None:
    try:
        user = getattr(current_user, "user", None)
    except RuntimeError:  # outside a request
        return None
    return user


def record(
    action: str,
    *,
    actor: AdminUser | None = None,
    actor_email: str | None = None,
    campaign_id: int | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    commit: bool = False,
) -> AuditEvent:
    """Add one audit event. `actor` defaults to the signed-in organizer, if any."""
    actor = actor or _current_actor()
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor else None,
        actor_email=(actor.email if actor else actor_email),
        action=action[:64],
        campaign_id=campaign_id,
        target=(target or None) and str(target)[:200],
        details=json.dumps(details, sort_keys=True, default=str) if details else None,
    )
    db.session.add(event)
    if commit:
        db.session.commit()
    return event


def record_look(
    action: str,
    *,
    campaign_id: int | None,
    target: str | None,
    details: dict[str, Any],
    actor_email: str | None = None,
) -> int:
    """Record that someone looked at personal data, committed at once in a transaction
    of its own: before the data is read or shown, and without expiring the caller's rows
    (or ending the caller's snapshot). Returns the entry's id."""
    actor = _current_actor()
    with db.engine.begin() as connection:
        result = connection.execute(
            insert(AuditEvent).values(
                at=utcnow(),
                actor_id=actor.id if actor else None,
                actor_email=actor.email if actor else actor_email,
                action=action[:64],
                campaign_id=campaign_id,
                target=(target or None) and str(target)[:200],
                details=json.dumps(details, sort_keys=True, default=str),
            )
        )
    return int(result.inserted_primary_key[0])


def recent(limit: int = 100, before_id: int | None = None, action: str | None = None):
    """Newest first, keyset-paginated on id."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    if action:
        query = query.where(AuditEvent.action == action)
    return db.session.scalars(query).all()


def read(limit: int = 100, before_id: int | None = None, action: str | None = None):
    """An owner reading the log: itself a look, recorded first. The log holds what earlier
    looks found (match counts) and bulk rules' domains and IP hashes."""
    record_look(
        "audit.view",
        campaign_id=None,
        target=None,
        details={"before": before_id, "action": action},
    )
    return recent(limit, before_id, action)
