"""The hot writes (signing, confirming) run on DBAPI connections directly, compiled once.

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

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement

from .db_connections import HeldConnection, held_connections, raw_connection

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
