"""One batch of the delivery worker (services/outbox/mail_worker.py): claimed, sent, marked.

`deliver_batch` first marks what this process sent earlier (`unmarked`), then claims
due messages under a short lease (services/outbox/mail_lease.py), lets the app's batch
deciders drop what is no longer wanted, renders mail queued without a body through its
kind's renderer, sends it, and remembers it as sent until the database records that.
A refused message is retried later, with a growing delay, up to MAX_ATTEMPTS; a relay
that is down (`relay_down`) gives the rest of the batch back at once.
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.exc import ObjectDeletedError

from ...extensions import db
from ...models import OutboxMessage, Signature, utcnow
from ..sealing import crypto, sealed
from . import mail_lease
from .mail import RENDERERS
from .mail_transport import Transport, wire_message

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
# Set when `flask mail work` is stopped (SIGTERM, SIGINT: services/outbox/mail_processes.py):
# each thread finishes the message it is sending, gives back the rest of its batch and
# marks what it sent, then the process exits. Killed instead, it would leave accepted
# messages unmarked, to go out again when their lease ends.
STOPPING = threading.Event()
# Mark what was sent at least this often within a batch (the window in which a dead
# worker's mail goes out twice is this, plus the server's reply).
MARK_EVERY = 10


def relay_down(exc: Exception) -> bool:
    """The relay itself failed (unreachable, hung up, timed out, refused our greeting or
    login, or is shutting down: 421): no fault of the message, and nothing else in the
    batch can be sent either. A refused sender, recipient or message is the message's."""
    if isinstance(
        exc, (smtplib.SMTPConnectError, smtplib.SMTPHeloError, smtplib.SMTPAuthenticationError)
    ):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    return isinstance(exc, OSError)  # smtplib's errors are OSErrors too: checked above


def unmarked() -> mail_lease.Unmarked:
    """This app's (this process's) memory of sent, not yet marked messages: worker
    state, not a cache (it is never dropped, only emptied by the marks)."""
    return current_app.extensions.setdefault("campaign.mail_unmarked", mail_lease.Unmarked())


def claim_due(limit: int) -> list[int]:
    """Lease up to `limit` due messages to this worker and return their ids."""
    return mail_lease.claim(limit).ids


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


def deliver_due(limit: int = 50, transport: Transport | None = None) -> tuple[int, int]:
    """Send what is due. Returns (sent, failed attempts)."""
    return deliver_batch(limit, transport)[:2]


def deliver_batch(limit: int = 50, transport: Transport | None = None) -> tuple[int, int, int]:
    """Mark what this process sent earlier, then send one batch. Returns (sent, failed
    attempts, claimed): a batch whose mail was all dropped (e.g. confirmations of
    submissions confirmed meanwhile) sends nothing, yet more may be due behind it.
    Raises while the database fails: nothing new is claimed until the marks land."""
    own_transport = transport is None
    transport = transport or Transport(current_app.config["SMTP_URL"])
    memory = unmarked()
    try:
        memory.flush()
        if not memory.may_claim():
            return 0, 0, 0  # settling after a database failure
        claim = mail_lease.claim(limit)
        session = db.session()
        try:
            # The batch's rows are read in two queries, and kept through the renderers'
            # commits (which would otherwise reload each row, one query apiece): a row
            # read a moment ago is as good as one read now, for the renderers decide
            # under their own locks, and a withdrawal deletes the row it would mail.
            session.expire_on_commit = False
            loaded = _load(claim.ids)  # held: the session keeps only weak references
            claim.held -= _decide(loaded)
            rows = {row.id: row for row in loaded if isinstance(row, OutboxMessage)}
            sent, failed = _send(claim, rows, transport, memory)
            mail_lease.release(claim)  # what a stop left unsent (nothing otherwise)
            del loaded
        except Exception:
            _release_quietly(claim)
            raise
        finally:
            session.expire_on_commit = True
            session.expire_all()  # as the commits would have
        memory.flush()
    finally:
        if own_transport:
            transport.close()
    return sent, failed, len(claim.ids)


def _decide(loaded: list) -> set[int]:
    """Let the app's batch deciders (`signer_batch.decide` for "confirm", wired in
    `create_app`) decide the batch's mail in one transaction each, so that the renderers
    only render. Returns the ids they dropped."""
    deciders = current_app.extensions.get("campaign.outbox_deciders", {})
    dropped: set[int] = set()
    for kind, decide in deciders.items():
        batch = [
            row
            for row in loaded
            if isinstance(row, OutboxMessage) and row.kind == kind and row.payload_enc is None
        ]
        if batch:
            dropped |= decide(batch)
    return dropped


