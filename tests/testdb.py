"""Which PostgreSQL and Redis the suite runs on, and the test databases it makes there.

* `TEST_DATABASE_URL` set: that PostgreSQL database, made if missing, its tables replaced
  (set but empty: SQLite).
  Unset: PostgreSQL on 127.0.0.1:5432 when it answers (user `PGUSER` or postgres),
  in a database of this run's own, `campaign_test_<pid>`, dropped after the run;
  otherwise SQLite.
* `TEST_REDIS_URL` likewise: unset, redis://127.0.0.1:6379/15 when Redis answers there.
  Tests keep their Redis keys apart with key prefixes of their own, so parallel
  workers and runs share the database safely.

The choice is written back to the environment on import, so pytest-xdist workers and
the gunicorn servers the tests start see the same services.

On PostgreSQL the run's database is migrated once (per run, under an advisory lock
that the workers share) and serves as the template: each pytest-xdist worker gets its
own copy, `<name>_gw0`, `<name>_gw1`, … made with `CREATE DATABASE … TEMPLATE`, and
dropped when the worker ends. Without xdist the tests use the migrated database itself.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import redis
from psycopg import sql
from sqlalchemy.engine import make_url

LOCAL_POSTGRES = "127.0.0.1:5432"
LOCAL_REDIS = "redis://127.0.0.1:6379/15"
OWNED_PREFIX = "campaign_test_"
# One key for every run's set-up: runs and workers take turns to migrate and copy.
LOCK_KEY = 0x63616D70  # "camp"


def postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def resolve_services() -> None:
    """Fill in TEST_DATABASE_URL / TEST_REDIS_URL from what runs locally, once per run."""
    if "TEST_DATABASE_URL" not in os.environ:
        user = os.environ.get("PGUSER", "postgres")
        url = ""
        if postgres_answers(f"postgresql://{user}@{LOCAL_POSTGRES}/postgres"):
            url = f"postgresql://{user}@{LOCAL_POSTGRES}/{OWNED_PREFIX}{os.getpid()}"
            os.environ["TEST_DATABASE_OWNED"] = "1"  # made by this run, dropped after it
        os.environ["TEST_DATABASE_URL"] = url
    if "TEST_REDIS_URL" not in os.environ:
        os.environ["TEST_REDIS_URL"] = LOCAL_REDIS if redis_answers(LOCAL_REDIS) else ""


resolve_services()

BASE_URL = os.environ["TEST_DATABASE_URL"]
OWNED = os.environ.get("TEST_DATABASE_OWNED") == "1"
REDIS_URL = os.environ["TEST_REDIS_URL"]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# Shared by the workers of one xdist run; one per process otherwise.
RUN_ID = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex


def using_postgres() -> bool:
    return BASE_URL.startswith("postgres")


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _name(url: str) -> str:
    return make_url(url).database or ""


# The database this process's tests use: the worker's copy, or the migrated one.
DATABASE_URL = (
    _with_database(BASE_URL, f"{_name(BASE_URL)}_{WORKER}")
    if using_postgres() and WORKER
    else BASE_URL
)


def _libpq(url: str) -> str:
    """A URL psycopg takes (SQLAlchemy's driver suffix removed)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def _admin() -> Iterator[psycopg.Connection]:
    """A connection to the server's `postgres` database, holding the set-up lock."""
    with psycopg.connect(_libpq(_with_database(BASE_URL, "postgres")), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            yield conn
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def _drop(conn: psycopg.Connection, name: str, *, force: bool = True) -> None:
    statement = "DROP DATABASE IF EXISTS {} WITH (FORCE)" if force else "DROP DATABASE {}"
    conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def _drop_stale(conn: psycopg.Connection) -> None:
    """Databases of earlier runs whose process is gone (a run killed before its end)."""
    names = conn.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (OWNED_PREFIX + "%",)
    ).fetchall()
    for (name,) in names:
        pid = name.removeprefix(OWNED_PREFIX).split("_")[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        with contextlib.suppress(psycopg.Error):  # still in use: not stale after all
            _drop(conn, name, force=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _migrated_for_this_run(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
        (name,),
    ).fetchone()
    return bool(row) and row[0] == f"migrated for test run {RUN_ID}"


def _reset_schema(url: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def prepare_postgres(migrate: Callable[[str], None]) -> str:
    """Migrate the run's database once, copy it for this worker; return this process's URL."""
    base = _name(BASE_URL)
    with _admin() as conn:
        if OWNED:
            _drop_stale(conn)
        if not _exists(conn, base):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(base)))
        if not _migrated_for_this_run(conn, base):
            _reset_schema(BASE_URL)
            migrate(BASE_URL)
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(base), sql.Literal(f"migrated for test run {RUN_ID}")
                )
            )
        if DATABASE_URL != BASE_URL:
            copy = _name(DATABASE_URL)
            _drop(conn, copy)
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(copy), sql.Identifier(base)
                )
            )
    return DATABASE_URL


def drop_worker_database() -> None:
    if using_postgres() and DATABASE_URL != BASE_URL:
        with _admin() as conn:
            _drop(conn, _name(DATABASE_URL))


def drop_owned_database() -> None:
    """After the run (in the process that chose the database): drop what it made."""
    if using_postgres() and OWNED and not WORKER:
        with _admin() as conn:
            _drop(conn, _name(BASE_URL))
