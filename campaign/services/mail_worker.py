"""The delivery worker (`flask mail work`): sends what the outbox holds.

It claims due messages under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
re-takes each message's lease right before sending it (a batch that outlasts its
lease can't be sent twice), renders mail queued without a body through its kind's
renderer, and retries failures with backoff. A worker killed mid-send leaves its
lease to expire and the message is sent again under the same Message-ID:
at-least-once, with an idempotency key.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from ..extensions import db
from ..models import OutboxMessage, utcnow
from . import crypto, sealed
from .mail import RENDERERS
from .mail_transport import Transport, build_message

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 10


def claim_due(limit: int) -> list[int]:
    """Lease up to `limit` due messages to this worker and return their ids."""
    return _claim(limit)[0]


def _claim(limit: int) -> tuple[list[int], datetime]:
    """Lease due messages; returns their ids and the lease's end, which names this claim."""
    now = utcnow()
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(db.session.scalars(due))
    claimed: list[int] = []
    if ids:
        # The lease condition is checked again in the UPDATE: on SQLite, where there is
        # no SKIP LOCKED, two workers can read the same ids, but only one UPDATE (they
        # are serialized) still finds each row free, and RETURNING says which.
        claimed = list(
            db.session.scalars(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status == "pending",
                    (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now),
                )
                .values(locked_until=now + LEASE, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
    db.session.commit()
    return sorted(claimed), now + LEASE


def take_lease(message_id: int, lease: datetime) -> bool:
    """Renew this claim's lease on one message right before sending it, or learn it is
    lost: a batch slower than LEASE may have been claimed again by another worker, which
    set its own lease end. Conditional on our lease end, so exactly one worker sends."""
    taken = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.status == "pending",
            OutboxMessage.locked_until == lease,
        )
        .values(locked_until=utcnow() + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return bool(taken)


def _payload(outbox: OutboxMessage) -> dict | None:
    """What to send: the stored payload, or mail rendered now for its kind."""
    if outbox.payload_enc is not None:
        return json.loads(sealed.open_payload(outbox.payload_enc, outbox.idempotency_key))
    renderer = RENDERERS.get(outbox.kind)
    if renderer is None:
        raise ValueError(f"no renderer for mail kind {outbox.kind!r}")
    rendered = renderer(outbox)
    if rendered is None:
        return None
    return {
        "to": rendered.to,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "headers": rendered.headers,
    }


def _finish(message_id: int, status: str) -> None:
    """Mark a message sent or dropped. A Core UPDATE: a withdrawal may have deleted the
    row meanwhile, and then there is nothing left to mark (no error)."""
    now = utcnow()
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=status,
            sent_at=now if status == "sent" else None,
            payload_enc=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_due(limit: int = 50, transport: Transport | None = None) -> tuple[int, int]:
    """Send what is due. Returns (sent, failed attempts)."""
    return deliver_batch(limit, transport)[:2]


def deliver_batch(limit: int = 50, transport: Transport | None = None) -> tuple[int, int, int]:
    """Send what is due. Returns (sent, failed attempts, claimed): a batch whose mail
    was all dropped (e.g. confirmations of submissions confirmed meanwhile) sends
    nothing, yet more may be due behind it."""
    own_transport = transport is None
    transport = transport or Transport(current_app.config["SMTP_URL"])
    sent = failed = 0
    ids: list[int] = []
    try:
        ids, lease = _claim(limit)
        for message_id in ids:
            if not take_lease(message_id, lease):
                continue  # claimed again by another worker, or deleted by a withdrawal
            outbox = db.session.get(OutboxMessage, message_id)
            if outbox is None:
                continue
            try:
                payload = _payload(outbox)
                if payload is None:
                    _finish(message_id, "dropped")
                    continue
                transport.send(build_message(outbox, payload))
            except (OSError, smtplib.SMTPException, crypto.CryptoError, ValueError) as exc:
                transport.reset()
                failed += 1
                _record_failure(message_id, exc)
                continue
            _finish(message_id, "sent")  # the recipient and body are no longer kept
            sent += 1
    finally:
        if own_transport:
            transport.close()
    return sent, failed, len(ids)


def _record_failure(message_id: int, exc: Exception) -> None:
    db.session.rollback()
    attempts = db.session.scalar(
        select(OutboxMessage.attempts).where(OutboxMessage.id == message_id)
    )
    if attempts is None:  # deleted meanwhile (a withdrawal): nothing to retry
        return
    delay = min(30 * 2 ** (attempts - 1), 3600)
    # The type and SMTP code only: SMTP errors quote the recipient's address.
    code = getattr(exc, "smtp_code", None)
    error = f"{type(exc).__name__}{f' {code}' if code else ''}"
    values = {
        "last_error": error,
        "locked_until": None,
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
    }
    if attempts >= MAX_ATTEMPTS:
        values.update(status="failed", payload_enc=None)  # given up: keep no recipient or body
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.warning("mail %s failed (attempt %s): %s", message_id, attempts, error)


def prepare_outbox() -> int:
    """Run the app's outbox preparers (e.g. `updates.expand_published`, wired in
    `create_app` so this module imports none of them): work that turns a
    published thing into outbox rows. Returns the rows they queued."""
    queued = 0
    for prepare in current_app.extensions.get("campaign.outbox_preparers", ()):
        queued += prepare()
    return queued


def work(
    *,
    once: bool = False,
    poll_seconds: float = 1.0,
    batch: int = 50,
    tick: Callable[[], object] | None = None,
) -> int:
    """The delivery loop. With `once`, send everything due, then return the number sent.

    `tick` runs before each pass (the CLI passes the transparency log's publisher)."""
    total = 0
    transport = Transport(current_app.config["SMTP_URL"])
    try:
        while True:
            if tick is not None:
                try:
                    tick()
                except Exception:  # noqa: BLE001 - the tick must never stop delivery
                    log.exception("worker tick failed; delivering anyway")
                    db.session.rollback()
            try:
                prepared = prepare_outbox()
                sent, _, claimed = deliver_batch(batch, transport)
            except Exception:  # noqa: BLE001 - a worker must survive a database outage
                log.exception("mail delivery pass failed; retrying")
                db.session.rollback()
                sent = claimed = prepared = 0
            total += sent
            if claimed == 0 and prepared == 0:
                if once:
                    return total
                transport.close()
                time.sleep(poll_seconds)
    finally:
        transport.close()
