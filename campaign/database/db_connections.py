"""The pool's connections at the DBAPI level: kept alive without a round trip, and one
held per thread for the hot writes (signing, confirming: `dbapi.py` runs them).

Liveness. SQLAlchemy's `pool_pre_ping` sends a query on every checkout: one more
round trip per request, which the sign and confirm POSTs felt (about a tenth of their
rate on PostgreSQL). Instead, a PostgreSQL connection is asked of its socket at
checkout (`alive`): a server that closed it, restarted, or terminated its backend has
sent an error and FIN, so the idle socket reads as ready. Only a connection that has
rested longer than `REST_SECONDS` is still pinged, for the failures a socket can't
show (a peer gone silent behind a firewall's idle timeout). A dead one raises
DisconnectionError, and the pool replaces it before the request sees it. SQLite's
connections are files: nothing to check.

Held connections. Checking a connection out of the pool and back in (its events, the
reset's rollback, autocommit set and unset) cost about 5 % of a PostgreSQL sign's CPU
under load. So each serving thread keeps one connection for the hot statements
(`HeldConnections`): taken from the pool once, detached from it, in autocommit, checked
before each use as a checkout is, replaced when dead, and closed when its thread ends or
the engine is disposed or dropped (never by a forked child: it would end the parent's
session).
"""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection

REST_SECONDS = 10.0  # a connection idle longer than this is pinged at checkout


# --- liveness ---------------------------------------------------------------------


def is_postgres(dbapi_connection: Any) -> bool:
    return type(dbapi_connection).__module__.startswith("psycopg")


def alive(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection is still open, without a round trip: its
    socket has nothing to read unless the server closed it (or sent an error, which
    on an idle connection means the same)."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return False
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


def ping(dbapi_connection: Any) -> bool:
    """A real round trip (an empty query) outside any transaction, as SQLAlchemy's
    pre-ping does it; False if the connection is dead."""
    was_autocommit = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True
        dbapi_connection.execute(";")
        dbapi_connection.autocommit = was_autocommit
    except Exception:  # noqa: BLE001 - whatever failed, this connection can't be used
        return False
    return True


def still_open(dbapi_connection: Any, last_used: float) -> bool:
    """The one liveness rule, for the pool's checkouts and the held connections: the
    socket says it is open, and a connection unused since `last_used` (monotonic) for
    longer than REST_SECONDS answers a ping too."""
    if not alive(dbapi_connection):
        return False
    return time.monotonic() - last_used <= REST_SECONDS or ping(dbapi_connection)


def on_checkout(dbapi_connection: Any, info: dict) -> None:
    """Pool checkout: a dead PostgreSQL connection is replaced before anyone uses it."""
    if is_postgres(dbapi_connection) and not still_open(
        dbapi_connection, info.get("returned_at", 0.0)
    ):
        raise exc.DisconnectionError("the database closed this connection")


def on_checkin(info: dict) -> None:
    info["returned_at"] = time.monotonic()


# --- errors, as SQLAlchemy's ------------------------------------------------------


@contextmanager
def as_sqlalchemy_error(dialect: Dialect) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy's class for them (OperationalError …),
    as a `Connection` would: the app's 503 handler and callers see one kind of error."""
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        raise exc.DBAPIError.instance(
            None, None, error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error


def raw_connection(engine: Engine) -> PoolProxiedConnection:
    """`engine.raw_connection()`, whose pool raises the driver's own error when it can't
    connect (psycopg's OperationalError, not SQLAlchemy's): raised as SQLAlchemy's."""
    with as_sqlalchemy_error(engine.dialect):
        return engine.raw_connection()


# --- held connections (PostgreSQL's autocommit statements) -------------------------


class HeldConnection:
    """One thread's DBAPI connection for one engine's hot statements, with what a
    `Runner` asks of a pooled one. It keeps nothing of the pool's: a detached pool
    proxy would keep the pool, and through it the engine, alive for as long as the
    thread lives."""

    def __init__(self, dbapi_connection: Any, info: dict) -> None:
        self.dbapi_connection = self.driver_connection = dbapi_connection
        self.info = info
        self.pid = os.getpid()  # a forked child must not close its parent's connection
        self.is_valid = True
        self.used_at = time.monotonic()

    def cursor(self) -> Any:
        return self.dbapi_connection.cursor()

    def commit(self) -> None:
        self.dbapi_connection.commit()

    def rollback(self) -> None:
        self.dbapi_connection.rollback()

    def invalidate(self, _error: BaseException | None = None) -> None:
        """It failed: not used again (the next statement makes a new one), and closed."""
        self.is_valid = False
        _close(self.dbapi_connection, self.pid)


class HeldConnections:
    """One autocommit connection per thread for an engine (see the module's docstring).

    A connection made in a thread belongs to it: it is made on the thread's first hot
    statement (in a gunicorn worker, after the fork), used by nothing else, and not
    counted in the pool's size, so a worker holds up to its thread count more."""

    def __init__(self, engine: Engine) -> None:
        self.engine = weakref.ref(engine)
        self.local = threading.local()
        self.open: weakref.WeakSet[HeldConnection] = weakref.WeakSet()  # closed on dispose

    def connection(self) -> HeldConnection:
        held: HeldConnection | None = getattr(self.local, "held", None)
        if held is not None:
            if self.usable(held):
                held.used_at = time.monotonic()
                return held
            self.local.held = None
            held.invalidate()
        engine = self.engine()
        if engine is None:
            raise exc.InvalidRequestError("the engine is gone")
        pooled = raw_connection(engine)  # the checkout checks it (on_checkout)
        held = HeldConnection(pooled.dbapi_connection, dict(pooled.info))
        pooled.detach()  # the pool lets go of it (and won't close it when collected)
        # When the thread ends, its `held` goes, and the connection is closed.
        weakref.finalize(held, _close, held.dbapi_connection, held.pid)
        with as_sqlalchemy_error(engine.dialect):  # a connection that died just now
            held.dbapi_connection.autocommit = True
        self.local.held = held
        self.open.add(held)
        return held

    @staticmethod
    def usable(held: HeldConnection) -> bool:
        """Not invalidated, made in this process, and `still_open`."""
        return (
            held.is_valid
            and held.pid == os.getpid()
            and still_open(held.dbapi_connection, held.used_at)
        )

    def close_all(self) -> None:
        """Close every thread's connection made in this process (the engine was
        disposed); each thread makes a new one on its next hot statement."""
        for held in list(self.open):
            held.invalidate()


def _close(dbapi_connection: Any, pid: int) -> None:
    if pid != os.getpid():
        return  # the parent's, inherited by a fork: closing it would end the parent's session
    with suppress(Exception):  # closing a broken connection: nothing to keep
        dbapi_connection.close()


_HELD: weakref.WeakKeyDictionary[Engine, HeldConnections] = weakref.WeakKeyDictionary()
_HELD_LOCK = threading.Lock()


def held_connections(engine: Engine) -> HeldConnections:
    """The engine's held connections (made on first use, closed when it is disposed)."""
    held = _HELD.get(engine)
    if held is None:
        with _HELD_LOCK:
            held = _HELD.get(engine)
            if held is None:
                held = _HELD[engine] = HeldConnections(engine)
                event.listen(engine, "engine_disposed", lambda _engine: held.close_all())
    return held
