"""campaign/database/db_connections.py: pooled connections checked without a round trip; and
campaign/database/dbapi.py: hot statements run on the DBAPI connection with SQLAlchemy's types
and errors."""

from __future__ import annotations

import gc
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
import pytest
from sqlalchemy import bindparam, create_engine, exc, insert, select, text

from campaign.database import db_connections, dbapi
from campaign.extensions import db
from campaign.models import Campaign
from tests.helpers import TEST_DATABASE_URL, require, using_postgres

CAMPAIGNS = Campaign.__table__


def backend_pid(dbapi_connection) -> int:
    return dbapi_connection.info.backend_pid


def outside(query: str, pid: int):
    """`query` about backend `pid`, on a connection outside the app's pool."""
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as other:
        return other.execute(query, (pid,)).fetchone()[0]


def terminate(pid: int) -> None:
    """Kill one backend, and wait until it is gone."""
    assert outside("SELECT pg_terminate_backend(%s, 5000)", pid)


def last_query(pid: int) -> str:
    return outside("SELECT query FROM pg_stat_activity WHERE pid = %s", pid)


@contextmanager
def pooled_driver() -> Iterator[psycopg.Connection]:
    """A PostgreSQL connection checked out of the app's pool, returned at the end
    (invalidated if the test ended it)."""
    require(using_postgres(), "needs PostgreSQL")
    connection = db.engine.raw_connection()
    try:
        yield connection.driver_connection
    finally:
        if not db_connections.alive(connection.driver_connection):
            connection.invalidate()
        connection.close()


@pytest.mark.postgres
def test_a_terminated_connection_is_seen_dead_without_a_query(app):
    with pooled_driver() as driver:
        assert db_connections.alive(driver)
        terminate(backend_pid(driver))
        assert not db_connections.alive(driver)  # the socket told: nothing was sent
        with pytest.raises(exc.DisconnectionError):
            db_connections.on_checkout(driver, {"returned_at": time.monotonic()})


@pytest.mark.postgres
def test_only_a_rested_connection_is_pinged(app):
    with pooled_driver() as driver:
        driver.autocommit = True  # no transaction, so no ROLLBACK after it
        driver.execute("SELECT 'marker'")
        driver.autocommit = False
        pid = backend_pid(driver)
        db_connections.on_checkout(driver, {"returned_at": time.monotonic()})  # just returned
        assert last_query(pid) == "SELECT 'marker'"  # no round trip
        rested = time.monotonic() - db_connections.REST_SECONDS - 1
        db_connections.on_checkout(driver, {"returned_at": rested})
        assert last_query(pid) == ";"  # pinged
        assert not driver.autocommit  # as it was


@pytest.mark.postgres
def test_the_pool_replaces_a_connection_killed_while_it_rested_in_the_pool(app):
    require(using_postgres(), "needs PostgreSQL")
    with db.engine.connect() as connection:
        pid = connection.connection.driver_connection.info.backend_pid
    terminate(pid)
    with db.engine.connect() as connection:  # checked out again, found dead, replaced
        assert connection.connection.driver_connection.info.backend_pid != pid
        assert connection.execute(text("SELECT 1")).scalar() == 1


NEW_CAMPAIGN = dbapi.Statement(
    insert(CAMPAIGNS)
    .values(slug=bindparam("slug"), goal=1000, created_at=bindparam("created_at"))
    .returning(CAMPAIGNS.c.id, CAMPAIGNS.c.created_at)
)


def test_statements_take_and_give_values_as_sqlalchemy_types_them(app):
    when = datetime(2020, 7, 19, 8, 30, 0)  # no microseconds: SQLite's format still has them
    with dbapi.connect(db.engine) as runner:
        row = runner.first(NEW_CAMPAIGN, {"slug": "typed", "created_at": when})
        runner.commit()
    assert row.created_at == when  # a datetime again, on SQLite too (result processing)
    stored = db.session.execute(
        text("SELECT created_at FROM campaigns WHERE id = :id"), {"id": row.id}
    ).scalar()
    if not using_postgres():  # stored as SQLAlchemy stores it (bind processing)
        assert stored == "2020-07-19 08:30:00.000000"
    assert db.session.scalar(select(Campaign.created_at).where(Campaign.id == row.id)) == when


def test_errors_are_sqlalchemys_and_nothing_is_left_half_done(app):
    now = datetime(2020, 7, 19)
    with pytest.raises(exc.IntegrityError):  # slug is unique
        with dbapi.connect(db.engine) as runner:
            runner.execute(NEW_CAMPAIGN, {"slug": "twice", "created_at": now})
            runner.execute(NEW_CAMPAIGN, {"slug": "twice", "created_at": now})
            runner.commit()
    # Not committed: the connection went back to the pool, which rolled it back.
    assert db.session.scalar(select(Campaign.id).where(Campaign.slug == "twice")) is None


@pytest.mark.postgres
def test_autocommit_commits_each_statement(app):
    require(using_postgres(), "autocommit is for PostgreSQL's one-statement writes")
    with dbapi.connect(db.engine, autocommit=True) as runner:
        runner.execute(NEW_CAMPAIGN, {"slug": "at-once", "created_at": datetime(2020, 7, 19)})
    assert db.session.scalar(select(Campaign.id).where(Campaign.slug == "at-once")) is not None
    with db.engine.connect() as connection:  # the pool's connections are transactional again
        assert not connection.connection.driver_connection.autocommit


