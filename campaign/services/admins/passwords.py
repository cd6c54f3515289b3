"""Admin passwords: argon2id hashes, checked in the same time whether or not the
account exists, and rehashed on sign-in when the parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from ...models import AdminUser
from ..pages import cache


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """argon2id with the library's defaults (RFC 9106 low-memory profile) unless the
    app config sets ARGON2_TIME_COST / ARGON2_MEMORY_COST (KiB)."""
    config = current_app.config
    time_cost = config.get("ARGON2_TIME_COST", 3)
    memory_cost = config.get("ARGON2_MEMORY_COST", 65536)

    def build() -> tuple[PasswordHasher, str]:
        hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)
        # Verified against for unknown accounts, so timing doesn't reveal who has one.
        return hasher, hasher.hash("not-a-real-password")

    return cache.settings_value("argon2", build, (time_cost, memory_cost))


def _hasher() -> PasswordHasher:
    return _hasher_and_dummy()[0]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(user: AdminUser | None, password: str) -> bool:
    hasher, dummy = _hasher_and_dummy()
    try:
        hasher.verify(user.password_hash if user else dummy, password or "")
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True
