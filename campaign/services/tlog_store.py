"""Reading a campaign's transparency log: stored tiles, sizes, checkpoints, the tile and
entry-bundle bytes the routes serve, and receipt lookups with inclusion proofs.
Written to only by services/transparency.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ..extensions import db
from ..models import TlogCheckpoint, TlogEntry, TlogTile
from . import cache, tlog

# --- reading the tree ---------------------------------------------------------


FULL_TILE = tlog.TILE_WIDTH * tlog.HASH_SIZE
CACHED_TILES = 4096  # full tiles are immutable: up to 32 MB of them kept per process


def _full_tiles() -> dict:
    return cache.store(cache.TLOG_TILES)


class TileReader:
    """Reads stored hashes (tlog.StoredHash) from a campaign's tiles. Full tiles never
    change, so they are kept per process; partial ones only for this reader's use."""

    def __init__(self, campaign_id: int) -> None:
        self.campaign_id = campaign_id
        self.tiles: dict[tuple[int, int], bytes] = {}

    def tile(self, level: int, n: int) -> bytes:
        key = (level, n)
        full = _full_tiles()
        if (self.campaign_id, *key) in full:
            return full[(self.campaign_id, *key)]
        if key not in self.tiles:
            self.tiles[key] = blob = bytes(
                db.session.scalar(
                    select(TlogTile.hashes).where(
                        TlogTile.campaign_id == self.campaign_id,
                        TlogTile.level == level,
                        TlogTile.idx == n,
                    )
                )
                or b""
            )
            if len(blob) == FULL_TILE:
                if len(full) >= CACHED_TILES:
                    full.clear()
                full[(self.campaign_id, *key)] = blob
        return self.tiles[key]

    def perfect(self, level: int, first: int, height: int) -> bytes:
        """The root of 2^height stored hashes from `first`: a lookup in a full tile's
        inner nodes (computed once per process), else hashed here."""
        n, offset = divmod(first, tlog.TILE_WIDTH)
        blob = self.tile(level, n)
        if len(blob) == FULL_TILE:
            inner = _full_tiles().setdefault(("inner", self.campaign_id, level, n), None)
            if inner is None:
                hashes = [blob[j : j + tlog.HASH_SIZE] for j in range(0, FULL_TILE, tlog.HASH_SIZE)]
                inner = _full_tiles()[("inner", self.campaign_id, level, n)] = tlog.inner_levels(
                    hashes
                )
            return inner[height][offset >> height]
        return tlog.perfect_root([self(level, first + i) for i in range(1 << height)])

    def __call__(self, level: int, i: int) -> bytes:
        n, offset = divmod(i, tlog.TILE_WIDTH)
        blob = self.tile(level, n)[offset * tlog.HASH_SIZE : (offset + 1) * tlog.HASH_SIZE]
        if len(blob) != tlog.HASH_SIZE:
            raise LookupError("hash not in the log yet")
        return blob


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
    return db.session.scalar(
        select(TlogCheckpoint)
        .where(TlogCheckpoint.campaign_id == campaign_id)
        .order_by(TlogCheckpoint.id.desc())
        .limit(1)
    )


def all_checkpoints(campaign_id: int) -> list[TlogCheckpoint]:
    return list(
        db.session.scalars(
            select(TlogCheckpoint)
            .where(TlogCheckpoint.campaign_id == campaign_id)
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
    blob = TileReader(campaign_id).tile(level, n)
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
    rows = db.session.execute(
        select(TlogEntry.idx, TlogEntry.data).where(
            TlogEntry.campaign_id == campaign_id,
            TlogEntry.commitment_key == commitment_key(commitment_hex),
        )
    ).all()
    needle = f"add {commitment_hex} ".encode()
    found = [row.idx for row in rows if bytes(row.data).startswith(needle)]
    return max(found) if found else None


def check_receipt(campaign_id: int, commitment_hex: str) -> ReceiptCheck:
    """Where a receipt's add is, whether a remove cancels it, and the inclusion proofs
    against the latest checkpoint. Logs nothing."""
    index = index_of(campaign_id, commitment_hex) if commitment_hex else None
    if index is None:
        return ReceiptCheck("unknown")
    last = latest_checkpoint(campaign_id)
    if last is None or index >= last.size:
        return ReceiptCheck("pending", index)
    reader = TileReader(campaign_id)
    result = ReceiptCheck(
        "included",
        index,
        note=last.note,
        size=last.size,
        proof=tlog.inclusion_proof(reader, index, last.size),
    )
    # By the target's index alone (an idx range would steer SQLite off that index).
    removals = db.session.execute(
        select(TlogEntry.idx, TlogEntry.data).where(
            TlogEntry.campaign_id == campaign_id, TlogEntry.target_index == index
        )
    ).all()
    removal = next((r for r in removals if r.idx < last.size), None)
    if removal is not None:
        result.state, result.removal_index = "removed", removal.idx
        result.reason = tlog.parse_entry(bytes(removal.data))[2]
        result.removal_proof = tlog.inclusion_proof(reader, removal.idx, last.size)
    return result


def entry_at(campaign_id: int, index: int) -> bytes:
    return bytes(
        db.session.scalar(
            select(TlogEntry.data).where(
                TlogEntry.campaign_id == campaign_id, TlogEntry.idx == index
            )
        )
    )
