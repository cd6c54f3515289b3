"""Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 `cosignature/v1`). Pure
functions over text and bytes, shared by the server (which stores what witnesses send)
and the standalone verifier (which checks them).

A cosignature is a signed-note line `— <witness name> base64(key id ‖ u64 time ‖ sig)`,
the signature over "cosignature/v1\\ntime <t>\\n" followed by the checkpoint's body. A
witness signs only a checkpoint consistent with every one it saw before, so a log that
shows two different histories can't get both cosigned by the same honest witness.
"""

from __future__ import annotations

import base64
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import tlog_note
from .tlog_note import EM_DASH

COSIGNATURE_ALG = b"\x04"
WITNESS_ALGS = (COSIGNATURE_ALG, tlog_note.ED25519_ALG)


def key_id(name: str, public_key: bytes) -> bytes:
    return tlog_note.key_id(name, public_key, COSIGNATURE_ALG)


def witness_key(name: str, public_key: bytes) -> str:
    """The witness's vkey: name+hex key id+base64(0x04‖key)."""
    return tlog_note.verifier_key(name, public_key, COSIGNATURE_ALG)


def parse_witness_key(vkey: str) -> tuple[str, bytes, bytes, bytes]:
    """(name, key id, public key, alg) of a witness vkey: cosignature/v1 (0x04, signs
    with a timestamp) or a plain Ed25519 note key (0x01, signs the checkpoint's text
    as a log does, undated); ValueError otherwise."""
    try:
        name, kid, encoded = vkey.strip().split("+", 2)
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise ValueError("not a witness key (name+keyid+base64)") from None
    if not name or any(c.isspace() for c in name):
        raise ValueError("a witness name has no spaces")
    alg = raw[:1]
    if alg not in WITNESS_ALGS or len(raw) != 33:
        raise ValueError("not an Ed25519 or cosignature/v1 witness key")
    if tlog_note.key_id(name, raw[1:], alg).hex() != kid:
        raise ValueError("the witness key's id does not match its name and key")
    return name, bytes.fromhex(kid), raw[1:], alg


def message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """A witness's signature line for a checkpoint body (what a witness does)."""
    public = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(message(body, timestamp))
    blob = key_id(name, public) + struct.pack(">Q", timestamp) + signature
    return f"{EM_DASH} {name} {base64.b64encode(blob).decode()}"


def note_parts(note: str) -> tuple[str, list[str]]:
    """(text with its final newline, signature lines) of a signed note, strictly."""
    return tlog_note.note_parts(note)


def check(body: str, line: str, vkey: str) -> int | None:
    """The cosignature's timestamp if `line` is by the witness of `vkey` and valid (0 for
    a plain Ed25519 witness signature, which carries none); None if the line is someone
    else's; ValueError if it claims to be theirs but is bad."""
    name, kid, public, alg = parse_witness_key(vkey)
    prefix = f"{EM_DASH} {name} "
    if not line.startswith(prefix):
        return None
    try:
        blob = base64.b64decode(line[len(prefix) :], validate=True)
    except ValueError:
        return None
    if blob[:4] != kid:
        return None
    if alg == tlog_note.ED25519_ALG:
        signed, timestamp, signature = body.encode(), 0, blob[4:]
        if len(signature) != 64:
            raise ValueError(f"malformed signature from {name}")
    else:
        if len(blob) != 4 + 8 + 64:
            raise ValueError(f"malformed cosignature from {name}")
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        if timestamp >= 1 << 63:
            raise ValueError(f"malformed cosignature from {name}")
        signed, signature = message(body, timestamp), blob[12:]
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, signed)
    except InvalidSignature:
        raise ValueError(f"bad cosignature from {name}") from None
    return timestamp


def cosigned_by(note: str, vkey: str) -> int | None:
    """The timestamp of the valid cosignature of `vkey`'s witness on `note`, or None;
    ValueError for a bad one."""
    body, lines = note_parts(note)
    for line in lines:
        timestamp = check(body, line, vkey)
        if timestamp is not None:
            return timestamp
    return None
