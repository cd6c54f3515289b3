"""Large CSV exports across processes (`flask export --processes N`).

Decrypting and formatting are CPU-bound Python, so one process can't keep up with the
disk. Here the rows are cut into id ranges; forked worker processes (each with its own
database connection) turn ranges into CSV, and the parent hands the ranges on in id
order. At most two ranges per worker are in flight, so memory stays bounded however
slowly the output is consumed.

A range's bytes don't travel back through the pool's pipe (pickled by the worker, read,
copied and unpickled by the parent, then written: a second of the parent's CPU per
million sealed rows). Each range in flight has a slot: an anonymous memory file
(`memfd`: RAM, never a file on disk, for it holds decrypted personal data) made before
the fork. The worker writes its range into its slot; the parent yields a `Part` naming
it, and the CLI copies it to the output inside the kernel (`sendfile`). A slot takes its
next range only once the part in it has been written.

Only the CLI uses it: the parent must be single-threaded when it forks (a web worker's
other threads could hold a lock at the fork and leave the child stuck on it).
"""

from __future__ import annotations

import errno
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from flask import Flask, current_app
from sqlalchemy import Select

from ...extensions import db
from ...models import Signature
from . import csv_stream

RANGE_IDS = 20_000  # ids per task: enough work to hide the hand-over, little memory
MIN_IDS = 100_000  # below this, one process is as fast
BATCH = 1000  # rows per fetch in a worker
IN_FLIGHT = 2  # ranges per worker at once, each in a slot of its own

_job: dict = {}  # set in the parent before the fork; each child reads its copy


@dataclass
class Part:
    """A range of the export's CSV (UTF-8) in the first `size` bytes of the slot `fd`.
    Write it before asking the export for more: then its slot takes another range."""

    fd: int
    size: int
    rows: int
    spent: bool = False

    def write_to(self, stream: BinaryIO) -> int:
        """Copy the part to `stream` (its buffer flushed first); returns its rows."""
        if self.spent:
            raise RuntimeError("an export part must be written before the next is asked for")
        stream.flush()
        done = 0
        try:
            out = stream.fileno()
            while done < self.size:
                sent = os.sendfile(out, self.fd, done, self.size - done)
                if not sent:
                    raise OSError(errno.EIO, "the export part ended early")
                done += sent
        except (OSError, AttributeError) as error:
            # No descriptor (a test's BytesIO), or one sendfile refuses (an O_APPEND
            # file): read and written instead.
            unsupported = getattr(error, "errno", None) in (None, errno.EINVAL, errno.ENOSYS)
            if done or not unsupported:
                raise
        while done < self.size:
            data = os.pread(self.fd, min(self.size - done, 1 << 20), done)
            if not data:
                raise OSError(errno.EIO, "the export part ended early")
            stream.write(data)
            done += len(data)
        return self.rows


def _start_worker() -> None:
    app: Flask = _job["app"]
    context = app.app_context()
    context.push()
    # The parent's pooled connections must not be used from two processes.
    db.engine.dispose(close=False)
    _job["context"] = context


def _range_part(task: tuple[int, int, int]) -> tuple[int, int]:
    """Write the CSV of the ids `low`..`high` into `slot`: (bytes, rows)."""
    slot, low, high = task
    query: Select = _job["query"].where(Signature.id >= low, Signature.id <= high)
    columns = _job["columns"]
    fd, size, rows = _job["slots"][slot], 0, 0
    with db.engine.connect() as connection:
        batches = csv_stream.fetch_batches(connection, query, BATCH)
        for batch in csv_stream.csv_rows(batches, columns):
            data = memoryview(csv_stream.csv_chunk(batch, len(columns)).encode("utf-8"))
            while data:
                written = os.pwrite(fd, data, size)
                size += written
                data = data[written:]
            rows += len(batch)
    return size, rows


def id_bounds(query: Select, limit: int | None) -> tuple[int, int] | None:
    """The first and last id the export covers (None when it is empty). Each end is the
    first id in an index walk from that side (min() and max() of a subquery read every
    id: 0.08 s of the parent's time at 1M rows, before any worker starts)."""
    ids = query.with_only_columns(Signature.id).order_by(None).limit(None)
    low = db.session.scalar(ids.order_by(Signature.id).limit(1))
    if low is None:
        return None
    high = db.session.scalar(ids.order_by(Signature.id.desc()).limit(1))
    if limit is not None:  # the limit-th id: an index walk, no rows read
        last = db.session.scalar(ids.order_by(Signature.id).offset(max(limit - 1, 0)).limit(1))
        high = last if last is not None else high
    return low, high


def parallel_csv(
    query: Select, columns: Sequence[str], bounds: tuple[int, int], processes: int
) -> Iterator[Part]:
    """The CSV (no header) of the rows of `query` with ids in `bounds`, in id order, a
    `Part` per range."""
    low, high = bounds
    ranges = [
        (start, min(start + RANGE_IDS - 1, high)) for start in range(low, high + 1, RANGE_IDS)
    ]
    slots: list[int] = []
    pool = None
    try:  # the slots are closed whatever fails, the pool's start included
        slots += [
            os.memfd_create(f"export-{n}", os.MFD_CLOEXEC)
            for n in range(min(IN_FLIGHT * processes, len(ranges)))
        ]
        _job.update(
            app=current_app._get_current_object(), query=query, columns=tuple(columns), slots=slots
        )
        db.session.close()  # nothing of the parent's session crosses the fork
        pool = multiprocessing.get_context("fork").Pool(processes, initializer=_start_worker)
        pending: deque = deque()
        queued = enumerate(ranges)

        def submit() -> None:
            following = next(queued, None)
            if following is not None:
                n, (first, last) = following
                task = (n % len(slots), first, last)
                pending.append((task[0], pool.apply_async(_range_part, (task,))))

        for _slot in slots:
            submit()
        while pending:
            slot, result = pending.popleft()
            size, rows = result.get()
            part = Part(slots[slot], size, rows)
            yield part
            part.spent = True  # written: its slot takes the next range
            submit()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        for fd in slots:
            os.close(fd)
        _job.clear()


def worth_it(bounds: tuple[int, int] | None, processes: int) -> bool:
    # memfd is Linux's: elsewhere the export runs in one process.
    return (
        bounds is not None
        and processes > 1
        and bounds[1] - bounds[0] + 1 >= MIN_IDS
        and hasattr(os, "memfd_create")
    )
