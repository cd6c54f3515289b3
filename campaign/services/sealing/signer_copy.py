"""The signer's own copy of their data, sealed under a secret only their link carries
(issue 23).

Today's link tokens are HMACs of the row's nonce under HASH_KEY: whoever copies the
server can make them. This secret is different: 16 random bytes made at signing,
put in the data-copy link of the confirmation mail (`?k=`), and kept on the server only
while the submission is pending (the mail worker renders that mail at send time; a
pending submission is readable to the server anyway). The confirm statement nulls it
(services/signatures/confirm_write.py), so after confirming the server can no longer open the copy
and a thief without the link cannot either.

The copy is AES-256-GCM under HKDF-SHA256(secret, info = purpose and row key), from
`cryptography`; it holds what the organizer copy holds (name, email, comment).
Pure: no Flask, no database.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .randomness import random_bytes, random_token

VERSION = "s1."
SECRET_BYTES = 16
SECRET_CHARS = 22  # urlsafe base64 of 16 bytes, unpadded


def new_secret() -> str:
    return random_token(SECRET_BYTES)


def _cipher(secret: str, row_key: str) -> AESGCM:
    try:
        raw = base64.urlsafe_b64decode(secret + "==")
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a link secret") from exc
    if len(secret) != SECRET_CHARS or len(raw) != SECRET_BYTES:
        raise ValueError("not a link secret")
    info = b"campaign signer copy v1\x00" + row_key.encode("ascii")
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(raw)
    return AESGCM(key)


def seal(plain: bytes, secret: str, row_key: str) -> str:
    nonce = random_bytes(12)
    data = nonce + _cipher(secret, row_key).encrypt(nonce, plain, None)
    return VERSION + binascii.b2a_base64(data, newline=False).decode("ascii")


def open_copy(token: str | None, secret: str | None, row_key: str | None) -> bytes | None:
    """The copy's plaintext, or None for a missing or wrong secret (a link without it,
    a mistyped one) or no copy: the caller shows the fields as sealed."""
    if not token or not secret or not row_key or not token.startswith(VERSION):
        return None
    try:
        data = binascii.a2b_base64(token[len(VERSION) :])
        return _cipher(secret, row_key).decrypt(data[:12], data[12:], None)
    except (InvalidTag, ValueError, binascii.Error):
        return None
