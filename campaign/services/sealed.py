"""Every encryption and decryption of a signature's personal fields, in one place.

Each value is bound to its column and its row's random `row_key` (AES-GCM associated
data, services/crypto.py), so a ciphertext moved to another row or column won't open.
The row key is made before the INSERT (`crypto.new_row_key`), since a Core insert
learns the row's id only afterwards.
"""

from __future__ import annotations

from collections.abc import Callable

from . import crypto

FIELDS = ("email", "name", "comment")


def seal(column: str, value: str | None, row_key: str) -> str | None:
    """Encrypt one signature field (`column` is "email", "name" or "comment")."""
    _check(column)
    return crypto.seal_signer(value, f"{column}_enc", row_key)


def unseal(column: str, token: str | None, row_key: str | None) -> str | None:
    """Decrypt one signature field sealed by `seal`."""
    _check(column)
    return crypto.decrypt_field(token, column=f"signatures.{column}_enc", row_key=row_key)


def unsealer(column: str) -> Callable[[str | None, str | None], str | None]:
    """`unseal` for loops over many rows (exports, the delivery pack): one cipher per key."""
    _check(column)
    return crypto.field_decryptor(f"signatures.{column}_enc")


def _check(column: str) -> None:
    if column not in FIELDS:
        raise ValueError(f"not a sealed signature field: {column}")
