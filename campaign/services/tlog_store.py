"""Reading a campaign's transparency log: stored tiles, sizes, checkpoints, the tile and
entry-bundle bytes the routes serve, and receipt lookups with inclusion proofs.
Written to only by services/transparency.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..extensions import db
from ..models import TlogCheckpoint, TlogEntry
from . import tlog
from .tlog_reader import TileReader, inclusion_proofs, rows

# --- reading the tree ---------------------------------------------------------


def tree_size(campaign_id: int) -> int:
    last = db.session.scalar(
        select(func.max(TlogEntry.idx)).where(TlogEntry.campaign_id == campaign_id)
    )
    return 0 if last is None else last + 1


def log_count(campaign_id: int, start: int = 0, end: int | None = None) -> int:
    """adds − removes among leaves [start, end) (default: every leaf appended so far)."""
    query = select(TlogEntry.target_index.is_not(None), func.count()).where(
        TlogEntry.campaign_id == campaign_id, TlogEntry.idx >= start
    )
    if end is not None:
        query = query.where(TlogEntry.idx < end)
    rows = dict(db.session.execute(query.group_by(TlogEntry.target_index.is_not(None))).all())
    return rows.get(False, 0) - rows.get(True, 0)


def latest_checkpoint(campaign_id: int) -> TlogCheckpoint | None:
    """The current checkpoint: the latest published one (witnessed enough)."""
    return db.session.scalar(
        select(TlogCheckpoint)
        .where(TlogCheckpoint.campaign_id == campaign_id, TlogCheckpoint.published_at.is_not(None))
        .order_by(TlogCheckpoint.id.desc())
        .limit(1)
    )


def latest_signed(campaign_id: int) -> TlogCheckpoint | None:
    """The latest checkpoint signed, published or still waiting for its witnesses."""
    return db.session.scalar(
        select(TlogCheckpoint)
        .where(TlogCheckpoint.campaign_id == campaign_id)
        .order_by(TlogCheckpoint.id.desc())
        .limit(1)
    )


def first_origin(campaign_id: int) -> str | None:
    """The origin the log's first checkpoint was signed under: the log's name for good."""
    note = db.session.scalar(
        select(TlogCheckpoint.note)
        .where(TlogCheckpoint.campaign_id == campaign_id)
        .order_by(TlogCheckpoint.id)
        .limit(1)
    )
    return note.split("\n", 1)[0] if note else None


def all_checkpoints(campaign_id: int) -> list[TlogCheckpoint]:
    return list(
        db.session.scalars(
            select(TlogCheckpoint)
            .where(
                TlogCheckpoint.campaign_id == campaign_id, TlogCheckpoint.published_at.is_not(None)
            )
            .order_by(TlogCheckpoint.id)
        )
    )


# --- serving --------------------------------------------------------------------


def tile_bytes(campaign_id: int, level: int, n: int, width: int) -> bytes | None:
    """A tile as served; None unless the latest checkpoint's tree holds it (full or
    this exact partial width)."""
    last = latest_checkpoint(campaign_id)
    size = last.size if last else 0
    have = tlog.tile_width(level, n, size)
    if width == tlog.TILE_WIDTH and have != tlog.TILE_WIDTH or width > have:
        return None
    blob = TileReader(campaign_id, size).tile(level, n)
    return blob[: width * tlog.HASH_SIZE] if len(blob) >= width * tlog.HASH_SIZE else None


def entries_bytes(campaign_id: int, n: int, width: int) -> bytes | None:
    last = latest_checkpoint(campaign_id)
    have = tlog.tile_width(0, n, last.size if last else 0)
    if width == tlog.TILE_WIDTH and have != tlog.TILE_WIDTH or width > have:
        return None
    start = n * tlog.TILE_WIDTH
    data = db.session.scalars(
        select(TlogEntry.data)
        .where(
            TlogEntry.campaign_id == campaign_id,
            TlogEntry.idx >= start,
            TlogEntry.idx < start + width,
        )
        .order_by(TlogEntry.idx)
    ).all()
    return tlog.entry_bundle([bytes(d) for d in data])


# --- receipts -------------------------------------------------------------------


@dataclass
class ReceiptCheck:
    state: str  # included | removed | pending (not in a checkpoint yet) | unknown
    index: int | None = None
    reason: str | None = None
    removal_index: int | None = None
    note: str = ""
    size: int = 0
    proof: list[bytes] = field(default_factory=list)
    removal_proof: list[bytes] = field(default_factory=list)


def commitment_key(commitment_hex: str) -> int:
    """The indexed part of a commitment: its first 8 bytes, as a signed 64-bit integer."""
    return int.from_bytes(bytes.fromhex(commitment_hex[:16]), "big", signed=True)


def index_of(campaign_id: int, commitment_hex: str) -> int | None:
    """The latest add with this commitment (a restore adds it again)."""
    candidates = rows(
        "SELECT idx, data FROM tlog_entries WHERE campaign_id = ? AND commitment_key = ?",
        (campaign_id, commitment_key(commitment_hex)),
    )
    needle = f"add {commitment_hex} ".encode()
    found = [idx for idx, data in candidates if bytes(data).startswith(needle)]
    return max(found) if found else None


def check_receipt(campaign_id: int, commitment_hex: str) -> ReceiptCheck:
    """Where a receipt's add is, whether a remove cancels it, and the inclusion proofs
    against the latest checkpoint. Logs nothing. Plain driver queries (the add by its
    commitment index, the checkpoint, the removal by its target index, then every tile
    both proofs need at once, most of them from the process's cache)."""
    index = index_of(campaign_id, commitment_hex) if commitment_hex else None
    if index is None:
        return ReceiptCheck("unknown")
    last = rows(
        "SELECT size, note FROM tlog_checkpoints WHERE campaign_id = ? "
        "AND published_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        (campaign_id,),
    )
    if not last or index >= last[0][0]:
        return ReceiptCheck("pending", index)
    [(size, note)] = last
    result = ReceiptCheck("included", index, note=note, size=size)
    # By the target's index alone (an idx range would steer SQLite off that index).
    removal = min(
        (
            (idx, data)
            for idx, data in rows(
                "SELECT idx, data FROM tlog_entries WHERE campaign_id = ? AND target_index = ?",
                (campaign_id, index),
            )
            if idx < size
        ),
        default=None,
    )
    if removal is None:
        [result.proof] = inclusion_proofs(campaign_id, size, [index])
        return result
    result.state, result.removal_index = "removed", removal[0]
    result.reason = tlog.parse_entry(bytes(removal[1]))[2]
    result.proof, result.removal_proof = inclusion_proofs(campaign_id, size, [index, removal[0]])
    return result


def entry_at(campaign_id: int, index: int) -> bytes:
    return bytes(
        db.session.scalar(
            select(TlogEntry.data).where(
                TlogEntry.campaign_id == campaign_id, TlogEntry.idx == index
            )
        )
    )
