"""The append-only audit log: who did what to which signer data, and when.

Rows are only ever inserted (database triggers refuse UPDATE and DELETE).
`record()` adds the event to the caller's transaction, so an action and its audit
entry commit together; pass `commit=True` when nothing else is pending.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_login import current_user
from sqlalchemy import insert, select

from ...extensions import db
from ...models import AdminUser, AuditEvent, utcnow


def current_actor() -> AdminUser | None:
    """The signed-in organizer's account, if any (None outside a request)."""
    return _current_actor()


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


@dataclass(frozen=True)
class LogFilter:
    """What the audit log page shows: one person, one action, a span of days (UTC)."""

    action: str | None = None
    actor: str | None = None  # an account's email, or a named process ("mail worker")
    since: date | None = None  # from the start of this day
    until: date | None = None  # to the end of this day

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items() if v is not None}


def recent(limit: int = 100, before_id: int | None = None, action: str | None = None, **more):
    """Newest first, keyset-paginated on id (`more`: the other LogFilter fields)."""
    return filtered(limit, before_id, LogFilter(action=action, **more))


def filtered(limit: int, before_id: int | None, only: LogFilter):
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    if only.action:
        query = query.where(AuditEvent.action == only.action)
    if only.actor:
        query = query.where(AuditEvent.actor_email == only.actor)
    if only.since:
        query = query.where(AuditEvent.at >= datetime.combine(only.since, time.min))
    if only.until:
        query = query.where(
            AuditEvent.at < datetime.combine(only.until + timedelta(days=1), time.min)
        )
    return db.session.scalars(query).all()


def actors() -> list[str]:
    """Everyone the log names, for the person filter (accounts, the CLI, the mail worker)."""
    return list(
        db.session.scalars(
            select(AuditEvent.actor_email)
            .where(AuditEvent.actor_email.is_not(None))
            .distinct()
            .order_by(AuditEvent.actor_email)
        )
    )


def read(limit: int = 100, before_id: int | None = None, only: LogFilter | None = None):
    """An owner reading the log: itself a look, recorded first. The log holds what earlier
    looks found (match counts) and bulk rules' domains and IP hashes."""
    only = only or LogFilter()
    record_look(
        "audit.view",
        campaign_id=None,
        target=None,
        details={"before": before_id, **only.as_dict()},
    )
    return filtered(limit, before_id, only)
