"""Mail under faults, with the real worker (`flask mail work`, a process of its own), a
real SMTP server (aiosmtpd) and the real database (issue 22). Each test breaks one
thing while the worker runs, then asserts every message arrives once, and how soon
after the fault clears:

* the database fails between the server's acceptance and the mark "sent";
* the database fails mid-batch (the rest of the batch must not wait out a lease);
* the worker process is killed mid-batch (its messages go out again within 30 s);
* the SMTP server is stopped, then started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import OutboxMessage
from tests.helpers import ROOT, TEST_DATABASE_URL, Mailbox, require, sign, using_postgres
from tests.services.outbox.test_mail_failures import HangingMailbox, restart, worker_env

WORKER_NAME = "mail-fault-worker"  # the worker's application_name, to find its backends


class TimedMailbox(Mailbox):
    """Keeps when each message arrived (monotonic), to measure the time to inbox."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        reply = await super().handle_DATA(server, session, envelope)
        self.arrived.append(time.monotonic())
        return reply


class KillsTheDatabaseOnAccept(TimedMailbox):
    """Accepts the first message, but first kills the worker's database connections:
    the worker hears "250" with no database to record it on."""

    def __init__(self) -> None:
        super().__init__()
        self.fault_at: float | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.fault_at is None:
            assert terminate_worker_connections() >= 1
            self.fault_at = time.monotonic()
        return await super().handle_DATA(server, session, envelope)


def terminate_worker_connections() -> int:
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            (WORKER_NAME,),
        ).fetchone()[0]


def start_worker(
    app_config: dict, smtp_url: str, tmp_path, name: str, *options: str
) -> subprocess.Popen:
    env = worker_env(app_config, smtp_url)
    url = env["DATABASE_URL"]
    env["DATABASE_URL"] = f"{url}{'&' if '?' in url else '?'}application_name={WORKER_NAME}"
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "work", "--poll", "0.2", *options],
        cwd=ROOT,
        env=env,
        stdout=(tmp_path / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll `condition` until it holds; returns when (monotonic)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)
    return time.monotonic()


def statuses() -> list[str]:
    db.session.rollback()
    return db.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)).all()


def each_once(box: Mailbox, emails: list[str]) -> None:
    assert sorted(m["To"] for m in box.messages) == sorted(emails)
    assert len({m["Message-ID"] for m in box.messages}) == len(emails)


@pytest.mark.postgres
def test_database_failure_between_send_and_mark_sent_the_mail_twice(
    client, app, app_config, tmp_path
):
    """The old worker's mark failed with the connection, and the message, still pending
    under its lease, went out again when the lease ended. Now it is marked sent as soon
    as the database answers again, and never sent again."""
    require(using_postgres(), "needs PostgreSQL (pg_terminate_backend)")
    box = KillsTheDatabaseOnAccept()
    box.start()
    worker = start_worker(app_config, box.url, tmp_path, "worker")
    try:
        sign(client, email="once@example.org")
        wait_for(lambda: box.fault_at is not None, 45, "the worker sends")
        marked = wait_for(lambda: statuses() == ["sent"], 10, "marked sent")
        time.sleep(1)  # anything more would arrive now (the worker polls every 0.2 s)
    finally:
        stop(worker)
        box.stop()
    each_once(box, ["once@example.org"])
    print(f"database failure after acceptance: marked sent {marked - box.fault_at:.1f} s later")
    assert marked - box.fault_at < 5  # marked as soon as the database was back


@pytest.mark.postgres
def test_database_failure_mid_batch_stalled_the_rest_for_minutes(client, app, app_config, tmp_path):
    """The old worker left the rest of a failed batch under a 5-minute lease. Now the
    batch is released (or its 15 s lease ends) and the rest goes out within seconds."""
    require(using_postgres(), "needs PostgreSQL (pg_terminate_backend)")
    emails = [f"batch{n}@example.org" for n in range(6)]
    for email in emails:
        sign(client, email=email)
    box = KillsTheDatabaseOnAccept()
    box.start()
    worker = start_worker(app_config, box.url, tmp_path, "worker")
    try:
        wait_for(lambda: box.fault_at is not None, 45, "the worker sends")
        wait_for(lambda: len(box.messages) == len(emails), 30, "every message arrives")
        wait_for(lambda: set(statuses()) == {"sent"}, 10, "every message marked sent")
        time.sleep(1)
    finally:
        stop(worker)
        box.stop()
    each_once(box, emails)
    print(f"database failure mid-batch: all mail in {max(box.arrived) - box.fault_at:.1f} s")
    assert max(box.arrived) - box.fault_at < 10


