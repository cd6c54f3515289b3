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

from sqlalchemy import ARRAY, BigInteger, any_, bindparam, select, update

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


_OUTBOX = OutboxMessage.__table__
_FREE = (_OUTBOX.c.locked_until.is_(None)) | (_OUTBOX.c.locked_until < bindparam("now"))
# The claim, one statement: the due rows, earliest due first, then oldest (on PostgreSQL
# row-locked, and rows another worker holds locked skipped), leased by the UPDATE that
# returns them. Read in the order of `ix_outbox_due` (status, next_attempt_at): by id,
# SQLite sorted every due row for each batch, and PostgreSQL sorted them or walked the
# primary key past every sent row. The subquery's conditions hold for the rows updated:
# PostgreSQL checks them again on each row it locks, and on SQLite the statement is a
# write from its start (no read first that a writer could overtake) under the one write
# lock. The outer lease check is only a safeguard (a status condition there made SQLite
# scan `ix_outbox_due` for the ids instead of taking the primary key).
CLAIM = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id.in_(
            select(_OUTBOX.c.id)
            .where(
                _OUTBOX.c.status == "pending",
                _OUTBOX.c.next_attempt_at <= bindparam("now"),
                _FREE,
            )
            .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        ),
        _FREE,
    )
    .values(locked_until=bindparam("lease"), attempts=_OUTBOX.c.attempts + 1)
    .returning(_OUTBOX.c.id)
)


def claim(limit: int) -> Claim:
    """Lease up to `limit` due messages (earliest due first) to this batch: one statement."""
    now = utcnow()
    lease = now + LEASE
    claimed = (
        db.session.connection()
        .execute(CLAIM, {"now": now, "lease": lease, "limit": limit})
        .scalars()
        .all()
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


# The marks: messages sent or dropped keep no recipient or body. A row a withdrawal
# deleted meanwhile is simply not there to mark. On PostgreSQL one statement for the
# ids (`id = ANY(array)`: the primary key, one lookup per id). Its status guard is
# written so that no index serves it: before the table's first ANALYZE the planner
# took `ix_outbox_due` for `status = 'pending'` and filtered every pending row by id.
# On SQLite one parameter set per message (executemany): with `id IN (…)` SQLite
# walked every pending row of `ix_outbox_due` for each mark, thousands in a backlog.
_FINISHED = {
    "status": bindparam("new_status"),
    "sent_at": bindparam("sent_at"),
    "payload_enc": None,
    "locked_until": None,
}
FINISH = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("message_id"), _OUTBOX.c.status == "pending")
    .values(**_FINISHED)
)
FINISH_ALL = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == any_(bindparam("message_ids", type_=ARRAY(BigInteger))),
        _OUTBOX.c.status.concat("") == "pending",
    )
    .values(**_FINISHED)
)


def finish(ids: list[int], status: str) -> None:
    """Mark messages sent or dropped, in one statement and one commit."""
    if not ids:
        return
    sent_at = utcnow() if status == "sent" else None
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        values = {"message_ids": ids, "new_status": status, "sent_at": sent_at}
        connection.execute(FINISH_ALL, values)
    else:
        rows = [{"message_id": i, "new_status": status, "sent_at": sent_at} for i in ids]
        connection.execute(FINISH, rows)
    db.session.commit()


class Unmarked:
    """Sent, not yet marked sent: shared by the worker threads of one process. A flush
    takes the ids it marks for itself, so two threads never mark one message (the
    second waited on the first's row lock, then updated nothing)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[int] = set()
        self._marking: set[int] = set()  # taken by a flush, not yet committed
        self._failed = False
        self._claim_after = 0.0

    def add(self, message_id: int) -> None:
        with self._lock:
            self._ids.add(message_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._ids) + len(self._marking)

    def flush(self) -> None:
        """Mark every remembered message sent; raises (and remembers them still) while
        the database fails."""
        with self._lock:
            ids = sorted(self._ids)
            self._ids.clear()
            self._marking.update(ids)
        try:
            finish(ids, "sent")
        except Exception:
            with self._lock:
                self._marking.difference_update(ids)
                self._ids.update(ids)
                self._failed = True
            raise
        with self._lock:
            self._marking.difference_update(ids)
            # After a failure, claims wait until nothing sent is left unmarked: not
            # merely until one flush lands (an empty one touches no database) while
            # another thread's marks are still on their way.
            if self._failed and not self._ids and not self._marking:
                self._failed = False
                self._claim_after = time.monotonic() + SETTLE_SECONDS

    def note_failure(self) -> None:
        """The database failed: once everything sent is marked, settle before claiming."""
        with self._lock:
            self._failed = True

    def may_claim(self) -> bool:
        """Whether a thread whose `flush` just returned may claim: no database failure
        is pending (since the last one, every message sent was marked, and the settling
        time has passed). In normal running, messages the process's other threads sent
        since that flush are theirs to mark and no reason to wait: waiting on them kept
        most threads asleep for a poll whenever others were sending (issue 22)."""
        return not self._failed and time.monotonic() >= self._claim_after
