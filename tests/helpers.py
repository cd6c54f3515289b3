"""What tests import: constants, config, form and mail helpers, real servers.

Fixtures and hooks live in conftest.py; these are plain functions and classes.
"""

from __future__ import annotations

import base64
import contextlib
import email
import os
import re
import secrets
import shutil
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
from campaign.services.outbox import mail_worker
from campaign.services.sealing import organizer_key
from tests import testdb

ROOT = Path(__file__).resolve().parent.parent
# This process's database (its xdist worker's own copy on PostgreSQL), and Redis.
TEST_DATABASE_URL = testdb.DATABASE_URL
TEST_REDIS_URL = testdb.REDIS_URL
REQUIRE_ALL = os.environ.get("CI_REQUIRE_ALL", "") == "1"
SLUG = "1988-massacre-inquiry"

# Fixed for the whole run, so a server started in a subprocess shares them.
KEYS = {
    # 32 random bytes each, as production requires (campaign/production.py).
    "SECRET_KEY": secrets.token_hex(32),
    "HASH_KEY": secrets.token_hex(32),
    "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    # The transparency log's checkpoint key (base64 Ed25519 seed).
    "TLOG_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
}

# Sealing is the default for this campaign (issue 23), so the suite runs sealed: every
# app gets this run's organizer public key, and the tests that open what was sealed
# (exports, the organizer copy) hold the private half here, in memory only. The few
# tests of the legacy path (no organizer key: confirmed rows stay readable to the
# server) say so with `@pytest.mark.unsealed` (conftest.py's app_config) or UNSEALED.
ORGANIZER_KEY = organizer_key.generate()
ORGANIZER_PUBLIC_KEY = organizer_key.public_text(ORGANIZER_KEY)
UNSEALED = {"ORGANIZER_PUBLIC_KEY": ""}

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
        "ORGANIZER_PUBLIC_KEY": ORGANIZER_PUBLIC_KEY,
    }
    config.update(overrides)
    return config


test_config.__test__ = False  # a helper, not a test, wherever it is imported


def organizer_copy(row) -> organizer_key.Sealed:
    """What the organizers read of a sealed row (`Signature` or a row with `row_key`
    and `organizer_sealed`) with this run's private key, as `flask export open` would."""
    assert row.organizer_sealed, "the row is not sealed to the organizers' key"
    return organizer_key.Opener([ORGANIZER_KEY]).open(row.organizer_sealed, row.row_key)


def content_with_contact(folder: Path, contact: str = "team@iran1988.org") -> str:
    """A copy of the shipped content whose organizers' contact is `contact`: production
    refuses to start with the shipped placeholder (campaign/production.py)."""
    shutil.copytree(ROOT / "content", folder)
    for toml in folder.glob("*/campaign.toml"):
        text = toml.read_text(encoding="utf-8")
        toml.write_text(
            re.sub(r'organizer_contact = "[^"]*"', f'organizer_contact = "{contact}"', text),
            encoding="utf-8",
        )
    return str(folder)


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
    """A gunicorn server: its master, its workers, its log. The server runs in a process
    group (a session) of its own, so stopping it reaches every process it forked."""

    def __init__(self, url: str, process: subprocess.Popen, log: Path, workers: int) -> None:
        self.url, self.process, self.log, self.workers = url, process, log, workers
        self.pool_key: tuple = ()  # set by ServerPool
        self.released_at = 0  # when ServerPool.release last killed its workers

    def stop(self) -> None:
        self.signal_stop()
        self.wait_stopped()

    def signal_stop(self) -> None:
        # SIGKILL to the whole group: instant, and no worker survives its master. gunicorn's
        # quick shutdown (SIGQUIT) can deadlock a gthread worker that the signal catches
        # inside ThreadPoolExecutor.submit (its handler takes the pool's lock again): the
        # master then waited out graceful_timeout and the worker lived on, orphaned.
        # No test is still making requests when it stops a server.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait_stopped(self) -> None:
        self.process.wait()

    def worker_pids(self) -> set[int]:
        """The master's children: its workers (Linux /proc)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return {int(pid) for pid in path.read_text().split()}
        except OSError:
            return set()


def clock_ticks() -> int:
    """Now, in the unit of a process's start time in /proc/<pid>/stat (ticks since boot)."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return int(uptime * os.sysconf("SC_CLK_TCK"))


def started_at(pid: int) -> int:
    """When process `pid` started, in clock_ticks(); 0 if it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def healthy(url: str, deadline: float) -> bool:
    """Wait until the server at `url` answers /healthz with 200, or `deadline` passes."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def server_environment(config: dict) -> dict[str, str]:
    """The environment variables that give a server the app config `config`."""
    env = {}
    for key, value in config.items():
        if key in {"TESTING"}:
            continue
        name = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}.get(key, key)
        if isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[name] = str(value)
    return env


def start_server(config: dict, *, workers: int = 2, threads: int = 4, log_dir: Path) -> LiveServer:
    """Run the app under gunicorn, in its own process, with `config` as environment."""
    port = free_port()
    env = {**os.environ, **server_environment(config)}
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
        start_new_session=True,  # its own process group: see LiveServer.signal_stop
    )
    url = f"http://127.0.0.1:{port}"
    # Generous: parallel workers share the cores.
    if healthy(url, time.monotonic() + 60):
        return LiveServer(url, process, log, workers)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


class ServerPool:
    """Gunicorn servers kept between the tests of one process, each lent to one test at
    a time: starting a server (a process that imports the app) was the largest cost of
    the browser tests.

    When a test is done with a server, its workers are killed (SIGKILL, at once) and
    its master forks fresh ones from the app it preloaded, as at start: a later test
    with the same configuration gets only workers forked after the last test ended, in
    a new server's state (no cached pages or counts, no spent tokens, no pooled
    connections), in front of the same database, emptied between tests as always.
    A configuration not seen before (or one that holds a per-test path, such as an
    SQLite file) starts a new server; the `keep` most recently used idle ones stay.
    """

    def __init__(self, log_dir: Path, keep: int = 3) -> None:
        self.log_dir, self.keep = log_dir, keep
        self.idle: list[tuple[tuple, LiveServer]] = []

    def acquire(self, config: dict, *, workers: int = 2, threads: int = 4) -> LiveServer:
        key = (tuple(sorted(server_environment(config).items())), workers, threads)
        for index, (idle_key, server) in enumerate(self.idle):
            if idle_key == key:
                del self.idle[index]
                if self._renewed(server):
                    return server
                server.stop()
                break
        server = start_server(config, workers=workers, threads=threads, log_dir=self.log_dir)
        server.pool_key = key
        return server

    def release(self, servers: list[LiveServer]) -> None:
        for server in servers:
            server.released_at = clock_ticks()
            workers = server.worker_pids()
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if workers and server.process.poll() is None:
                self.idle.append((server.pool_key, server))
            else:  # stopped by its test, or no /proc to see its workers by: not reused
                server.stop()
        while len(self.idle) > self.keep:
            self.idle.pop(0)[1].stop()

    def _renewed(self, server: LiveServer) -> bool:
        """Whether every worker of the master was forked after the server's last test
        (any older one is killed), and they answer."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and server.process.poll() is None:
            pids = server.worker_pids()
            old = {pid for pid in pids if started_at(pid) < server.released_at}
            for pid in old:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if len(pids) == server.workers and not old:
                return healthy(server.url, deadline)
            time.sleep(0.02)
        return False

    def close(self) -> None:
        for _, server in self.idle:
            server.signal_stop()
        for _, server in self.idle:
            server.wait_stopped()
        self.idle.clear()
