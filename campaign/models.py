"""The data model.

Personal data (name, email, comment) lives only in `Signature`, encrypted, and is
encrypted and decrypted only through `campaign.services.sealed` (the one decrypt path).
Lookups use keyed hashes ("blind indexes"), so the database alone reveals no one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from .extensions import db

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def new_row_key() -> str:
    """A random per-row key (the same as `services.crypto.new_row_key`, which the
    services call before an INSERT; models import no services)."""
    return secrets.token_hex(16)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def utc_iso(moment: datetime | None, *, whole_seconds: bool = False) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a Z: the one format of times that
    leave the service (API, exports, the signer's data copy, the delivery pack)."""
    if moment is None:
        return None
    if whole_seconds:
        moment = moment.replace(microsecond=0)
    return moment.replace(tzinfo=None).isoformat() + "Z"


class Campaign(db.Model):
    """A petition's row in the database. Its text lives in `content/<slug>/`."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    goal: Mapped[int] = mapped_column(Integer, default=1000)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    anonymized_at: Mapped[datetime | None] = mapped_column(DateTime)

    count_shards: Mapped[list[CountShard]] = relationship(back_populates="campaign")


COUNT_SHARDS = 16


class CountShard(db.Model):
    """Confirmed-signature counter split over rows, so concurrent confirmations on
    PostgreSQL don't queue on one hot row. The count is the sum of a campaign's shards."""

    __tablename__ = "count_shards"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    confirmed: Mapped[int] = mapped_column(BigInteger, default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="count_shards")


class ConsentWording(db.Model):
    """The exact consent text a signer was shown; signatures point at it."""

    __tablename__ = "consent_wordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    language: Mapped[str] = mapped_column(String(8))
    public_text: Mapped[str] = mapped_column(Text)
    contact_text: Mapped[str] = mapped_column(Text)
    # The comment box's wording (migration 0003_signing); NULL for older wordings.
    comment_text: Mapped[str | None] = mapped_column(Text)
    # The delivery consent's wording (migration 0006_delivery); NULL for older rows.
    delivery_text: Mapped[str | None] = mapped_column(Text)


class SignatureStatus:
    PENDING = "pending"
    CONFIRMED = "confirmed"
    INVALIDATED = "invalidated"
    WITHDRAWN = "withdrawn"
    ALL = (PENDING, CONFIRMED, INVALIDATED, WITHDRAWN)


def is_counted(status: str, flagged: bool) -> bool:
    """ "Counted": confirmed, and not held back by an abuse flag. `Signature.counted` is
    this rule on a row and, in SQL, the same rule as an expression."""
    return status == SignatureStatus.CONFIRMED and not flagged


class Signature(db.Model):
    __tablename__ = "signatures"
    __table_args__ = (
        # One counted signature per person per petition, enforced by the database: only
        # rows that were confirmed hold the address's slot. Each submission is its own
        # pending row (migration 0003_signing), so a stranger's earlier one decides nothing.
        Index(
            "uq_signatures_campaign_dedup_held",
            "campaign_id",
            "dedup_key",
            unique=True,
            sqlite_where=text("confirmed_at IS NOT NULL"),
            postgresql_where=text("confirmed_at IS NOT NULL"),
        ),
        Index("ix_signatures_campaign_dedup", "campaign_id", "dedup_key"),
        Index("ix_signatures_campaign_status_id", "campaign_id", "status", "id"),
        Index("ix_signatures_campaign_created", "campaign_id", "created_at"),
        # The page's recent signers and comments, newest confirmed first (0009_public_lists).
        Index(
            "ix_signatures_public_signers",
            *("campaign_id", "status", "public_consent", "confirmed_at", "id"),
        ),
        Index(
            "ix_signatures_public_comments",
            *("campaign_id", "status", "comment_consent", "confirmed_at", "id"),
        ),
        # The admin's keyset pages: newest first within a campaign (migration 0002_admin).
        Index("ix_signatures_campaign_id_id", "campaign_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    status: Mapped[str] = mapped_column(String(12), default=SignatureStatus.PENDING)
    # Keyed hash (HMAC) of the normalized email; NULL once the signature is erased.
    dedup_key: Mapped[str | None] = mapped_column(String(64))

    # Encrypted personal data (Fernet tokens); NULL once erased.
    email_enc: Mapped[str | None] = mapped_column(Text)
    name_enc: Mapped[str | None] = mapped_column(Text)
    comment_enc: Mapped[str | None] = mapped_column(Text)
    # Blind index of the email's domain, for search and trending checks.
    email_domain_hash: Mapped[str | None] = mapped_column(String(32), index=True)

    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(8), default="en")
    public_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_wording_id: Mapped[int | None] = mapped_column(ForeignKey("consent_wordings.id"))
    comment_hidden: Mapped[bool] = mapped_column(Boolean, default=False)

    # Where the signer came from: a channel (?source= / utm_source) and a sharer's code.
    source: Mapped[str | None] = mapped_column(String(64))
    referrer_code: Mapped[str | None] = mapped_column(String(16))
    # This signer's own code, for the referral link on the thank-you page.
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)

    # Keyed, daily-rotating hash of the IP; cleared after the abuse window.
    ip_hash: Mapped[str | None] = mapped_column(String(32), index=True)

    # Random per-signature secret; links carry an HMAC of it (see services/links.py).
    link_nonce: Mapped[str | None] = mapped_column(String(32))
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    flag_reason: Mapped[str | None] = mapped_column(String(200))
    invalid_reason: Mapped[str | None] = mapped_column(String(200))
    already_signed_mails: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminder_sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)
    invalidated_at: Mapped[datetime | None] = mapped_column(DateTime)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Random, set before the INSERT: the encrypted columns are bound to it (AES-GCM
    # associated data, services/crypto.py), so a value can't be moved to another row.
    row_key: Mapped[str | None] = mapped_column(String(32), default=new_row_key)
    # Named (name and country) in the pack delivered to the addressee: its own consent,
    # off by default, separate from being shown on the page (migration 0006_delivery).
    delivery_consent: Mapped[bool] = mapped_column(Boolean, default=False)

    campaign: Mapped[Campaign] = relationship()
    name_tokens: Mapped[list[NameToken]] = relationship(
        back_populates="signature", cascade="all, delete-orphan"
    )

    # A comment is public only under its own consent (migration 0003_signing).
    comment_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the worker decided to mail this submission its confirmation link.
    mailed_at: Mapped[datetime | None] = mapped_column(DateTime)

    @hybrid_property
    def counted(self) -> bool:
        """Whether this signature is in the count (`is_counted`). In a query,
        `Signature.counted` is the same rule in SQL: every count, list and export of
        counted signatures filters on it."""
        return is_counted(self.status, self.flagged)

    @counted.inplace.expression
    @classmethod
    def _counted_sql(cls) -> ColumnElement[bool]:
        return and_(cls.status == SignatureStatus.CONFIRMED, cls.flagged.is_(False))


class NameToken(db.Model):
    """Blind index of each normalized word of a signer's name, for exact-word search."""

    __tablename__ = "name_tokens"

    signature_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("signatures.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)

    signature: Mapped[Signature] = relationship(back_populates="name_tokens")


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


class TlogPending(db.Model):
    """A change to "counted", written in the same transaction as the change; the worker
    or `flask count publish` appends these to the transparency log in batches."""

    __tablename__ = "tlog_pending"
    __table_args__ = (Index("ix_tlog_pending_campaign_id", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    signature_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    reason: Mapped[str | None] = mapped_column(String(16))  # for remove
    commitment: Mapped[str | None] = mapped_column(String(64))  # for add, hex
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TlogEntry(db.Model):
    """One leaf of a campaign's transparency log (services/transparency.py)."""

    __tablename__ = "tlog_entries"
    __table_args__ = (
        Index("ix_tlog_entries_commitment", "campaign_id", "commitment_key"),
        Index("ix_tlog_entries_target", "campaign_id", "target_index"),
        Index("ix_tlog_entries_signature", "campaign_id", "signature_id"),
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # Private to the server: which signature an add is for, so its removal can name it.
    signature_id: Mapped[int | None] = mapped_column(BigId)
    # An add's commitment, first 8 bytes as a signed integer: a small index for receipt
    # lookups (the full commitment is in `data`). NULL for a remove.
    commitment_key: Mapped[int | None] = mapped_column(BigInteger)
    target_index: Mapped[int | None] = mapped_column(BigInteger)  # remove: the add it cancels


class TlogTile(db.Model):
    """A tile of hashes (c2sp.org/tlog-tiles), rewritten while partial."""

    __tablename__ = "tlog_tiles"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class TlogCheckpoint(db.Model):
    """Every signed checkpoint ever published, kept."""

    __tablename__ = "tlog_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(BigInteger)  # adds - removes at this size
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TlogWitness(db.Model):
    """A witness whose cosignatures (c2sp.org/tlog-cosignature) the logs accept and
    serve: `flask count witness add NAME KEY`."""

    __tablename__ = "tlog_witnesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    vkey: Mapped[str] = mapped_column(String(400))  # name+keyid+base64(0x04‖key)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TlogCosignature(db.Model):
    """A witness's verified cosignature line on one checkpoint, served appended to it."""

    __tablename__ = "tlog_cosignatures"

    checkpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tlog_checkpoints.id"), primary_key=True
    )
    witness_id: Mapped[int] = mapped_column(ForeignKey("tlog_witnesses.id"), primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
