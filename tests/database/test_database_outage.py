"""The database goes away: a 503 page with Retry-After, nothing half-written, and
recovery without a restart when it returns (each checkout checks its connection,
campaign/database/db_connections.py).

PostgreSQL is made unreachable for real: through a TCP relay we cut (at once, or as
the signing statement passes through it), and by killing the app's connections with
pg_terminate_backend.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from sqlalchemy import create_engine, func, select, text

from campaign import create_app
from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from tests.helpers import (
    SLUG,
    TEST_DATABASE_URL,
    free_port,
    require,
    sign,
    using_postgres,
)
from tests.helpers import test_config as make_config


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    if response.mimetype == "text/html":
        assert "reach our database" in response.get_data(as_text=True)


def test_unreachable_database_answers_503_with_retry_after(tmp_path):
    # A PostgreSQL address where nothing listens: every backend gets this in CI.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    app = create_app(make_config(url, WTF_CSRF_ENABLED=False))
    client = app.test_client()
    with app.app_context():
        assert_unavailable(client.get("/"))
        assert_unavailable(client.get(f"/{SLUG}/"))
        assert_unavailable(
            client.post(
                f"/{SLUG}/sign",
                data={"name": "Maryam Ahmadi", "email": "m@example.org", "country": "DE"},
            )
        )
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["status"] == "error"
        db.engine.dispose()


class Relay:
    """A TCP relay to PostgreSQL that can be cut (every connection dropped) and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()
        self.cut_before: bytes | None = None  # cut instead of passing on what holds this

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b, outgoing in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, outgoing), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, outgoing: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if outgoing and self.cut_before and self.cut_before in data:
                    self.cut()
                    return
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self.listener:
            # shutdown() wakes the accept() blocked in the relay's thread; close() alone doesn't.
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets = []


def direct_counts() -> tuple[int, int]:
    """Rows as the database has them, through a connection of our own."""
    engine = create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        signatures = conn.scalar(select(func.count()).select_from(Signature.__table__))
        mails = conn.scalar(select(func.count()).select_from(OutboxMessage.__table__))
    engine.dispose()
    return signatures, mails


@pytest.fixture
def postgres_app(database_url):
    require(using_postgres(), "needs PostgreSQL (TEST_DATABASE_URL)")
    from sqlalchemy.engine import make_url

    real = make_url(TEST_DATABASE_URL)
    relay = Relay((real.host or "127.0.0.1", real.port or 5432))
    relay.start()
    url = real.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    # No page or count cache: every request needs the database. (With them, a cut
    # database still lets cached pages be read for a few seconds; see the next test.)
    app = create_app(make_config(url, PAGE_CACHE_SECONDS=0, COUNT_CACHE_SECONDS=0))
    with app.app_context():
        yield app, relay
        db.session.remove()
        db.engine.dispose()
    relay.cut()


@pytest.mark.postgres
def test_postgres_cut_off_answers_503_writes_nothing_and_recovers(postgres_app):
    app, relay = postgres_app
    client = app.test_client()
    assert sign(client, email="before@example.org").status_code == 303
    assert direct_counts() == (1, 1)
    data = {**_form(client), "email": "during@example.org"}

    relay.cut()
    assert_unavailable(client.get(f"/{SLUG}/"))
    assert_unavailable(client.post(f"/{SLUG}/sign", data=data))
    assert client.get("/healthz").status_code == 503
    assert direct_counts() == (1, 1)  # nothing half-written

    relay.start()  # the database is back; no restart of the app
    assert client.get(f"/{SLUG}/").status_code == 200
    assert client.post(f"/{SLUG}/sign", data=data).status_code == 303
    assert direct_counts() == (2, 2)


@pytest.mark.postgres
def test_cached_page_is_still_read_while_signing_answers_503(database_url):
    require(using_postgres(), "needs PostgreSQL (TEST_DATABASE_URL)")
    from sqlalchemy.engine import make_url

    real = make_url(TEST_DATABASE_URL)
    relay = Relay((real.host or "127.0.0.1", real.port or 5432))
    relay.start()
    url = real.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    app = create_app(make_config(url, PAGE_CACHE_SECONDS=60, COUNT_CACHE_SECONDS=60))
    client = app.test_client()
    with app.app_context():
        data = {**_form(client), "email": "during@example.org"}  # the page is now cached
        relay.cut()
        assert client.get(f"/{SLUG}/").status_code == 200
        assert_unavailable(client.post(f"/{SLUG}/sign", data=data))
        assert direct_counts() == (0, 0)
        db.session.remove()
        db.engine.dispose()


