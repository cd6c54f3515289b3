"""Merkle-tree math for the transparency log: RFC 6962/9162 hashing, C2SP tiles and
signed notes. Pure functions over bytes, no Flask and no database, so the standalone
verifier (`campaign/services/verifier/tlog_verify.py`) and the server share one implementation.

Leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right).
Tiles (c2sp.org/tlog-tiles) hold 256 hashes; level-L tiles hold the hashes of the
tree's level 8·L, so any node is at most 255 hashes away from a stored one.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
HASH_SIZE = 32

# A function giving the hash at tree level 8·L, index i: the server reads it from its
# stored tiles, the verifier from fetched ones.
StoredHash = Callable[[int, int], bytes]


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _level_up(below: Sequence[bytes]) -> list[bytes]:
    """The level above 2^k nodes. node_hash inlined: a receipt's proof hashes a cold
    tile's 255 inner nodes, and the call per node was a third of the proof's time."""
    sha256, tag = hashlib.sha256, b"\x01"
    return [sha256(tag + a + b).digest() for a, b in zip(below[::2], below[1::2], strict=True)]


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree whose 2^k leaves (or stored nodes) are `hashes`."""
    level = list(hashes)
    while len(level) > 1:
        level = _level_up(level)
    return level[0]


def inner_levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the perfect tree over `hashes` (2^k of them), leaves first."""
    levels = [list(hashes)]
    while len(levels[-1]) > 1:
        levels.append(_level_up(levels[-1]))
    return levels


def largest_power_below(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1), RFC 6962's k."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(stored: StoredHash, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]), reading stored tile hashes for perfect, aligned subtrees."""
    size = hi - lo
    if size & (size - 1) == 0 and lo % size == 0:
        height = size.bit_length() - 1
        tile_level, rest = divmod(height, TILE_HEIGHT)
        first = lo >> (tile_level * TILE_HEIGHT)
        perfect = getattr(stored, "perfect", None)  # a reader may keep a tile's inner nodes
        if perfect is not None:
            return perfect(tile_level, first, rest)
        return perfect_root([stored(tile_level, first + i) for i in range(1 << rest)])
    k = largest_power_below(size)
    return node_hash(subtree_hash(stored, lo, lo + k), subtree_hash(stored, lo + k, hi))


def root_hash(stored: StoredHash, size: int) -> bytes:
    if size == 0:
        return hashlib.sha256(b"").digest()
    return subtree_hash(stored, 0, size)


