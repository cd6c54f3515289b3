"""Reading a campaign's transparency log: stored tiles, sizes, checkpoints, the tile and
entry-bundle bytes the routes serve, and receipt lookups with inclusion proofs.
Written to only by services/log/transparency.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from ...extensions import db
from ...models import TlogCheckpoint, TlogEntry
from ..verifier import tlog
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


def published(campaign_id: int):
    """The WHERE clause of a campaign's published checkpoints."""
    return (TlogCheckpoint.campaign_id == campaign_id) & TlogCheckpoint.published_at.is_not(None)


def all_checkpoints(campaign_id: int) -> list[TlogCheckpoint]:
    """Every published checkpoint, oldest first."""
    return list(
        db.session.scalars(
            select(TlogCheckpoint).where(published(campaign_id)).order_by(TlogCheckpoint.id)
        )
    )


def checkpoints_page(
    campaign_id: int, page: int, per_page: int
) -> tuple[list[TlogCheckpoint], int]:
    """One page of the campaign's published checkpoints, oldest first, and how many
    there are. Checkpoints are only ever added, and published in order, so page n always
    holds the same ones (numbers n × per_page up to the next page's first); only the
    last page grows."""
    total = db.session.scalar(
        select(func.count()).select_from(TlogCheckpoint).where(published(campaign_id))
    )
    rows = db.session.scalars(
        select(TlogCheckpoint)
        .where(published(campaign_id))
        .order_by(TlogCheckpoint.id)
        .offset(page * per_page)
        .limit(per_page)
    )
    return list(rows), total or 0


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
    removal_index: int | None = None
    note: str = ""
    size: int = 0
    proof: list[bytes] = field(default_factory=list)
    removal_proof: list[bytes] = field(default_factory=list)
    restores: int = 0  # the restore counter of the add found (0: never restored)


@dataclass
class Add:
    restores: int  # its restore counter
    index: int
    removal_index: int | None  # the remove that cancels it, if appended


def commitment_key(commitment_hex: str) -> int:
    """The indexed part of a commitment: its first 8 bytes, as a signed 64-bit integer."""
    return int.from_bytes(bytes.fromhex(commitment_hex[:16]), "big", signed=True)


# Restore counters tried per query (ADDS_OF's 8 placeholders): one query unless restored 8 times.
GENERATIONS = 8
# An add by its commitment key, and the remove cancelling it by the server's private
# `target_index` (both indexed): the public leaf names no add, so the server finds it
# by its own bookkeeping, and a check of the remove's leaf recomputes its commitment.
ADDS_OF = (
    "SELECT a.idx, a.data, a.commitment_key, r.idx FROM tlog_entries a "
    "LEFT JOIN tlog_entries r ON r.campaign_id = a.campaign_id AND r.target_index = a.idx "
    "WHERE a.campaign_id = ? AND a.commitment_key IN (?, ?, ?, ?, ?, ?, ?, ?)"
)


def adds_of(campaign_id: int, secret: bytes) -> list[Add]:
    """Every appended add of a receipt's secret, oldest first (restore counter 0, 1, …:
    each restore's add has the next one), with the index of its remove if any."""
    found: list[Add] = []
    while True:
        first = len(found)
        wanted = {}
        for restores in range(first, first + GENERATIONS):
            hex_ = tlog.commitment(secret, restores).hex()
            wanted[commitment_key(hex_)] = (restores, f"add {hex_} ".encode())
        hits = {}
        for idx, data, key, removal in rows(ADDS_OF, (campaign_id, *wanted)):
            restores, needle = wanted[key]
            # A log from before restore counters may hold one commitment twice: the later.
            if bytes(data).startswith(needle) and idx > getattr(hits.get(restores), "index", -1):
                hits[restores] = Add(restores, idx, removal)
        while len(found) in hits:  # counters are consecutive: stop at the first gap
            found.append(hits[len(found)])
        if len(found) < first + GENERATIONS:
            return found


def check_receipt(campaign_id: int, secret: bytes) -> ReceiptCheck:
    """Where a receipt's latest add is, whether a remove cancels it, and the inclusion
    proofs against the latest checkpoint. Logs nothing. Three plain driver queries:
    the adds with their removes, the checkpoint, then every tile both proofs need at
    once (most of them from the process's cache)."""
    adds = adds_of(campaign_id, secret) if secret else []
    if not adds:
        return ReceiptCheck("unknown")
    add = adds[-1]
    last = rows(
        "SELECT size, note FROM tlog_checkpoints WHERE campaign_id = ? "
        "AND published_at IS NOT NULL ORDER BY id DESC LIMIT 1",
        (campaign_id,),
    )
    if not last or add.index >= last[0][0]:
        return ReceiptCheck("pending", add.index, restores=add.restores)
    [(size, note)] = last
    result = ReceiptCheck("included", add.index, note=note, size=size, restores=add.restores)
    if add.removal_index is None or add.removal_index >= size:
        [result.proof] = inclusion_proofs(campaign_id, size, [add.index])
        return result
    result.state, result.removal_index = "removed", add.removal_index
    result.proof, result.removal_proof = inclusion_proofs(
        campaign_id, size, [add.index, add.removal_index]
    )
    return result


def entry_at(campaign_id: int, index: int) -> bytes:
    return bytes(
        db.session.scalar(
            select(TlogEntry.data).where(
                TlogEntry.campaign_id == campaign_id, TlogEntry.idx == index
            )
        )
    )
