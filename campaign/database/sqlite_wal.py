"""SQLite: checkpoint the write-ahead log in a background thread, not in a request.

A checkpoint copies the log back into the database file and syncs both to disk. By
default SQLite runs one inside whichever commit takes the log past 1,000 pages, so
every few hundred signatures one signer's request waits for two fsyncs: the tail of
the sign POST's latency. Here each app connection raises that threshold to
`BACKSTOP_PAGES` (a safety net only), and one daemon thread per process checks, every
`INTERVAL` seconds, the log of each database this process used lately; a log past
`CHECKPOINT_BYTES` gets a PASSIVE checkpoint, which neither waits for nor blocks any
reader or writer. (PostgreSQL has its own checkpointer; nothing here runs for it.)
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

log = logging.getLogger(__name__)

BACKSTOP_PAGES = 16384  # 64 MB of 4 KB pages: reached only if the thread can't keep up
CHECKPOINT_BYTES = 4 * 1024 * 1024  # SQLite's own default threshold (1,000 pages)
INTERVAL = 0.5
FORGET_AFTER = 300.0  # seconds without a checkout: the database is no longer used here

_used: dict[str, float] = {}  # database file -> when this process last checked it out
_thread: dict[int, threading.Thread] = {}  # pid -> its checkpointer (threads don't fork)
_start_lock = threading.Lock()


def configure(dbapi_connection: sqlite3.Connection, info: dict) -> None:
    """On a new SQLite connection: the backstop threshold, and which file it opened."""
    dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    path = dbapi_connection.execute("PRAGMA database_list").fetchone()[2]
    if path:  # an in-memory database has no file and no log
        info["sqlite_path"] = path


def used(info: dict) -> None:
    """On each checkout: note the database as in use, and run this process's thread."""
    path = info.get("sqlite_path")
    if path is None:
        return
    _used[path] = time.monotonic()
    pid = os.getpid()
    if pid not in _thread:
        with _start_lock:
            if pid not in _thread:
                thread = threading.Thread(target=_run, name="sqlite-checkpoint", daemon=True)
                _thread[pid] = thread
                thread.start()


def _run() -> None:
    while True:
        time.sleep(INTERVAL)
        now = time.monotonic()
        for path, last in list(_used.items()):
            if now - last > FORGET_AFTER:
                _used.pop(path, None)
                continue
            try:
                if os.path.getsize(f"{path}-wal") < CHECKPOINT_BYTES:
                    continue
                with closing(sqlite3.connect(path, timeout=1)) as connection:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except (OSError, sqlite3.Error) as error:  # gone, or busy: try again later
                log.debug("checkpoint of %s skipped: %s", path, error)


_turns: dict[tuple[int, str], tuple[threading.Lock, int]] = {}  # (pid, file) -> lock, fd


@contextmanager
def writer_turn(info: dict) -> Iterator[None]:
    """Around a hot write transaction (signing, confirming): wait for this database's
    write turn in a queue that wakes the next writer as soon as the last one is done
    (a thread lock, then an flock on `<file>-writers` shared by every process), instead
    of in SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between tries and made
    the sign POST's latency tail. `info` is the pooled connection's; nothing for
    PostgreSQL or an in-memory database."""
    path = info.get("sqlite_path")
    if path is None:
        yield
        return
    key = (os.getpid(), path)
    if key not in _turns:
        with _start_lock:
            if key not in _turns:
                fd = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
                _turns[key] = (threading.Lock(), fd)
    lock, fd = _turns[key]
    with lock:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
