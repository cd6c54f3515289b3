"""The organizers' tables: admin accounts, the append-only audit log of what they
do, and the news they post (updates and the mailing of each publication)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .common import BigId, utcnow


class AdminUser(db.Model):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # owner | organizer | viewer
    totp_secret_enc: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last TOTP time step accepted: a code can't be used twice (migration 0002_admin).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    # Rotated on logout and password change: old session cookies stop working.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A TOTP secret being enrolled, encrypted, until a code confirms it (never in the
    # session cookie, which its owner's browser, and anything reading it, can decode).
    totp_pending_enc: Mapped[str | None] = mapped_column(Text)
    totp_pending_at: Mapped[datetime | None] = mapped_column(DateTime)


class AuditEvent(db.Model):
    """Append-only: triggers in the migration refuse UPDATE and DELETE."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[str | None] = mapped_column(Text)  # JSON


class CampaignUpdate(db.Model):
    """News an organizer posts on a campaign, shown on the page and mailed to consenters."""

    __tablename__ = "campaign_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    emailed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The publish (form submission) it came from (migration 0004_links).
    publication_id: Mapped[int | None] = mapped_column(
        ForeignKey("update_publications.id"), index=True
    )


class UpdatePublication(db.Model):
    """One press of "Publish" on the updates form: its updates (one per language) and
    the state of their mailing, which the mail worker expands in batches.

    `publish_key` is the form's one-time nonce: a double-clicked (or resent) form
    carries the same key, and UNIQUE makes the second publish a no-op.
    """

    __tablename__ = "update_publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    publish_key: Mapped[str] = mapped_column(String(64), unique=True)
    send_mail: Mapped[bool] = mapped_column(Boolean, default=True)
    # The last signature id queued: the worker's keyset cursor, so expansion resumes.
    mail_cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    mails_queued: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    mail_done_at: Mapped[datetime | None] = mapped_column(DateTime)
