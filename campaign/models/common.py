"""What every table shares: the id column type, the per-row key, and stored times
(naive UTC) with the one format in which they leave the service."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Integer

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def new_row_key() -> str:
    """A random per-row key (the same as `services.sealing.crypto.new_row_key`, which the
    services call before an INSERT; models import no services)."""
    return secrets.token_hex(16)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def utc_iso(moment: datetime | None, *, whole_seconds: bool = False) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with a Z: the one format of times that
    leave the service (API, exports, the signer's data copy, the delivery pack)."""
    if moment is None:
        return None
    if whole_seconds:
        moment = moment.replace(microsecond=0)
    return moment.replace(tzinfo=None).isoformat() + "Z"
