"""Encryption of personal data and keyed hashes (blind indexes).

* Personal data is encrypted with AES-256-GCM, bound to its place: the associated
  data is the column ("signatures.email_enc") and the row's random `row_key`, so a
  ciphertext copied into another row or column no longer decrypts (a database writer
  can't swap one signer's name onto another's row). A token reads
  `g1.<key id>.<base64(nonce | ciphertext | tag)>`.
* `ENCRYPTION_KEYS` is a keyring, newest first, of 32-byte urlsafe-base64 keys (the
  Fernet format, so existing settings keep working). Each AES key is derived from one
  with HKDF; the key id (8 hex digits of a hash of the derived key) picks the key
  without trying them all. New data uses the first key; `flask keys rotate` rewrites
  older tokens, including the Fernet tokens written before AES-GCM.
* `encrypt()`/`decrypt()` are the old unbound Fernet API, kept only until every caller
  uses `encrypt_field()`/`decrypt_field()`.
* Lookups use HMAC-SHA256 under `HASH_KEY`, so equal inputs match without storing
  the input. The hash key cannot rotate without rebuilding every index.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from ..pages import cache
from .randomness import random_bytes

VERSION = "g1"
NONCE_BYTES = 12
KEY_ID_CHARS = 8


class CryptoError(RuntimeError):
    pass


@dataclass(frozen=True)
class Keyring:
    fernet: MultiFernet  # reads tokens written before AES-GCM
    primary: str  # key id of the newest key
    ciphers: dict[str, AESGCM]  # key id -> cipher, one object per key


def _derive(key: str) -> tuple[str, AESGCM]:
    try:
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("ENCRYPTION_KEYS holds a key that is not urlsafe base64") from exc
    if len(raw) != 32:
        raise CryptoError("each key in ENCRYPTION_KEYS must be 32 bytes (flask keys generate)")
    aes_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"campaign aes-256-gcm v1"
    ).derive(raw)
    key_id = hashlib.sha256(b"campaign key id\x00" + aes_key).hexdigest()[:KEY_ID_CHARS]
    return key_id, AESGCM(aes_key)


def keyring() -> Keyring:
    """The keys, derived once per process (`cache.keys_changed()` derives them again)."""
    return cache.remember(cache.SETTINGS, "keyring", _build_keyring)


def _build_keyring() -> Keyring:
    keys = current_app.config["ENCRYPTION_KEYS"]
    if not keys:
        raise CryptoError("ENCRYPTION_KEYS is not set")
    derived = [_derive(key) for key in keys]
    return Keyring(
        fernet=MultiFernet([Fernet(key) for key in keys]),
        primary=derived[0][0],
        ciphers=dict(reversed(derived)),  # on an id clash, the newer key wins
    )


def new_row_key() -> str:
    """The random per-row value ciphertexts are bound to, known before the INSERT."""
    return secrets.token_hex(16)


def _aad(column: str, row_key: str | int) -> bytes:
    return f"{column}\x00{row_key}".encode()


def _b64(data: bytes) -> str:
    # Standard base64 with padding: binascii decodes it in one C call (exports).
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def is_current(token: str | None) -> bool:
    """Whether a token is already AES-GCM under the newest key (rotation skips it)."""
    return token is None or token.startswith(f"{VERSION}.{keyring().primary}.")


def encrypt_field(value: str | None, *, column: str, row_key: str | int) -> str | None:
    """Encrypt `value` for `column` ("table.column") of the row whose key is `row_key`."""
    if value is None:
        return None
    if row_key is None or row_key == "":
        raise CryptoError(f"no row key to bind {column} to")
    ring = keyring()
    nonce = random_bytes(NONCE_BYTES)
    sealed = ring.ciphers[ring.primary].encrypt(nonce, value.encode("utf-8"), _aad(column, row_key))
    return f"{VERSION}.{ring.primary}.{_b64(nonce + sealed)}"


def field_decryptor(column: str) -> Callable[[str | None, str | int | None], str | None]:
    """`decrypt_field` for one column over many rows (exports, searches): the keyring
    and the associated data's prefix are looked up once, one cipher object per key."""
    ring = keyring()
    ciphers, fernet = ring.ciphers, ring.fernet
    prefix = f"{column}\x00"
    head = len(VERSION) + 1 + KEY_ID_CHARS + 1  # "g1.<key id>."
    a2b = binascii.a2b_base64

    def decrypt_one(token: str | None, row_key: str | int | None) -> str | None:
        if token is None:
            return None
        if token.startswith("g1."):
            cipher = ciphers.get(token[3 : head - 1])
            if cipher is None:
                raise CryptoError(f"{column}: unknown key id {token[3 : head - 1]}")
            try:
                data = a2b(token[head:])
                plain = cipher.decrypt(
                    data[:NONCE_BYTES], data[NONCE_BYTES:], f"{prefix}{row_key}".encode()
                )
            except (InvalidTag, ValueError, binascii.Error) as exc:
                raise CryptoError(f"{column}: not this row's value, or corrupted") from exc
            return plain.decode("utf-8")
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, TypeError, ValueError) as exc:
            raise CryptoError(f"{column}: unknown key or corrupted data") from exc

    return decrypt_one


def decrypt_field(token: str | None, *, column: str, row_key: str | int | None) -> str | None:
    """Decrypt a value of `column` in the row whose key is `row_key` (AES-GCM, or an old
    Fernet token not yet rotated). A value moved from another row raises CryptoError."""
    return field_decryptor(column)(token, row_key)


def rotate_field(token: str | None, *, column: str, row_key: str | int) -> str | None:
    """The token re-encrypted under the newest key and bound to its row (or unchanged)."""
    if token is None or is_current(token):
        return token
    return encrypt_field(
        decrypt_field(token, column=column, row_key=row_key), column=column, row_key=row_key
    )


# --- the old, unbound API (Fernet) --------------------------------------------------


def encrypt(plaintext: str | None) -> str | None:
    """Unbound Fernet token. Deprecated: use `encrypt_field` (rotation rebinds these)."""
    if plaintext is None:
        return None
    return keyring().fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str | None) -> str | None:
    """Read an unbound Fernet token. Row-bound tokens need `decrypt_field`."""
    if token is None:
        return None
    if token.startswith("g1."):
        raise CryptoError("a row-bound token: read it with decrypt_field")
    try:
        return keyring().fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        raise CryptoError("cannot decrypt: unknown key or corrupted data") from exc


# --- keyed hashes ---------------------------------------------------------------------


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


def generate_key() -> str:
    """32 random bytes, urlsafe base64: one entry of ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode("ascii")


generate_fernet_key = generate_key  # the old name, still imported by create_app


# --- signatures' personal data --------------------------------------------------------


def seal_signer(value: str | None, column: str, row_key: str) -> str | None:
    """Encrypt a value of `signatures.<column>` for the row whose `row_key` is given."""
    return encrypt_field(value, column=f"signatures.{column}", row_key=row_key)


def signer_value(signature: object, column: str) -> str | None:
    """Decrypt `signatures.<column>` of a Signature (or a Row with the same names)."""
    return decrypt_field(
        getattr(signature, column),
        column=f"signatures.{column}",
        row_key=getattr(signature, "row_key", None),
    )