def test_killed_worker_stalled_its_mail_for_five_minutes(client, app, app_config, tmp_path):
    """A worker killed mid-batch left its messages under a 5-minute lease. Now the lease
    is 15 s: another worker sends them within 30 s of the kill."""
    emails = [f"killed{n}@example.org" for n in range(5)]
    for email in emails:
        sign(client, email=email)
    box = HangingMailbox()  # the first DATA hangs: the worker dies mid-send
    box.start()
    first = start_worker(app_config, box.url, tmp_path, "first")
    second = None
    try:
        assert box.data_started.wait(45), (tmp_path / "first.log").read_text()
        box.hang = False
        second = start_worker(app_config, box.url, tmp_path, "second")  # idle: all leased
        time.sleep(3)  # it starts
        stop(first)
        killed = time.monotonic()
        wait_for(lambda: len(box.messages) == len(emails), 40, "every message arrives")
        arrived = time.monotonic()
        wait_for(lambda: set(statuses()) == {"sent"}, 10, "every message marked sent")
    finally:
        stop(first)
        if second is not None:
            stop(second)
        box.stop()
    each_once(box, emails)
    print(f"killed worker: its mail arrived {arrived - killed:.1f} s after the kill")
    assert arrived - killed < 30


def test_smtp_outage_pushed_mail_back_by_a_growing_backoff(client, app, app_config, tmp_path):
    """The old worker counted a relay outage as each message's failed attempt: 30 s, then
    60 s … of backoff after the relay was back. Now a message is tried again within
    5 s, so it arrives within seconds of the relay's return."""
    emails = [f"outage{n}@example.org" for n in range(5)]
    box = TimedMailbox()  # not started: the relay is down
    worker = start_worker(app_config, box.url, tmp_path, "worker")
    try:
        for email in emails:
            sign(client, email=email)
        wait_for(lambda: tried(len(emails)), 45, "the worker tries and fails")
        time.sleep(3)  # the outage goes on for a while
        restart(box)
        back = time.monotonic()
        wait_for(lambda: len(box.messages) == len(emails), 20, "every message arrives")
        wait_for(lambda: set(statuses()) == {"sent"}, 10, "every message marked sent")
        time.sleep(1)
    finally:
        stop(worker)
        with contextlib.suppress(AssertionError):  # never started, if the wait failed
            box.stop()
    each_once(box, emails)
    print(f"SMTP outage: all mail in {max(box.arrived) - back:.1f} s after the relay was back")
    assert max(box.arrived) - back < 10


def tried(count: int) -> bool:
    db.session.rollback()
    errors = db.session.scalars(select(OutboxMessage.last_error)).all()
    return len(errors) == count and all(errors)


class SlowMailbox(TimedMailbox):
    """Takes 20 ms over each message, so a stop lands mid-batch."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_stopped_worker_marks_what_it_sent(client, app, app_config, tmp_path, processes):
    """SIGTERM (a deploy, `systemctl stop`) killed the worker where it stood: up to ten
    messages a thread, accepted by the server but not yet marked sent, went out again
    once their lease ended. Now a stopped worker sends no more, marks what it sent,
    gives back what it had claimed, and exits."""
    emails = [f"stop{i}@example.org" for i in range(60)]
    for address in emails:
        sign(client, email=address)
    box = SlowMailbox()
    box.start()
    worker = start_worker(app_config, box.url, tmp_path, "worker", "--processes", processes)
    try:
        wait_for(lambda: len(box.messages) >= 5, 60, "the worker sends")
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)
        accepted = {m["Message-ID"] for m in box.messages}
        assert 0 < len(accepted) < len(emails)  # stopped mid-way
        db.session.rollback()
        rows = db.session.scalars(select(OutboxMessage)).all()
        host = urlsplit(app_config["BASE_URL"]).hostname
        sent = {f"<{r.idempotency_key}@{host}>" for r in rows if r.status == "sent"}
        assert accepted == sent  # every accepted message marked, no other
        assert all(r.locked_until is None for r in rows if r.status == "pending")  # given back
        worker = start_worker(app_config, box.url, tmp_path, "worker2")
        wait_for(lambda: len(box.messages) >= len(emails), 60, "the rest is sent")
        time.sleep(0.5)
    finally:
        stop(worker)
        box.stop()
    each_once(box, emails)
