"""The outbox's leases and marks: what the delivery worker (services/outbox/mail_worker.py)
writes to the database about the messages it sends.

* A claim leases due messages for LEASE (15 s), renewed while its batch is being sent
  (`Claim.renew_if_due`) and released the moment the batch fails (`release`), so a
  message whose worker failed or died goes out again within about LEASE.
* `Unmarked` remembers, in the worker process, the messages the SMTP server accepted
  but the database has not yet recorded as sent. The worker marks them before it
  claims anything new, so a database failure between the send and the mark delays the
  mark instead of sending the message again. Only the death of the worker process in
  that window can send a message twice (under the same Message-ID).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ...extensions import db
from ...models import OutboxMessage, utcnow

LEASE = timedelta(seconds=15)
# After a database failure, the process marks what it sent, then waits this long before
# claiming: long enough for the other worker processes, which saw the same outage, to
# mark theirs first (their leases have expired meanwhile).
SETTLE_SECONDS = 2.0
# A relay that can't be reached is not the message's fault: it is tried again this soon,
# and the attempt does not count towards MAX_ATTEMPTS.
RELAY_RETRY = timedelta(seconds=5)


def _free(now: datetime):
    return (OutboxMessage.locked_until.is_(None)) | (OutboxMessage.locked_until < now)


@dataclass
class Claim:
    """Messages leased to one batch; `lease` (the lease's end) names this claim."""

    ids: list[int]
    lease: datetime
    taken: float = field(default_factory=time.monotonic)
    held: set[int] = field(default_factory=set)

    def renew_if_due(self) -> None:
        """Renew the lease on the messages still held once a third of it has passed, so
        a message is sent only while at least two thirds of its lease is left. Messages
        found claimed again by another worker (a batch slower than its lease) or deleted
        by a withdrawal are dropped from `held`: exactly one worker sends each."""
        if time.monotonic() - self.taken < LEASE.total_seconds() / 3 or not self.held:
            return
        lease = utcnow() + LEASE
        kept = db.session.scalars(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(sorted(self.held)),
                OutboxMessage.status == "pending",
                OutboxMessage.locked_until == self.lease,
            )
            .values(locked_until=lease)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        self.lease, self.taken, self.held = lease, time.monotonic(), set(kept)


# On SQLite the claim starts as a write: a read transaction that then writes is refused
# at once (SQLITE_BUSY, no waiting) when another connection wrote meanwhile.
NO_OP_WRITE = (
    update(OutboxMessage.__table__)
    .where(OutboxMessage.__table__.c.id == -1)
    .values(id=OutboxMessage.__table__.c.id)
)


def claim(limit: int) -> Claim:
    """Lease up to `limit` due messages (oldest first) to this batch."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.connection().execute(NO_OP_WRITE)
    now = utcnow()
    lease = now + LEASE
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            _free(now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(db.session.scalars(due))
    claimed: list[int] = []
    if ids:
        # The lease condition is checked again in the UPDATE: on SQLite, where there is
        # no SKIP LOCKED, two workers can read the same ids, but only one UPDATE (they
        # are serialized) still finds each row free, and RETURNING says which.
        claimed = list(
            db.session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending", _free(now))
                .values(locked_until=lease, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
    db.session.commit()
    return Claim(sorted(claimed), lease, held=set(claimed))


def release(claim: Claim, *, relay_down: str | None = None) -> None:
    """Give back the messages a batch still holds, so any worker takes them at once.
    With `relay_down` (the error), the relay could not be reached: they wait RELAY_RETRY
    and the attempt is not counted."""
    if not claim.held:
        return
    values: dict = {"locked_until": None}
    if relay_down is not None:
        values.update(
            attempts=OutboxMessage.attempts - 1,
            last_error=relay_down,
            next_attempt_at=utcnow() + RELAY_RETRY,
        )
    db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(sorted(claim.held)),
            OutboxMessage.status == "pending",
            OutboxMessage.locked_until == claim.lease,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    claim.held.clear()


def finish(ids: list[int], status: str) -> None:
    """Mark messages sent or dropped, keeping no recipient or body. A Core UPDATE: a
    withdrawal may have deleted a row meanwhile, and then there is nothing to mark."""
    if not ids:
        return
    db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
        .values(
            status=status,
            sent_at=utcnow() if status == "sent" else None,
            payload_enc=None,
            locked_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


class Unmarked:
    """Sent, not yet marked sent: shared by the worker threads of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[int] = set()
        self._failed = False
        self._claim_after = 0.0

    def add(self, message_id: int) -> None:
        with self._lock:
            self._ids.add(message_id)

    def __len__(self) -> int:
        return len(self._ids)

    def flush(self) -> None:
        """Mark every remembered message sent; raises (and remembers them still) while
        the database fails."""
        with self._lock:
            ids = sorted(self._ids)
        try:
            finish(ids, "sent")
        except Exception:
            self.note_failure()
            raise
        with self._lock:
            self._ids.difference_update(ids)
            if self._failed:
                self._failed = False
                self._claim_after = time.monotonic() + SETTLE_SECONDS

    def note_failure(self) -> None:
        """The database failed: once it answers again, settle before claiming."""
        self._failed = True

    def may_claim(self) -> bool:
        """Nothing left to mark, and not just after a database failure."""
        return not self._ids and time.monotonic() >= self._claim_after