def _form(client) -> dict:
    from tests.helpers import sign_data

    return sign_data(client)


def terminate_app_connections() -> int:
    """Kill the app's backends, and wait until they are gone (so their sockets are
    closed, as after any server-side termination)."""
    engine = create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
        ).scalar()
    engine.dispose()
    return killed


@pytest.mark.postgres
def test_terminated_connections_are_replaced_without_an_error(client, app):
    require(using_postgres(), "needs PostgreSQL (TEST_DATABASE_URL)")
    assert client.get(f"/{SLUG}/").status_code == 200  # the pool holds a connection
    db.session.remove()
    assert terminate_app_connections() >= 1
    # /healthz reads the database on the pooled connection: the checkout replaced it.
    assert client.get("/healthz").status_code == 200
    assert client.get(f"/{SLUG}/").status_code == 200
    assert sign(client, email="after@example.org").status_code == 303


@pytest.mark.postgres
def test_connection_cut_as_signing_is_sent_leaves_no_partial_row(postgres_app):
    """The connection dies as the signing statement goes out. On PostgreSQL the
    signature, its name tokens and its mail are that one statement (signing.WRITE_IN_ONE),
    so no part of it can stay; the retry is recorded whole."""
    app, relay = postgres_app
    client = app.test_client()
    data = _form(client)
    relay.cut_before = b"INSERT INTO outbox"  # in the statement's text, sent as it runs
    response = client.post(f"/{SLUG}/sign", data={**data, "email": "mid@example.org"})
    assert_unavailable(response)
    assert direct_counts() == (0, 0)  # no signature, no tokens, no mail

    relay.cut_before = None
    relay.start()
    again = client.post(f"/{SLUG}/sign", data={**data, "email": "mid@example.org"})
    assert again.status_code == 303
    assert direct_counts() == (1, 1)  # and the retry is recorded whole


@pytest.mark.parametrize("driver", ["postgresql", "sqlite"])
def test_database_down_confirm_answers_503_not_500(driver, tmp_path):
    """Issue 22.1: the driver's own error (psycopg's OperationalError from the pool's
    failed connect, sqlite3's) reached the catch-all handler: every confirm during an
    outage answered 500. Now every database failure is a 503 with Retry-After, on the
    fast path, in the views and in the API."""
    if driver == "postgresql":
        url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    else:  # a file that can't be opened: sqlite3 raises as PostgreSQL's driver does
        url = f"sqlite:///{tmp_path}/missing-folder/campaign.db"
    app = create_app(make_config(url, WTF_CSRF_ENABLED=False))
    client = app.test_client()
    token = "1-" + "a" * 40
    with app.app_context():
        assert_unavailable(client.post(f"/{SLUG}/confirm/{token}"))  # the fast path's
        assert_unavailable(client.get(f"/{SLUG}/confirm/{token}"))
        signed = client.post(
            f"/{SLUG}/sign",
            data={"name": "Maryam Ahmadi", "email": "m@example.org", "country": "DE"},
        )
        assert_unavailable(signed)
        api = client.get(f"/api/v1/petitions/{SLUG}")
        assert_unavailable(api)
        assert api.get_json()["error"]["status"] == 503
        assert client.get("/healthz").status_code == 503
        db.engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("path", ["fast", "view"])
def test_committed_signature_answered_303_when_connection_dies_before_teardown(database_url, path):
    """Issue 22.2: the database killed the app's connections after the signature was
    committed; the session's rollback at teardown failed and escaped after the answer
    was built, so a saved signature was answered 500 (and its signer, trying again,
    got a second mail). Teardown failures now never change the answer."""
    require(using_postgres(), "needs PostgreSQL (TEST_DATABASE_URL)")
    # No app context held across requests: each request ends its own, as in production.
    app = create_app(make_config(database_url))
    killed: list[int] = []
    armed: list[bool] = []

    def kill_connections(_error) -> None:  # registered last, so it runs first
        if armed and not killed:
            db.session.execute(text("SELECT 1"))  # as a request that read through it
            killed.append(terminate_app_connections())

    app.teardown_appcontext(kill_connections)
    client = app.test_client()
    data = {**_form(client), "email": "kept@example.org"}
    armed.append(True)
    if path == "fast":
        response = client.post(f"/{SLUG}/sign", data=data)
    else:  # the view: the fast path passes on a POST with a query string
        response = client.post(f"/{SLUG}/sign?via=view", data=data)
    assert killed and killed[0] >= 1
    assert response.status_code == 303
    assert direct_counts() == (1, 1)  # it was saved, and it was answered as saved
    with app.app_context():
        db.engine.dispose()
