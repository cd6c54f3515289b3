"""The petition's own tables: campaigns, their sharded counts, the consent wordings
signers saw, signatures and the blind index of their names.

Personal data lives only in `Signature`, encrypted (services/sealing/sealed.py); lookups use
keyed hashes, so the database alone reveals no one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    or_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from ..extensions import db
from .common import BigId, new_row_key, utcnow


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
    # Of those, entered from paper sheets (issue 26): online = confirmed - paper.
    paper: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

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
        # A sheet's rows (issue 26: the check's sample, the pack).
        Index("ix_signatures_sheet", "sheet_id", "sheet_row"),
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

    # Random per-signature secret; links carry an HMAC of it (see services/intake/links.py).
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
    # associated data, services/sealing/crypto.py), so a value can't be moved to another row.
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
    # The cap on extra mails counts per rolling window (migration 0012_extra_mail_window):
    # when the current window opened, and how many extra mails it has sent.
    extra_mails_since: Mapped[datetime | None] = mapped_column(DateTime)
    extra_mails: Mapped[int] = mapped_column(Integer, server_default="0")  # not on the hot INSERT

    # Issue 23 (migration 0013_sealed_to_organizers): name, email and comment sealed
    # together to the organizers' offline key (the server can't open it); the same
    # under a secret only the signer's data link carries; that secret, kept only while
    # pending; and the public display ("first name, last initial") under its consent.
    organizer_sealed: Mapped[str | None] = mapped_column(Text)
    signer_copy: Mapped[str | None] = mapped_column(Text)
    link_secret: Mapped[str | None] = mapped_column(String(32))
    display_enc: Mapped[str | None] = mapped_column(Text)

    # Issue 26 (migration 0014_paper_signatures): how the signature was collected
    # ("online", or "paper": entered from a sheet), the sheet and its row; a paper
    # row's address confirmed by its owner (the paper mail's link), and the signature
    # a paper row was found to repeat (same address), which then counts instead.
    method: Mapped[str] = mapped_column(String(8), server_default="online")
    sheet_id: Mapped[int | None] = mapped_column(ForeignKey("paper_sheets.id"))
    sheet_row: Mapped[int | None] = mapped_column(Integer)
    email_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    linked_id: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def on_paper(self) -> bool:
        return self.method == "paper"

    @hybrid_property
    def mailbox_confirmed(self) -> bool:
        """Whether the address's owner confirmed it: every online signature that was
        confirmed; a paper row only once its owner answered the paper mail (until then,
        the address is only what someone wrote on a sheet, so no campaign mail)."""
        return self.method != "paper" or self.email_confirmed_at is not None

    @mailbox_confirmed.inplace.expression
    @classmethod
    def _mailbox_confirmed_sql(cls) -> ColumnElement[bool]:
        return or_(cls.method != "paper", cls.email_confirmed_at.is_not(None))

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
