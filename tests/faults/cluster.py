"""A PostgreSQL cluster of the fault tests' own, which they may crash: initdb on a spare
port into a temporary folder, run as the `postgres` user (PostgreSQL refuses root).

Debian's binaries (/usr/lib/postgresql/<version>/bin). fsync and full_page_writes are
off (the machine doesn't crash, only PostgreSQL's processes: what they wrote is in the
page cache). synchronous_commit stays on: with it off, a commit is acknowledged before
its WAL leaves PostgreSQL's memory, and an immediate stop loses it (a first run lost
an acknowledged signature that way).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.helpers import free_port

OWNER = "postgres"


def binaries() -> Path | None:
    """The newest Debian PostgreSQL bin folder with initdb and pg_ctl, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def usable() -> str | None:
    """Why a cluster can't be made here, or None."""
    if binaries() is None:
        return "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    try:
        pwd.getpwnam(OWNER)
    except KeyError:
        return f"no {OWNER} user to run PostgreSQL as"
    if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != OWNER:
        return "needs root (to run PostgreSQL as postgres) or the postgres user"
    return None


class Cluster:
    def __init__(self) -> None:
        self.bin = binaries()
        self.port = free_port()
        # Under /tmp, not pytest's folder: that one is root's alone (0700).
        self.root = Path(tempfile.mkdtemp(prefix="fault-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        user = pwd.getpwnam(OWNER)
        os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", OWNER, "--no-sync")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{OWNER}@127.0.0.1:{self.port}/{database}"

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", OWNER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=60)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: every backend killed, no checkpoint; the next
        start recovers from the write-ahead log."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def terminate_backends(self, database: str, *, wait: bool = True) -> int:
        """pg_terminate_backend on every client connection to `database` (waiting for
        each to end, unless not `wait`)."""
        timeout = 5000 if wait else 0
        with psycopg.connect(self.url(), autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid, %s)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'",
                (timeout, database),
            ).fetchone()
        return row[0]

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def remove(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
