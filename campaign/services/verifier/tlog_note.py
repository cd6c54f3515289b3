"""Signed notes (c2sp.org/signed-note) and checkpoints (c2sp.org/tlog-checkpoint):
keys, ids, signing, and the strict parser every reader of a note goes through.
Pure, no Flask."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .tlog import HASH_SIZE

ED25519_ALG = b"\x01"
EM_DASH = "\u2014"


def key_id(name: str, public_key: bytes, alg: bytes = ED25519_ALG) -> bytes:
    """A signed note key's id: the first 4 bytes of SHA-256(name, newline, alg, key)."""
    return hashlib.sha256(name.encode() + b"\n" + alg + public_key).digest()[:4]


def verifier_key(name: str, public_key: bytes, alg: bytes = ED25519_ALG) -> str:
    """The vkey text a verifier configures: name+hex key id+base64(alg||key)."""
    encoded = base64.b64encode(alg + public_key).decode()
    return f"{name}+{key_id(name, public_key, alg).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes, bytes]:
    name, kid, encoded = vkey.strip().split("+", 2)  # a name has no "+", base64 may
    raw = base64.b64decode(encoded, validate=True)
    if raw[:1] != ED25519_ALG or len(raw) != 33 or key_id(name, raw[1:]).hex() != kid:
        raise ValueError("not an Ed25519 verifier key")
    return name, bytes.fromhex(kid), raw[1:]


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    public = private_key.public_key().public_bytes_raw()
    signature = private_key.sign(body.encode())
    blob = base64.b64encode(key_id(name, public) + signature).decode()
    return f"{body}\n{EM_DASH} {name} {blob}\n"


MAX_SIGNATURES = 100  # as Go's note.Open: a note with more is refused
SIZE_LINE = re.compile(r"(?:0|[1-9][0-9]{0,18})\Z")  # canonical ASCII decimal


def note_parts(note: str) -> tuple[str, list[str]]:
    """(text, signature lines) of a C2SP signed note, as Go's note.Open splits it: the
    text ends at the LAST blank line and every line after it is a signature. Text after
    the signatures, or a block between the text and them, is refused: nothing unsigned
    can ride along (an earlier parser split at the first blank line and ignored the rest)."""
    if not note.endswith("\n") or any(c < " " and c != "\n" for c in note):
        raise ValueError("not a signed note")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise ValueError("not a signed note")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    if not 0 < len(lines) <= MAX_SIGNATURES:
        raise ValueError("a signed note has 1 to 100 signatures")
    for line in lines:
        name, _, blob = line.removeprefix(f"{EM_DASH} ").partition(" ")
        if not line.startswith(f"{EM_DASH} ") or not name or "+" in name or not blob:
            raise ValueError("a line after the blank line is not a signature")
    return text, lines


def open_checkpoint(note: str, vkey: str) -> tuple[str, int, bytes]:
    """Check a checkpoint's signature by `vkey`; return (origin, size, root)."""
    name, kid, public = parse_verifier_key(vkey)
    body, signatures = note_parts(note)
    good = False
    for line in signatures:
        prefix = f"{EM_DASH} {name} "
        if not line.startswith(prefix):
            continue
        try:
            blob = base64.b64decode(line[len(prefix) :], validate=True)
        except ValueError:
            raise ValueError("malformed signature") from None
        if blob[:4] != kid:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], body.encode())
            good = True
        except InvalidSignature:
            raise ValueError("bad checkpoint signature") from None
    if not good:
        raise ValueError("checkpoint not signed by the log's key")
    lines = body.split("\n")
    if len(lines) < 4 or lines[0] != name or not SIZE_LINE.match(lines[1]):
        raise ValueError("malformed checkpoint")
    if any(not line for line in lines[3:-1]):
        raise ValueError("malformed checkpoint: an empty extension line")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != HASH_SIZE:
        raise ValueError("malformed checkpoint")
    return lines[0], int(lines[1]), root
