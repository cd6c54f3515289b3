"""Shared fixtures: an app on a freshly migrated database, real SMTP, real servers.

* SQLite by default; PostgreSQL when TEST_DATABASE_URL is set (CI sets it).
* With CI_REQUIRE_ALL=1, a test that would skip for want of a service fails instead.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from campaign import create_app
from campaign.extensions import db

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REQUIRE_ALL = os.environ.get("CI_REQUIRE_ALL", "") == "1"
SLUG = "1988-massacre-inquiry"

# Fixed for the whole run, so a server started in a subprocess shares them.
KEYS = {
    "SECRET_KEY": "test-secret-key",
    "HASH_KEY": "test-hash-key",
    "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    # The transparency log's checkpoint key (base64 Ed25519 seed).
    "TLOG_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
}


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing locally; fail in CI, where everything must run."""
    if not condition:
        if REQUIRE_ALL:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if REQUIRE_ALL and reporter and reporter.stats.get("skipped"):
        reporter.write_line("CI_REQUIRE_ALL: skipped tests count as failures", red=True)
        session.exitstatus = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrate(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()


def using_postgres() -> bool:
    return TEST_DATABASE_URL.startswith("postgres")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory) -> str:
    """A migrated database: on PostgreSQL the test database, on SQLite a file to copy."""
    if using_postgres():
        engine = create_engine(TEST_DATABASE_URL.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        migrate(TEST_DATABASE_URL)
        return TEST_DATABASE_URL
    path = tmp_path_factory.mktemp("db") / "template.db"
    migrate(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(database_template, tmp_path) -> str:
    """An empty, migrated database for one test."""
    if using_postgres():
        engine = create_engine(database_template.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            tables = (
                conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                        "AND tablename <> 'alembic_version'"
                    )
                )
                .scalars()
                .all()
            )
            # The audit log refuses TRUNCATE (a trigger, migration 0005_ops); the test
            # superuser resets it with triggers off for this transaction only.
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return database_template
    path = tmp_path / "test.db"
    shutil.copyfile(database_template, path)
    return f"sqlite:///{path}"


def test_config(database_url: str, **overrides) -> dict:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SMTP_URL": "console",
        "BASE_URL": "http://petition.test",
        "MIN_FORM_SECONDS": 0,
        "RATELIMIT_ENABLED": False,
        "EMAIL_CHECK_DELIVERABILITY": False,
        "CONTENT_DIR": str(ROOT / "content"),
        **KEYS,
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_config(database_url) -> dict:
    """Tests may edit this before the `app` fixture is first used."""
    return test_config(database_url)


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


# --- forms ------------------------------------------------------------------


def hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="hidden"' in tag:
            name = re.search(r'name="([^"]+)"', tag)
            value = re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = value.group(1) if value else ""
    return fields


def sign_data(client, slug: str = SLUG, prefix: str = "", query: str = "", **fields) -> dict:
    """The sign form's hidden fields (CSRF token, timestamp, source) plus `fields`."""
    page = client.get(f"{prefix}/{slug}/{query}")
    assert page.status_code == 200, page.status_code
    data = hidden_fields(page.get_data(as_text=True))
    data.update({"name": "Maryam Ahmadi", "email": "maryam@example.org", "country": "DE"})
    data.update(fields)
    return data


def sign(client, slug: str = SLUG, prefix: str = "", query: str = "", **fields):
    data = sign_data(client, slug, prefix, query, **fields)
    return client.post(f"{prefix}/{slug}/sign", data=data)


# --- mail -------------------------------------------------------------------


class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(message)
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def links(self, message, kind: str) -> list[str]:
        body = message.get_body(("plain",)).get_content()
        return re.findall(rf"https?://\S+/{kind}/\S+", body)


@pytest.fixture
def mailbox(app_config, app):
    box = Mailbox()
    box.start()
    app_config["SMTP_URL"] = app.config["SMTP_URL"] = box.url
    yield box
    box.stop()


def deliver(app) -> int:
    from campaign.services import mail

    with app.app_context():
        return mail.work(once=True)


# --- real servers -----------------------------------------------------------


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen, log: Path) -> None:
        self.url, self.process, self.log = url, process, log

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(config: dict, *, workers: int = 2, threads: int = 4, log_dir: Path) -> LiveServer:
    """Run the app under gunicorn, in its own process, with `config` as environment."""
    port = free_port()
    env = {**os.environ}
    for key, value in config.items():
        if key in {"TESTING"}:
            continue
        name = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}.get(key, key)
        if isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[name] = str(value)
    env["BASE_URL"] = f"http://127.0.0.1:{port}"
    log = log_dir / f"gunicorn-{port}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return LiveServer(url, process, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


@pytest.fixture
def live_server(app_config, tmp_path):
    """A gunicorn server on the test database (its mail goes where the app's does)."""
    servers = []

    def start(**overrides) -> LiveServer:
        server = start_server({**app_config, **overrides}, log_dir=tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