def _load(ids: list[int]) -> list:
    """Read the batch's messages and the signatures they are about into the session."""
    if not ids:
        return []
    fresh = {"populate_existing": True}  # rows already in the session are read anew
    rows = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.in_(ids)).execution_options(**fresh)
    ).all()
    about = sorted({row.signature_id for row in rows if row.signature_id is not None})
    if not about:
        return list(rows)
    signatures = db.session.scalars(
        select(Signature).where(Signature.id.in_(about)).execution_options(**fresh)
    ).all()
    return [*rows, *signatures]


def _send(
    claim: mail_lease.Claim,
    rows: dict[int, OutboxMessage],
    transport: Transport,
    unmarked: mail_lease.Unmarked,
):
    sent = failed = 0
    for message_id in claim.ids:
        if STOPPING.is_set():
            break  # the rest is given back by the caller
        claim.renew_if_due()
        if message_id not in claim.held:
            continue  # claimed again by another worker, or deleted by a withdrawal
        outbox = rows.get(message_id)  # as loaded (None: deleted before the load)
        if outbox is None or _deleted_since(outbox):
            claim.held.discard(message_id)
            continue
        try:
            payload = _payload(outbox)
            if payload is None:
                claim.held.discard(message_id)
                mail_lease.finish([message_id], "dropped")
                continue
            transport.send(wire_message(outbox, payload))
        except (OSError, crypto.CryptoError, ValueError) as exc:
            transport.reset()
            if relay_down(exc):
                db.session.rollback()
                mail_lease.release(claim, relay_down=_error(exc))
                log.warning("mail relay failed (%s); retrying in a few seconds", _error(exc))
                return sent, failed + 1
            claim.held.discard(message_id)
            failed += 1
            _record_failure(message_id, exc)
            continue
        # Accepted by the server: from here on it is never released, only marked.
        claim.held.discard(message_id)
        unmarked.add(message_id)
        sent += 1
        if sent % MARK_EVERY == 0:
            unmarked.flush()
    return sent, failed


def _deleted_since(outbox: OutboxMessage) -> bool:
    """Whether a loaded row was deleted (a withdrawal) after a failure's rollback expired
    it: reading it again would raise ObjectDeletedError and end the batch."""
    try:
        outbox.id  # noqa: B018 - an expired row is read again here
    except ObjectDeletedError:
        return True
    return False


def _release_quietly(claim: mail_lease.Claim) -> None:
    """Give the batch's unsent messages back; if the database is down, their short
    lease ends by itself."""
    try:
        db.session.rollback()
        mail_lease.release(claim)
    except Exception:  # noqa: BLE001 - best effort: the lease expires anyway
        db.session.rollback()


def _error(exc: Exception) -> str:
    # The type and SMTP code only: SMTP errors quote the recipient's address.
    code = getattr(exc, "smtp_code", None)
    return f"{type(exc).__name__}{f' {code}' if code else ''}"


def _slug_only(context: str | None) -> str | None:
    """A context with its campaign alone: a request's sealed part (the address typed on
    a public form, services/letters/mail_requests.py) goes, as its renderer drops it."""
    try:
        slug = json.loads(context or "{}").get("slug")
    except (ValueError, AttributeError):
        slug = None
    return json.dumps({"slug": slug}) if isinstance(slug, str) else None


def _record_failure(message_id: int, exc: Exception) -> None:
    db.session.rollback()
    row = db.session.execute(
        select(OutboxMessage.attempts, OutboxMessage.context).where(OutboxMessage.id == message_id)
    ).first()
    if row is None:  # deleted meanwhile (a withdrawal): nothing to retry
        return
    attempts = row.attempts
    delay = min(30 * 2 ** (attempts - 1), 3600)
    error = _error(exc)
    values = {
        "last_error": error,
        "locked_until": None,
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
    }
    if attempts >= MAX_ATTEMPTS:  # given up: keep no recipient, body or sealed request
        values.update(status="failed", payload_enc=None, context=_slug_only(row.context))
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    log.warning("mail %s failed (attempt %s): %s", message_id, attempts, error)