def inclusion_proof(stored: StoredHash, index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size])."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    proof: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_below(hi - lo)
        if index < lo + k:
            proof.append(subtree_hash(stored, lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_hash(stored, lo, lo + k))
            lo = lo + k
    proof.reverse()  # leaf-to-root order, as RFC 9162 sends it
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def consistency_proof(stored: StoredHash, old: int, new: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old, D[0:new])."""
    if not 0 < old <= new:
        raise ValueError("bad sizes")

    def sub(m: int, lo: int, hi: int, complete: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if complete else [subtree_hash(stored, lo, hi)]
        k = largest_power_below(n)
        if m <= k:
            return sub(m, lo, lo + k, complete) + [subtree_hash(stored, lo + k, hi)]
        return sub(m - k, lo + k, hi, False) + [subtree_hash(stored, lo, lo + k)]

    return sub(old, 0, new, True)


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new or not proof:
        return False
    proof = list(proof)
    if old & (old - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


# --- tiles (c2sp.org/tlog-tiles) --------------------------------------------


def tile_index_path(n: int) -> str:
    """1234067 → "x001/x234/067"."""
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def parse_tile_index(path: str) -> int:
    parts = path.split("/")
    if not parts or any(len(p) != 4 or p[0] != "x" or not p[1:].isdigit() for p in parts[:-1]):
        raise ValueError("bad tile index")
    if len(parts[-1]) != 3 or not parts[-1].isdigit() or not parts[-1].isascii():
        raise ValueError("bad tile index")
    value = 0
    for part in parts:
        value = value * 1000 + int(part.lstrip("x"))
    return value


def tile_path(level: int | str, n: int, width: int = TILE_WIDTH) -> str:
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{tile_index_path(n)}{suffix}"


def tile_width(level: int, n: int, size: int) -> int:
    """How many hashes tile (level, n) holds in a tree of `size`: 0 if none."""
    stored = size >> (TILE_HEIGHT * level)  # hashes that exist at this level
    return max(0, min(TILE_WIDTH, stored - n * TILE_WIDTH))


def tiles_for(size: int) -> list[tuple[int, int, int]]:
    """Every (level, index, width) tile a tree of `size` has."""
    out = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        for n in range(-(-count // TILE_WIDTH)):
            out.append((level, n, tile_width(level, n, size)))
        level += 1
    return out


def entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Big-endian uint16 length-prefixed entries."""
    return b"".join(struct.pack(">H", len(e)) + e for e in entries)


def parse_entry_bundle(data: bytes) -> list[bytes]:
    entries, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("truncated bundle")
        (length,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + length > len(data):
            raise ValueError("truncated bundle")
        entries.append(data[pos : pos + length])
        pos += length
    return entries


# --- entries ----------------------------------------------------------------
#
# `add <commitment> <YYYY-MM-DDTHH>`: a signature became counted in that hour.
# `remove <removal commitment>`: some signature stopped counting. It names neither the
# add it cancels nor why, so whoever can place a person's add learns nothing of whether
# or when they left. adds − removes is the count (docs/SECURITY.md, Threat 6).
#
# Both are SHA-256 of a domain tag, the signer's 32-byte receipt secret and, from the
# first restore on, the restore counter (4 bytes, big-endian): only the receipt's
# holder (and, while the signature exists, the server) can open them, and a restore
# never reuses a commitment. A receipt check tries counters 0, 1, … until an add is
# missing: the last one found is the signature's current add.
#
# `remove <index> <reason>` is the format before that (issue 25 §5): still read, so a
# log started with it stays verifiable, but never written.
#
# Paper signatures (issue 26) are their own kind of leaf, so the verifier's count
# separates them: `paper <commitment> <sheet number> <YYYY-MM-DDTHH>` (a row entered
# from that sheet became counted in that hour; a sheet's rows are appended as one
# batch) and `paper-remove <removal commitment>` (some paper signature stopped
# counting). No receipt is given for paper, so both commitments are random: they
# only make each leaf unique. adds + paper − removes − paper-removes is the count.

LEGACY_REMOVE_REASONS = ("withdrawn", "invalidated", "erased")
ADD_TAG = b"petition-receipt\x00"
REMOVE_TAG = b"petition-remove\x00"
# How many restores an offline check tries: far more than a signature ever sees.
MAX_RESTORES = 256


def add_entry(commitment: bytes, hour: str) -> bytes:
    """`add <commitment hex> <YYYY-MM-DDTHH>`: nothing else about the signer."""
    return f"add {commitment.hex()} {hour}".encode("ascii")


def remove_entry(removal: bytes) -> bytes:
    """`remove <removal commitment hex>`: no index, no reason."""
    if len(removal) != HASH_SIZE:
        raise ValueError("a removal commitment is 32 bytes")
    return f"remove {removal.hex()}".encode("ascii")


PAPER_ADD, PAPER_REMOVE = "paper", "paper-remove"
PAPER_TAG = b"petition-paper\x00"


def paper_commitment(nonce: str) -> bytes:
    """A paper leaf's commitment, from a fresh random nonce nobody keeps."""
    return hashlib.sha256(PAPER_TAG + nonce.encode("ascii")).digest()


def paper_entry(commitment: bytes, sheet: int, hour: str) -> bytes:
    """`paper <commitment hex> <sheet number> <YYYY-MM-DDTHH>`."""
    if len(commitment) != HASH_SIZE or sheet < 1:
        raise ValueError("a paper leaf has a 32-byte commitment and a sheet number")
    return f"{PAPER_ADD} {commitment.hex()} {sheet} {hour}".encode("ascii")


def paper_remove_entry(removal: bytes) -> bytes:
    """`paper-remove <removal commitment hex>`: names no sheet, no add, no reason."""
    if len(removal) != HASH_SIZE:
        raise ValueError("a removal commitment is 32 bytes")
    return f"{PAPER_REMOVE} {removal.hex()}".encode("ascii")


def _hex64(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def parse_entry(entry: bytes) -> tuple[str, str, str]:
    """("add", commitment hex, hour), ("remove", removal commitment hex, ""), a legacy
    ("remove", index, reason), ("paper", commitment hex, "<sheet> <hour>") or
    ("paper-remove", removal commitment hex, ""); ValueError otherwise."""
    parts = entry.decode("ascii").split(" ")
    if len(parts) == 3 and parts[0] == "add" and _hex64(parts[1]):
        return parts[0], parts[1], parts[2]
    if (
        len(parts) == 4
        and parts[0] == PAPER_ADD
        and _hex64(parts[1])
        and parts[2].isascii()
        and parts[2].isdigit()
        and not parts[2].startswith("0")
    ):
        return parts[0], parts[1], f"{parts[2]} {parts[3]}"
    if len(parts) == 2 and parts[0] == PAPER_REMOVE and _hex64(parts[1]):
        return parts[0], parts[1], ""
    if len(parts) == 2 and parts[0] == "remove" and _hex64(parts[1]):
        return parts[0], parts[1], ""
    if (
        len(parts) == 3
        and parts[0] == "remove"
        and parts[1].isascii()
        and parts[1].isdigit()
        and parts[2] in LEGACY_REMOVE_REASONS
    ):
        return parts[0], parts[1], parts[2]
    raise ValueError("not a log entry")


def _counter(restores: int) -> bytes:
    return b"" if restores == 0 else restores.to_bytes(4, "big")


def commitment(secret: bytes, restores: int = 0) -> bytes:
    """The add's commitment: the first (restores=0), then one per restore."""
    return hashlib.sha256(ADD_TAG + secret + _counter(restores)).digest()


def removal(secret: bytes, restores: int = 0) -> bytes:
    """The commitment of the remove that cancels add number `restores`."""
    return hashlib.sha256(REMOVE_TAG + secret + _counter(restores)).digest()
