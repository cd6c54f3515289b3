"""Encryption of personal data and keyed hashes (blind indexes).

* Personal data is encrypted with Fernet. `ENCRYPTION_KEYS` is a keyring, newest
  first: new data uses the first key, and any key decrypts (MultiFernet), so keys
  rotate without downtime (`flask keys rotate`).
* Lookups use HMAC-SHA256 under `HASH_KEY`, so equal inputs match without storing
  the input. The hash key cannot rotate without rebuilding every index.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class CryptoError(RuntimeError):
    pass


def _keyring() -> MultiFernet:
    ring = current_app.extensions.get("campaign.keyring")
    if ring is None:
        keys = current_app.config["ENCRYPTION_KEYS"]
        if not keys:
            raise CryptoError("ENCRYPTION_KEYS is not set")
        ring = MultiFernet([Fernet(key) for key in keys])
        current_app.extensions["campaign.keyring"] = ring
    return ring


def encrypt(plaintext: str | None) -> str | None:
    if plaintext is None:
        return None
    return _keyring().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _keyring().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise CryptoError("cannot decrypt: unknown key or corrupted data") from exc


def bulk_decryptor() -> Callable[[str | None], str | None]:
    """`decrypt` for loops over many rows (exports): the keyring is looked up once.

    Through `current_app`, the lookup cost about as much as a sixth of each
    decryption in the export benchmark (docs/benchmarks.md).
    """
    ring = _keyring()

    def decrypt_one(token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return ring.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise CryptoError("cannot decrypt: unknown key or corrupted data") from exc

    return decrypt_one


def rotate(token: str | None) -> str | None:
    """Re-encrypt a token under the newest key."""
    if token is None:
        return None
    return _keyring().rotate(token.encode("ascii")).decode("ascii")


def keyed_hash(purpose: str, value: str, length: int = 64) -> str:
    """HMAC of `value`, domain-separated by `purpose` so indexes can't be cross-matched."""
    key = current_app.config["HASH_KEY"].encode("utf-8")
    digest = hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return digest[:length]


def ip_hash(ip: str | None, when: datetime | None = None) -> str | None:
    """A keyed hash of an IP address that changes every day (UTC).

    Same IP, same day: same hash, which is all the abuse checks need; across days
    the hashes can't be linked, and they are purged after the abuse window.
    """
    if not ip:
        return None
    day = (when or datetime.now(UTC)).strftime("%Y-%m-%d")
    return keyed_hash(f"ip:{day}", ip, 32)


def generate_fernet_key() -> str:
    return Fernet.generate_key().decode("ascii")
