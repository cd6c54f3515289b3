"""The outbox table: mail waiting to be sent (queued by services/outbox/mail.py, delivered by
services/outbox/mail_worker.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .common import BigId, utcnow


class OutboxMessage(db.Model):
    """Mail waiting to be sent, written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Becomes the Message-ID, so a retried send can be recognised as the same mail.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    signature_id: Mapped[int | None] = mapped_column(BigId, index=True)
    # Encrypted JSON: recipient, subject, text and HTML bodies, extra headers.
    payload_enc: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Mail the worker renders at send time (migration 0003_signing): no payload is
    # stored, only the language and a small JSON context naming no one.
    language: Mapped[str | None] = mapped_column(String(8))
    context: Mapped[str | None] = mapped_column(Text)
