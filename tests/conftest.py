"""Shared fixtures and hooks: an app on a freshly migrated database, real SMTP, real servers.

* PostgreSQL and Redis as tests/testdb.py finds them (TEST_DATABASE_URL, TEST_REDIS_URL,
  else the local servers when they answer); SQLite when there is no PostgreSQL.
* With CI_REQUIRE_ALL=1, a test that would skip for want of a service fails instead.
* Under pytest-xdist (`make test` runs `-n`) every worker has its own database.
* Each process keeps its gunicorn servers (`live_server`, tests/helpers.py ServerPool)
  and its SMTP server (`mailbox`) between tests; a test gets them fresh: workers forked
  after the last test, an empty mailbox.

Helpers that tests import live in tests/helpers.py (and tests/admin/helpers.py).
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator

import pytest
from jinja2 import BytecodeCache
from sqlalchemy import create_engine, text

from campaign import create_app
from campaign.extensions import db
from campaign.services.admins import accounts
from tests import testdb
from tests.admin.helpers import EMAILS, PASSWORD, fresh_g_per_request, login
from tests.helpers import (
    REQUIRE_ALL,
    TEST_REDIS_URL,
    UNSEALED,
    LiveServer,
    Mailbox,
    ServerPool,
    migrate,
    test_config,
    using_postgres,
)


def pytest_report_header(config) -> list[str]:
    database = (
        f"PostgreSQL {testdb.BASE_URL}" + (" (made for this run)" if testdb.OWNED else "")
        if using_postgres()
        else "SQLite (no PostgreSQL: TEST_DATABASE_URL is empty or nothing answers on 5432)"
    )
    return [f"database: {database}", f"redis: {TEST_REDIS_URL or 'none'}"]


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_ALL and reporter and reporter.stats.get("skipped"):
        reporter.write_line("CI_REQUIRE_ALL: skipped tests count as failures", red=True)
        session.exitstatus = 1


def pytest_unconfigure(config) -> None:
    testdb.drop_owned_database()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> Iterator[str]:
    """A migrated database: on PostgreSQL this process's own, on SQLite a file to copy."""
    if using_postgres():
        yield testdb.prepare_postgres(migrate)
        testdb.drop_worker_database()
        return
    # One template per run: xdist workers share the run's temporary root and take turns.
    root = tmp_path_factory.getbasetemp()
    if testdb.WORKER:
        root = root.parent
    path = root / "template.db"
    with (root / "template.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            migrate(f"sqlite:///{path}.tmp")
            (root / "template.db.tmp").rename(path)
    yield str(path)


@pytest.fixture(scope="session")
def truncate_all(database_template):
    """On PostgreSQL, empties every table and restarts every sequence (what
    `TRUNCATE … RESTART IDENTITY` does) in one round trip; a no-op on SQLite.

    DELETE, not TRUNCATE: a test leaves a handful of rows, and TRUNCATE's new files for
    every table cost 0.1-0.2 s per test (a minute or more of the run), DELETE a few ms."""
    if not using_postgres():
        yield lambda: None
        return
    # Pre-ping: some tests terminate every connection to their database, this one's too.
    engine = create_engine(
        database_template.replace("postgresql://", "postgresql+psycopg://"), pool_pre_ping=True
    )
    with engine.connect() as conn:
        tables = conn.scalars(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).all()
    # The audit log refuses DELETE (row triggers, migrations 0001 and 0005_ops); the test
    # superuser resets it with triggers (foreign keys' too) off for this transaction only.
    statements = ["SET LOCAL session_replication_role = replica"]
    statements += [f'DELETE FROM "{table}"' for table in tables]  # noqa: S608 - pg_tables
    statements.append(
        "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
        " FROM pg_sequences WHERE schemaname = 'public'"
    )
    reset = text(";\n".join(statements))

    def truncate() -> None:
        with engine.begin() as conn:
            conn.execute(reset)

    yield truncate
    engine.dispose()


@pytest.fixture
def database_url(database_template, truncate_all, tmp_path) -> str:
    """An empty, migrated database for one test."""
    if using_postgres():
        truncate_all()
        return database_template
    path = tmp_path / "test.db"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app_config(request, database_url) -> dict:
    """Tests may edit this before the `app` fixture is first used. Sealed to this run's
    organizer key (tests/helpers.py) unless the test is marked `unsealed`."""
    if request.node.get_closest_marker("unsealed"):
        return test_config(database_url, **UNSEALED)
    return test_config(database_url)


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates shared by the test apps of one process: every test makes a new
    app, and compiling the templates again for each was a large part of the suite's time.
    Jinja checks each entry against the template's source, so an edit is compiled anew."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_BYTECODE = MemoryBytecodeCache()


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[Mailbox]:
    """One SMTP server per process, so the mail URL in a live server's configuration
    stays the same from test to test (and the server can be reused, see live_server)."""
    box = Mailbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def mailbox(app_config, app, smtp_server):
    """The process's SMTP server, empty: only the test's own process sends mail (the
    mail worker runs in it, synchronously), so nothing of an earlier test arrives."""
    smtp_server.messages.clear()
    app_config["SMTP_URL"] = app.config["SMTP_URL"] = smtp_server.url
    yield smtp_server
    smtp_server.messages.clear()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("servers"))
    yield pool
    pool.close()


@pytest.fixture
def live_server(app_config, server_pool):
    """A gunicorn server on the test database (its mail goes where the app's does).

    From the process's pool (tests/helpers.py, ServerPool): a server used by an earlier
    test with the same configuration, with newly forked workers, or a new one. Servers
    log to the pool's folder under the run's temporary root (`servers*`)."""
    servers = []

    def start(**overrides) -> LiveServer:
        server = server_pool.acquire({**app_config, **overrides})
        servers.append(server)
        return server

    yield start
    server_pool.release(servers)


# --- admin accounts ---------------------------------------------------------


@pytest.fixture
def users(app):
    fresh_g_per_request(app)
    # Still argon2id, with less memory: the suite runs on 2 shared cores.
    app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
    return {role: accounts.create(email, PASSWORD, role) for role, email in EMAILS.items()}


@pytest.fixture
def as_role(app, users):
    """A signed-in test client for a role."""

    def make(role: str):
        client = app.test_client()
        response = login(client, EMAILS[role])
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return make
