"""The transparency log's tables: pending changes to "counted", the log's leaves,
tiles and signed checkpoints, and witnesses with their cosignatures
(services/log/transparency.py and the tlog_* services)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .common import BigId, utcnow


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
    """One leaf of a campaign's transparency log (services/log/transparency.py)."""

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
    # Set once TLOG_WITNESS_THRESHOLD witnesses cosigned it: only published checkpoints
    # are served; until then the previous published one stays current.
    published_at: Mapped[datetime | None] = mapped_column(DateTime)


class TlogWitness(db.Model):
    """A witness whose cosignatures (c2sp.org/tlog-cosignature) the logs accept and
    serve: `flask count witness add NAME KEY`."""

    __tablename__ = "tlog_witnesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    vkey: Mapped[str] = mapped_column(String(400))  # name+keyid+base64(alg‖key)
    url: Mapped[str | None] = mapped_column(String(500))  # submission prefix (pushed to)
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
