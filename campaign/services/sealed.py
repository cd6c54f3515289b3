"""Every encryption and decryption of a signature's personal fields, in one place.

Callers name the column (and the row, once known), so a cipher that binds each value
to its column and row (associated data) can be wired in here alone.
"""

from __future__ import annotations

from . import crypto

FIELDS = ("email", "name", "comment")


def seal(column: str, value: str | None, row_id: int | None = None) -> str | None:
    """Encrypt one signature field (`column` is "email", "name" or "comment")."""
    _check(column)
    return crypto.encrypt(value)


def unseal(column: str, token: str | None, row_id: int | None = None) -> str | None:
    """Decrypt one signature field sealed by `seal`."""
    _check(column)
    return crypto.decrypt(token)


def _check(column: str) -> None:
    if column not in FIELDS:
        raise ValueError(f"not a sealed signature field: {column}")
