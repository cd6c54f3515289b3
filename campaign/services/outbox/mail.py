"""The outbox: mail is queued here, in the caller's transaction.

`enqueue()` adds a rendered message (its payload encrypted), so a signature and its
mail commit together. Signer mail is queued by `enqueue_render()` with no body at
all: the worker renders it at send time through the renderer registered for its
kind (`register_renderer`; services/letters/signer_mail.py), so the sign request renders no
template. Delivery is services/outbox/mail_worker.py's job; the message itself (`Mail`,
templates, SMTP) is services/outbox/mail_transport.py's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from sqlalchemy import insert

from ...extensions import db
from ...models import OutboxMessage, utcnow
from ..sealing import sealed
from .mail_transport import Mail


def enqueue(mail: Mail, *, kind: str, signature_id: int | None = None) -> OutboxMessage:
    payload = json.dumps(
        {
            "to": mail.to,
            "subject": mail.subject,
            "text": mail.text,
            "html": mail.html,
            "headers": mail.headers,
        }
    )
    key = uuid.uuid4().hex
    message = OutboxMessage(
        idempotency_key=key,
        kind=kind,
        signature_id=signature_id,
        payload_enc=sealed.seal_payload(payload, key),
        status="pending",
        next_attempt_at=utcnow(),
    )
    db.session.add(message)
    return message


# Built once on the table: executed with parameters, it is compiled once per process.
INSERT_RENDERED = insert(OutboxMessage.__table__)


def enqueue_render(
    kind: str, signature_id: int, language: str, context: dict | None = None
) -> None:
    """Queue mail the worker renders at send time: one Core INSERT in the caller's
    transaction, no template, no encryption. `context` must name no one."""
    db.session.connection().execute(
        INSERT_RENDERED, render_row(kind, signature_id, language, context)
    )


def render_row(
    kind: str, signature_id: int | None, language: str, context: dict | None = None
) -> dict:
    """The outbox row of mail the worker renders (for callers that write it themselves)."""
    now = utcnow()
    return {
        "idempotency_key": uuid.uuid4().hex,
        "kind": kind,
        "signature_id": signature_id,
        "payload_enc": None,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "language": language,
        "context": json.dumps(context or {}),
    }


# Renderers for mail queued by `enqueue_render`, by kind. Each returns the mail to send
# now, or None when there is nothing to send any more (the message is then dropped).
Renderer = Callable[[OutboxMessage], "Mail | None"]
RENDERERS: dict[str, Renderer] = {}


def register_renderer(kind: str, renderer: Renderer) -> None:
    RENDERERS[kind] = renderer
