"""Large CSV exports across processes (`flask export --processes N`).

Decrypting and formatting are CPU-bound Python, so one process can't keep up with the
disk. Here the rows are cut into id ranges; forked worker processes (each with its own
database connection) turn ranges into CSV, encoded, and the parent writes the bytes in
id order. At most two ranges per worker are in flight, so memory stays bounded however
slowly the output is consumed.

Only the CLI uses it: the parent must be single-threaded when it forks (a web worker's
other threads could hold a lock at the fork and leave the child stuck on it).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence

from flask import Flask, current_app
from sqlalchemy import Select, func, select

from ...extensions import db
from ...models import Signature
from . import csv_stream

RANGE_IDS = 20_000  # ids per task: enough work to hide the hand-over, little memory
MIN_IDS = 100_000  # below this, one process is as fast
BATCH = 1000  # rows per fetch in a worker

_job: dict = {}  # set in the parent before the fork; each child reads its copy


def _start_worker() -> None:
    app: Flask = _job["app"]
    context = app.app_context()
    context.push()
    # The parent's pooled connections must not be used from two processes.
    db.engine.dispose(close=False)
    _job["context"] = context


def _range_csv(bounds: tuple[int, int]) -> bytes:
    low, high = bounds
    query: Select = _job["query"].where(Signature.id >= low, Signature.id <= high)
    with db.engine.connect() as connection:
        batches = csv_stream.fetch_batches(connection, query, BATCH)
        # Bytes cross the pipe as they are; text would be encoded to be pickled,
        # decoded in the parent, and encoded again to be written.
        return "".join(csv_stream.csv_chunks(batches, _job["columns"])).encode("utf-8")


def id_bounds(query: Select, limit: int | None) -> tuple[int, int] | None:
    """The first and last id the export covers (None when it is empty)."""
    ids = query.with_only_columns(Signature.id).order_by(None).limit(None)
    covered = ids.subquery()
    low, high = db.session.execute(select(func.min(covered.c.id), func.max(covered.c.id))).one()
    if low is None:
        return None
    if limit is not None:  # the limit-th id: an index walk, no rows read
        last = db.session.scalar(ids.order_by(Signature.id).offset(max(limit - 1, 0)).limit(1))
        high = last if last is not None else high
    return low, high


def parallel_csv(
    query: Select, columns: Sequence[str], bounds: tuple[int, int], processes: int
) -> Iterator[bytes]:
    """The CSV (no header, UTF-8) of the rows of `query` with ids in `bounds`, in id
    order."""
    low, high = bounds
    ranges = [
        (start, min(start + RANGE_IDS - 1, high)) for start in range(low, high + 1, RANGE_IDS)
    ]
    _job.update(app=current_app._get_current_object(), query=query, columns=tuple(columns))
    db.session.close()  # nothing of the parent's session crosses the fork
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_start_worker)
    try:
        pending: deque = deque()
        queued = iter(ranges)
        for bounds_ in queued:
            pending.append(pool.apply_async(_range_csv, (bounds_,)))
            if len(pending) >= 2 * processes:
                break
        while pending:
            done = pending.popleft().get()
            following = next(queued, None)
            if following is not None:
                pending.append(pool.apply_async(_range_csv, (following,)))
            yield done
    finally:
        pool.terminate()
        pool.join()
        _job.clear()


def worth_it(bounds: tuple[int, int] | None, processes: int) -> bool:
    return bounds is not None and processes > 1 and bounds[1] - bounds[0] + 1 >= MIN_IDS
