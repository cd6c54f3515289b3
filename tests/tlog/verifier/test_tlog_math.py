"""The Merkle math against a direct RFC 6962 implementation, for every small size."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from campaign.services.verifier import tlog, tlog_note
from campaign.services.verifier.tlog_checks import Tree


def mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1, written the slow, obvious way."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return tlog.leaf_hash(leaves[0])
    k = tlog.largest_power_below(len(leaves))
    return tlog.node_hash(mth(leaves[:k]), mth(leaves[k:]))


ENTRIES = [f"add {i:064x} 2026-01-01T00".encode() for i in range(600)]
TREE = Tree([tlog.leaf_hash(e) for e in ENTRIES])


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 8, 255, 256, 257, 511, 512, 513, 600])
def test_root_matches_rfc6962_definition(size):
    assert tlog.root_hash(TREE, size) == mth(ENTRIES[:size])


@pytest.mark.parametrize("size", [1, 2, 7, 256, 300, 600])
def test_inclusion_proofs_verify_and_a_wrong_leaf_fails(size):
    root = tlog.root_hash(TREE, size)
    for index in sorted({0, size // 2, size - 1}):
        proof = tlog.inclusion_proof(TREE, index, size)
        leaf = tlog.leaf_hash(ENTRIES[index])
        assert tlog.verify_inclusion(leaf, index, size, proof, root)
        assert not tlog.verify_inclusion(tlog.leaf_hash(b"forged"), index, size, proof, root)


@pytest.mark.parametrize(
    "old,new", [(1, 2), (3, 7), (4, 8), (255, 256), (256, 600), (300, 513), (7, 7)]
)
def test_consistency_proofs_verify_and_a_fork_fails(old, new):
    proof = tlog.consistency_proof(TREE, old, new)
    old_root, new_root = tlog.root_hash(TREE, old), tlog.root_hash(TREE, new)
    assert tlog.verify_consistency(old, new, old_root, new_root, proof)
    if old != new:
        assert not tlog.verify_consistency(old, new, mth([b"fork"] * old), new_root, proof)


def test_tile_paths_follow_c2sp():
    assert tlog.tile_index_path(1234067) == "x001/x234/067"
    assert tlog.tile_index_path(5) == "005"
    assert tlog.parse_tile_index("x001/x234/067") == 1234067
    assert tlog.tile_path(0, 1, 17) == "tile/0/001.p/17"
    # the spec's example: a tree of 70,000 entries
    tiles = tlog.tiles_for(70_000)
    assert sum(1 for t in tiles if t[0] == 0 and t[2] == 256) == 273
    assert (0, 273, 112) in tiles and (1, 1, 17) in tiles and (2, 0, 1) in tiles
    assert tlog.tiles_for(256) == [(0, 0, 256), (1, 0, 1)]


def test_signed_checkpoint_round_trip_and_tamper():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    name = "petition.test/x/log"
    vkey = tlog_note.verifier_key(name, key.public_key().public_bytes_raw())
    note = tlog_note.sign_note(
        tlog_note.checkpoint_body(name, 600, tlog.root_hash(TREE, 600)), name, key
    )
    assert tlog_note.open_checkpoint(note, vkey) == (name, 600, tlog.root_hash(TREE, 600))
    with pytest.raises(ValueError):
        tlog_note.open_checkpoint(note.replace("\n600\n", "\n601\n"), vkey)


def signed(body: str, key, name: str = "petition.test/x/log") -> str:
    return tlog_note.sign_note(body, name, key)


@pytest.mark.parametrize(
    "tamper",
    [
        # Text after the signature lines: Go's note.Open rejects it.
        lambda note: note + "unsigned words\n",
        # A block between the body and the signature, which the old parser (split at the
        # first blank line) skipped: the text then ends at the last blank line.
        lambda note: note.replace("\n\n", "\n\nan unsigned block\n\n", 1),
        # No final newline; a control character.
        lambda note: note.rstrip("\n"),
        lambda note: note.replace("\n\n", "\r\n\n", 1),
    ],
)
def test_a_note_carrying_unsigned_text_is_refused(tamper):
    """Issue 25: "Unsigned text passes" (text after the signatures, or a block between
    the body and the signature)."""
    key = Ed25519PrivateKey.generate()
    name = "petition.test/x/log"
    vkey = tlog_note.verifier_key(name, key.public_key().public_bytes_raw())
    note = signed(tlog_note.checkpoint_body(name, 24, tlog.root_hash(TREE, 24)), key)
    assert tlog_note.open_checkpoint(note, vkey)[1] == 24
    with pytest.raises(ValueError):
        tlog_note.open_checkpoint(tamper(note), vkey)


@pytest.mark.parametrize("size_line", ["024", "٢٤", "+24", " 24", "24 "])
def test_a_size_line_must_be_canonical_ascii_decimal(size_line):
    """Issue 25: size lines such as `024` and `٢٤` were accepted, even signed."""
    key = Ed25519PrivateKey.generate()
    name = "petition.test/x/log"
    vkey = tlog_note.verifier_key(name, key.public_key().public_bytes_raw())
    root = tlog.root_hash(TREE, 24)
    body = tlog_note.checkpoint_body(name, 24, root).replace("\n24\n", f"\n{size_line}\n")
    with pytest.raises(ValueError):
        tlog_note.open_checkpoint(signed(body, key), vkey)
