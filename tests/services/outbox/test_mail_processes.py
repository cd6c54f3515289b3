"""`flask mail work --processes N` (issue 22): one command, several worker processes,
each message sent once, and no process left behind when the command stops. The real
worker against aiosmtpd and the suite's PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import ROOT, require, sign, using_postgres
from tests.services.outbox.test_mail_failures import worker_env
from tests.services.outbox.test_mail_faults import TimedMailbox, stop, wait_for


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.postgres  # CI's SQLite half deselects it (-m 'not postgres')
def test_worker_processes_send_each_mail_once_and_stop_with_the_command(
    client, app, app_config, tmp_path
):
    require(using_postgres(), "needs PostgreSQL (SKIP LOCKED between processes)")
    box = TimedMailbox()
    box.start()
    emails = [f"process{n}@example.org" for n in range(30)]
    for email in emails:
        assert sign(client, email=email).status_code == 303
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "work"]
    worker = subprocess.Popen(
        [*command, "--poll", "0.2", "--processes", "3"],
        cwd=ROOT,
        env=worker_env(app_config, box.url),
        stdout=(tmp_path / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: len(box.messages) >= len(emails), 60, "every mail sent")
        forked = children(worker.pid)
        assert len(forked) == 2, forked
        time.sleep(1.0)  # a copy, if any, would arrive meanwhile
        assert sorted(m["To"] for m in box.messages) == sorted(emails)
        worker.send_signal(signal.SIGTERM)
        worker.wait(15)
        assert all(not Path(f"/proc/{pid}").exists() for pid in forked)
    finally:
        stop(worker)
        box.stop()