@pytest.mark.postgres
def test_a_connection_that_dies_is_invalidated_and_replaced(app):
    require(using_postgres(), "needs PostgreSQL")
    with pytest.raises(exc.OperationalError) as raised:
        with dbapi.connect(db.engine) as runner:
            terminate(backend_pid(runner.connection.driver_connection))
            runner.execute(NEW_CAMPAIGN, {"slug": "lost", "created_at": datetime(2020, 7, 19)})
    assert raised.value.connection_invalidated
    with dbapi.connect(db.engine) as runner:  # a fresh connection
        assert runner.first(NEW_CAMPAIGN, {"slug": "found", "created_at": datetime(2020, 7, 19)})


def test_a_statement_with_per_call_lists_is_refused(app):
    listed = dbapi.Statement(select(CAMPAIGNS.c.id).where(CAMPAIGNS.c.slug.in_(["a", "b"])))
    with pytest.raises(ValueError, match="compiled once"):
        listed.compiled(db.engine.dialect)


def test_a_statement_leaving_a_python_default_unnamed_is_refused(app):
    # campaigns.goal has a Python-side default, which SQLAlchemy's Connection would fill.
    unnamed = dbapi.Statement(insert(CAMPAIGNS).values(slug=bindparam("slug")))
    with pytest.raises(ValueError, match="name every column"):
        unnamed.compiled(db.engine.dialect)


# --- held connections: one per thread, for PostgreSQL's autocommit statements ------


def held_pid() -> int:
    with dbapi.connect(db.engine, autocommit=True) as runner:
        return backend_pid(runner.connection.dbapi_connection)


def gone(pid: int) -> bool:
    """Whether backend `pid` has left (its connection closed), waiting up to 5 s."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not outside("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.postgres
def test_each_thread_keeps_one_connection_for_autocommit_statements(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    first = held_pid()
    assert held_pid() == first  # the same backend: no checkout, no new connection
    with dbapi.connect(db.engine, autocommit=True) as runner:
        assert runner.connection.dbapi_connection.autocommit
    others: list[int] = []

    def in_another_thread() -> None:
        with app.app_context():
            others.append(held_pid())

    worker = threading.Thread(target=in_another_thread)
    worker.start()
    worker.join()
    assert others and others[0] != first  # another thread, another connection
    assert gone(others[0])  # closed when its thread ended


@pytest.mark.postgres
def test_a_held_connection_that_died_is_replaced_before_use(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    first = held_pid()
    terminate(first)
    with dbapi.connect(db.engine, autocommit=True) as runner:  # no error: seen dead first
        row = runner.first(NEW_CAMPAIGN, {"slug": "after", "created_at": datetime(2020, 7, 19)})
        assert backend_pid(runner.connection.dbapi_connection) != first
    assert row is not None


@pytest.mark.postgres
def test_a_held_connection_that_rested_is_pinged_first(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    with dbapi.connect(db.engine, autocommit=True) as runner:
        runner.connection.dbapi_connection.execute("SELECT 'marker'")
        pid = backend_pid(runner.connection.dbapi_connection)
    held = db_connections.held_connections(db.engine).local.held
    held.used_at = time.monotonic()  # just used: no round trip
    assert held_pid() == pid and last_query(pid) == "SELECT 'marker'"
    held.used_at = time.monotonic() - db_connections.REST_SECONDS - 1
    assert held_pid() == pid and last_query(pid) == ";"  # pinged, still the same


@pytest.mark.postgres
def test_a_held_connection_lost_mid_statement_is_invalidated_and_replaced(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    with pytest.raises(exc.OperationalError) as raised:
        with dbapi.connect(db.engine, autocommit=True) as runner:
            pid = backend_pid(runner.connection.dbapi_connection)
            terminate(pid)
            runner.execute(NEW_CAMPAIGN, {"slug": "lost", "created_at": datetime(2020, 7, 19)})
    assert raised.value.connection_invalidated
    assert held_pid() != pid


@pytest.mark.postgres
def test_disposing_the_engine_closes_the_held_connections(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    pid = held_pid()
    db.engine.dispose()
    assert gone(pid)
    assert held_pid() != pid  # a new one on the next statement


@pytest.mark.postgres
def test_a_dropped_engine_and_its_held_connection_are_freed(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    engine = create_engine(db.engine.url)
    with dbapi.connect(engine, autocommit=True) as runner:
        pid = backend_pid(runner.connection.dbapi_connection)
    engine_ref = weakref.ref(engine)
    del engine, runner
    gc.collect()
    assert engine_ref() is None  # the held connection keeps nothing of the engine's alive
    assert gone(pid)  # and it was closed with it


@pytest.mark.postgres
def test_a_forked_child_leaves_the_parents_held_connection_open(app):
    require(using_postgres(), "held connections are PostgreSQL's")
    pid = held_pid()
    child = os.fork()
    if child == 0:  # the child disposes as SQLAlchemy's after-fork recipe does, and exits
        try:
            db.engine.dispose(close=False)
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    assert held_pid() == pid  # the parent's connection is open and still its own
