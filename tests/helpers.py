"""What tests import: constants, config, form and mail helpers, real servers.

Fixtures and hooks live in conftest.py; these are plain functions and classes.
"""

from __future__ import annotations

import base64
import email
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from flask_migrate import upgrade

from campaign import create_app
from campaign.extensions import db
from campaign.services import mail_worker
from tests import testdb

ROOT = Path(__file__).resolve().parent.parent
# This process's database (its xdist worker's own copy on PostgreSQL), and Redis.
TEST_DATABASE_URL = testdb.DATABASE_URL
TEST_REDIS_URL = testdb.REDIS_URL
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

using_postgres = testdb.using_postgres


def require(condition: bool, reason: str) -> None:
    """Skip when a service is missing locally; fail in CI, where everything must run."""
    if not condition:
        if REQUIRE_ALL:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def migrate(url: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, **KEYS})
    with app.app_context():
        upgrade()
        db.engine.dispose()


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


test_config.__test__ = False  # a helper, not a test, wherever it is imported


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
        self.messages: list = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
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


def deliver(app) -> int:
    with app.app_context():
        return mail_worker.work(once=True)


# --- real servers -----------------------------------------------------------


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen, log: Path) -> None:
        self.url, self.process, self.log = url, process, log

    def stop(self) -> None:
        self.signal_stop()
        self.wait_stopped()

    def signal_stop(self) -> None:
        # SIGQUIT is gunicorn's quick shutdown; SIGTERM's graceful one waits on workers
        # (a second or more per server) for requests no test is still making.
        self.process.send_signal(signal.SIGQUIT)

    def wait_stopped(self) -> None:
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


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
            # gunicorn 27's control socket is one path per user, which parallel test
            # servers would fight over; and stopping it costs seconds per server.
            "--no-control-socket",
            # Import the app once, in the master, and fork the workers from it: a
            # server costs one import of the app instead of one per worker.
            "--preload",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # generous: parallel workers share the cores
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return LiveServer(url, process, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
