"""Reading a campaign's stored tiles fast: one query for every tile a proof needs, and a
per-process cache that stays valid because the log only grows.

A tile's first w hashes never change once written (only the right edge is rewritten,
and only by appending), so any blob read from the database, full or partial, is a
valid prefix forever: a reader for a tree of `size` re-reads a cached partial tile only
when it needs more hashes than the cache holds. Perfect subtrees never change either,
so a full tile's inner nodes are computed once per process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ...extensions import db
from ..pages import cache
from ..verifier import tlog

FULL_TILE = tlog.TILE_WIDTH * tlog.HASH_SIZE
CACHED_TILES = 4096  # up to 32 MB of tile blobs (plus inner nodes) per process


def driver(statement: str, params: tuple | list[tuple]):
    """A statement straight on the driver (a list of tuples: executemany): at a million
    leaves, or a proof in well under a millisecond, SQLAlchemy's per-statement and
    per-row processing costs more than the database. `statement` is a constant
    written with "?" placeholders."""
    connection = db.session.connection()
    if connection.dialect.paramstyle != "qmark":
        statement = statement.replace("?", "%s")
    return connection.exec_driver_sql(statement, params)


def rows(statement: str, params: tuple) -> list[tuple]:
    """A read on the DB-API cursor of the session's connection (same transaction): for
    the few small queries of a receipt check, SQLAlchemy's result machinery would cost
    several times the query itself."""
    connection = db.session.connection()
    if connection.dialect.paramstyle != "qmark":
        statement = statement.replace("?", "%s")
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement, params)
        return cursor.fetchall()
    finally:
        cursor.close()


@dataclass
class TileCache:
    blobs: dict[tuple[int, int, int], bytes] = field(default_factory=dict)
    inner: dict[tuple[int, int, int], list[list[bytes]]] = field(default_factory=dict)
    # Perfect subtrees inside the right edge's partial tiles: (campaign, level, first, height).
    edge: dict[tuple[int, int, int, int], bytes] = field(default_factory=dict)

    def put(self, key: tuple[int, int, int], blob: bytes) -> None:
        if len(self.blobs) >= CACHED_TILES:
            self.blobs.clear()
            self.inner.clear()
            self.edge.clear()
        self.blobs[key] = blob


def tile_cache() -> TileCache:
    return cache.store(cache.TLOG_TILES).setdefault("reader", TileCache())


class Recorder:
    """A tlog.StoredHash that only notes which tiles a computation reads, so a reader
    can fetch them all in one query before doing it for real."""

    def __init__(self) -> None:
        self.tiles: set[tuple[int, int]] = set()

    def __call__(self, level: int, i: int) -> bytes:
        self.tiles.add((level, i // tlog.TILE_WIDTH))
        return bytes(tlog.HASH_SIZE)

    def perfect(self, level: int, first: int, height: int) -> bytes:
        self.tiles.add((level, first // tlog.TILE_WIDTH))
        return bytes(tlog.HASH_SIZE)


class TileReader:
    """Stored hashes (tlog.StoredHash) of a campaign's tree of `size` leaves."""

    def __init__(self, campaign_id: int, size: int) -> None:
        self.campaign_id = campaign_id
        self.size = size
        self.cache = tile_cache()

    def _fresh(self, level: int, n: int) -> bool:
        blob = self.cache.blobs.get((self.campaign_id, level, n))
        need = tlog.tile_width(level, n, self.size) * tlog.HASH_SIZE
        return blob is not None and len(blob) >= need

    def prefetch(self, tiles: Iterable[tuple[int, int]]) -> None:
        """Read every listed tile the cache can't serve, in one query."""
        missing = sorted(t for t in set(tiles) if not self._fresh(*t))
        if not missing:
            return
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(missing))
        params = [self.campaign_id] + [v for t in missing for v in t]
        found = rows(
            # Only "?" placeholders are joined in: the values travel as parameters.
            f"SELECT level, idx, hashes FROM tlog_tiles WHERE campaign_id = ? AND ({where})",  # noqa: S608  # nosec B608
            tuple(params),
        )
        for level, n, blob in found:
            self.cache.put((self.campaign_id, level, n), bytes(blob))

    def tile(self, level: int, n: int) -> bytes:
        if not self._fresh(level, n):
            self.prefetch([(level, n)])
        return self.cache.blobs.get((self.campaign_id, level, n), b"")

    def perfect(self, level: int, first: int, height: int) -> bytes:
        """The root of 2^height stored hashes from `first`: a lookup in a full tile's
        inner nodes (computed once per process), else hashed from the tile's bytes."""
        n, offset = divmod(first, tlog.TILE_WIDTH)
        blob = self.tile(level, n)
        if len(blob) == FULL_TILE:
            key = (self.campaign_id, level, n)
            inner = self.cache.inner.get(key)
            if inner is None:
                hashes = [blob[j : j + tlog.HASH_SIZE] for j in range(0, FULL_TILE, tlog.HASH_SIZE)]
                inner = self.cache.inner[key] = tlog.inner_levels(hashes)
            return inner[height][offset >> height]
        key = (self.campaign_id, level, first, height)
        if key not in self.cache.edge:
            start, end = offset * tlog.HASH_SIZE, (offset + (1 << height)) * tlog.HASH_SIZE
            if len(blob) < end:
                raise LookupError("hash not in the log yet")
            self.cache.edge[key] = tlog.perfect_root(
                [blob[j : j + tlog.HASH_SIZE] for j in range(start, end, tlog.HASH_SIZE)]
            )
        return self.cache.edge[key]

    def __call__(self, level: int, i: int) -> bytes:
        n, offset = divmod(i, tlog.TILE_WIDTH)
        blob = self.tile(level, n)[offset * tlog.HASH_SIZE : (offset + 1) * tlog.HASH_SIZE]
        if len(blob) != tlog.HASH_SIZE:
            raise LookupError("hash not in the log yet")
        return blob


def inclusion_proofs(campaign_id: int, size: int, indexes: list[int]) -> list[list[bytes]]:
    """RFC 9162 inclusion proofs of `indexes` in the tree of `size`, tiles read at once."""
    recorder = Recorder()
    for index in indexes:
        tlog.inclusion_proof(recorder, index, size)
    reader = TileReader(campaign_id, size)
    reader.prefetch(recorder.tiles)
    return [tlog.inclusion_proof(reader, index, size) for index in indexes]


def consistency_proof(campaign_id: int, old: int, new: int) -> list[bytes]:
    """RFC 9162 consistency proof from the tree of `old` leaves to the one of `new`."""
    recorder = Recorder()
    tlog.consistency_proof(recorder, old, new)
    reader = TileReader(campaign_id, new)
    reader.prefetch(recorder.tiles)
    return tlog.consistency_proof(reader, old, new)


def root_hash(campaign_id: int, size: int) -> bytes:
    recorder = Recorder()
    tlog.root_hash(recorder, size)
    reader = TileReader(campaign_id, size)
    reader.prefetch(recorder.tiles)
    return tlog.root_hash(reader, size)
