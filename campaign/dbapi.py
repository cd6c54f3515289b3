"""The pool's connections at the DBAPI level: kept alive without a round trip, and the
hot writes (signing, confirming) run on them directly.

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

Hot statements. A Core statement run through SQLAlchemy's `Connection` costs more CPU
than the database spends on it: the connection object, the compiled-cache lookup,
parameter processing and the result wrapper, on every call. `Statement` compiles a
Core statement once per dialect; `Runner` executes it on a pooled DBAPI connection,
doing what the `Connection` would do that matters here: the type's bind and result
processing, DBAPI errors re-raised as SQLAlchemy's (IntegrityError,
OperationalError …: the callers' handlers and the 503 page see the same), a broken
connection invalidated so the pool replaces it, and the connection returned at the
end. Engine events (`before_cursor_execute` …) don't fire for these statements.
"""

from __future__ import annotations

import os
import select
import threading
import time
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement

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


# --- hot statements ---------------------------------------------------------------


class Compiled:
    """A statement compiled for one dialect: its SQL, how its parameters are passed
    (in order for positional paramstyles, else by name) and processed, and the rows it
    returns."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        # Lists expanded per call ("IN :names") can't be compiled once, and a column
        # default computed in Python (SQLAlchemy's "prefetch") would be skipped here.
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a statement with per-call parameters can't be compiled once")
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError("name every column the statement writes: Python-side defaults")
        self.sql: str = compiled.string
        self.order: tuple[str, ...] | None = (
            tuple(compiled.positiontup) if compiled.positional else None
        )
        self.binds = {name: bind for bind, name in compiled.bind_names.items()}
        self.bind_processors: dict[str, Callable[[Any], Any]] = {}
        for name, bind in self.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self.bind_processors[name] = process
        columns = list(getattr(statement, "exported_columns", ()))
        keys = [c.key for c in columns]
        self.row_type = namedtuple("Row", keys, rename=True) if columns else None  # noqa: PYI024
        self.result_processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The DBAPI parameters for `values` (keyed by bind name); a bind it lacks takes
        its value from the statement, as SQLAlchemy's compiled parameters do."""
        processed = {}
        for name, bind in self.binds.items():
            value = values[name] if name in values else bind.effective_value
            process = self.bind_processors.get(name)
            processed[name] = process(value) if process is not None else value
        return [processed[name] for name in self.order] if self.order else processed

    def row(self, raw: Sequence[Any] | None) -> Any:
        if raw is None or self.row_type is None:
            return None
        processed = zip(self.result_processors, raw, strict=True)
        return self.row_type(*(p(v) if p is not None else v for p, v in processed))


class Statement:
    """A Core statement for the hot path, compiled once per dialect on first use."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = Compiled(self.statement, dialect)
        return compiled


class Runner:
    """Statements on one pooled DBAPI connection (see `connect`)."""

    def __init__(
        self, connection: PoolProxiedConnection | HeldConnection, dialect: Dialect
    ) -> None:
        self.connection = connection
        self.dialect = dialect
        self.info = connection.info  # the pooled connection's (sqlite_wal keeps state there)

    def first(self, statement: Statement, values: Mapping[str, Any]) -> Any:
        """The first row the statement returns (attributes by column key), or None."""
        compiled = statement.compiled(self.dialect)
        cursor = self._run(compiled, values)
        try:
            return compiled.row(cursor.fetchone())
        finally:
            cursor.close()  # SQLite: ends the statement, and its read of the file

    def all(self, statement: Statement, values: Mapping[str, Any]) -> list[Any]:
        compiled = statement.compiled(self.dialect)
        cursor = self._run(compiled, values)
        try:
            return [compiled.row(raw) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def execute(self, statement: Statement, values: Mapping[str, Any]) -> None:
        self._run(statement.compiled(self.dialect), values).close()

    def execute_many(self, statement: Statement, rows: Sequence[Mapping[str, Any]]) -> None:
        compiled = statement.compiled(self.dialect)
        parameters = [compiled.parameters(row) for row in rows]
        self._guarded(compiled.sql, rows, lambda c: c.executemany(compiled.sql, parameters)).close()

    def commit(self) -> None:
        self._guarded("COMMIT", None, lambda _cursor: self.connection.commit())

    def rollback(self) -> None:
        """Undo what this transaction wrote, now (not when the connection goes back to
        the pool): SQLite then lets other connections write."""
        if self.connection.is_valid:
            self._guarded("ROLLBACK", None, lambda _cursor: self.connection.rollback())

    def _run(self, compiled: Compiled, values: Mapping[str, Any]) -> Any:
        parameters = compiled.parameters(values)
        return self._guarded(compiled.sql, values, lambda c: c.execute(compiled.sql, parameters))

    def _guarded(self, sql: str, values: Any, call: Callable[[Any], Any]) -> Any:
        cursor = None
        try:
            cursor = self.connection.cursor()
            call(cursor)
            return cursor
        except self.dialect.loaded_dbapi.Error as error:
            # As SQLAlchemy's Connection does: a dead connection leaves the pool, and
            # the error is raised as SQLAlchemy's class for it.
            gone = self.dialect.is_disconnect(error, self.connection.dbapi_connection, cursor)
            if gone:
                self.connection.invalidate(error)
            raise exc.DBAPIError.instance(
                sql,
                values,
                error,
                self.dialect.loaded_dbapi.Error,
                connection_invalidated=gone,
                dialect=self.dialect,
            ) from error


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


@contextmanager
def connect(engine: Engine, *, autocommit: bool = False) -> Iterator[Runner]:
    """A Runner on a connection of `engine`'s. `autocommit` (PostgreSQL): this thread's
    held connection, where each statement commits on its own, with no BEGIN/COMMIT
    round trips. Otherwise one from the pool, returned to it at the end (where an
    uncommitted transaction is rolled back)."""
    if autocommit:
        yield Runner(held_connections(engine).connection(), engine.dialect)
        return
    connection = raw_connection(engine)
    try:
        yield Runner(connection, engine.dialect)
    finally:
        connection.close()
