"""The delivery worker (`flask mail work`): sends what the outbox holds.

Each worker thread (MAIL_SMTP_CONNECTIONS of them, each with its own SMTP connection,
reused across messages) claims a batch of due messages under a short lease
(services/outbox/mail_lease.py: 15 s, renewed while the batch is sent, released when it
fails), renders mail queued without a body through its kind's renderer, sends it, and
remembers it as sent until the database records that. A message the SMTP server
accepted is marked sent before the worker claims anything new, however long the
database is away; only the death of the worker process between the server's
acceptance and that mark sends it again, under the same Message-ID (mail clients fold
the copy). A message whose worker died goes out again once its lease ends. One batch
is services/outbox/mail_send.py's; this module runs the threads, their loop and the stop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from flask import current_app

from ...extensions import db
from .mail_send import STOPPING, deliver_batch, unmarked
from .mail_transport import Transport

log = logging.getLogger(__name__)

# How long a stopping worker keeps trying to mark what it sent while the database fails.
STOP_MARK_SECONDS = 10.0


def prepare_outbox() -> int:
    """Run the app's outbox preparers (e.g. `updates.expand_published`, wired in
    `create_app` so this module imports none of them): work that turns a
    published thing into outbox rows. Returns the rows they queued."""
    queued = 0
    for prepare in current_app.extensions.get("campaign.outbox_preparers", ()):
        queued += prepare()
    return queued


def connections() -> int:
    """Worker threads, each with its own SMTP connection: MAIL_SMTP_CONNECTIONS (as many
    as the relay allows). On SQLite too: a batch's writes are a few short transactions
    (claim, decisions, marks), and rendering and sending hold no lock."""
    return max(1, int(current_app.config.get("MAIL_SMTP_CONNECTIONS", 8)))


def processes() -> int:
    """Worker processes of `flask mail work`: MAIL_WORKER_PROCESSES (the GIL binds one
    process to one core's worth of rendering)."""
    return max(1, int(current_app.config.get("MAIL_WORKER_PROCESSES", 2)))


def work(
    *,
    once: bool = False,
    poll_seconds: float = 0.5,
    batch: int = 50,
    tick: Callable[[], object] | None = None,
    threads: int | None = None,
    prepare: bool = True,
) -> int:
    """The delivery loop, in `threads` threads (default `connections()`). With `once`,
    send everything due, then return the number sent.

    `tick` runs before each pass of the first thread (the CLI passes the transparency
    log's publisher), as do the outbox preparers unless `prepare` is false (the other
    processes of `flask mail work --processes N`: services/outbox/mail_processes.py)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    count = threads or connections()
    totals = [0] * count

    def run(index: int) -> None:
        with app.app_context():
            try:
                totals[index] = _loop(once, poll_seconds, batch, tick, first=False)
            finally:
                db.session.remove()

    others = [
        threading.Thread(target=run, args=(i,), name=f"mail-worker-{i}", daemon=True)
        for i in range(1, count)
    ]
    for thread in others:
        thread.start()
    totals[0] = _loop(once, poll_seconds, batch, tick, first=prepare)
    for thread in others:
        thread.join()
    return sum(totals)


def _loop(
    once: bool,
    poll_seconds: float,
    batch: int,
    tick: Callable[[], object] | None,
    *,
    first: bool,
) -> int:
    total = 0
    transport = Transport(current_app.config["SMTP_URL"])
    try:
        while not STOPPING.is_set():
            prepared = 0
            if first and tick is not None:
                try:
                    tick()
                except Exception:  # noqa: BLE001 - the tick must never stop delivery
                    log.exception("worker tick failed; delivering anyway")
                    db.session.rollback()
            try:
                if first:
                    prepared = prepare_outbox()
                sent, _, claimed = deliver_batch(batch, transport)
            except Exception:  # noqa: BLE001 - a worker must survive a database outage
                log.exception("mail delivery pass failed; retrying")
                db.session.rollback()
                unmarked().note_failure()
                if once and not len(unmarked()):
                    return total
                STOPPING.wait(min(poll_seconds, 0.5))  # mark what was sent as soon as it can
                continue
            total += sent
            if claimed == 0 and prepared == 0:
                if once and not len(unmarked()):
                    return total
                transport.close()
                STOPPING.wait(poll_seconds)
        _mark_before_exit()
        return total
    finally:
        transport.close()


def request_stop() -> None:
    """Stop every worker thread of this process after the message it is sending."""
    STOPPING.set()


def _mark_before_exit() -> None:
    """Mark what this process sent, trying for up to STOP_MARK_SECONDS while the
    database fails (past that, only a lease's end can send it again)."""
    memory = unmarked()
    deadline = time.monotonic() + STOP_MARK_SECONDS
    while len(memory):
        try:
            memory.flush()
        except Exception:  # noqa: BLE001 - the database may be down: try again
            db.session.rollback()
            time.sleep(0.5)
        else:
            if len(memory):  # another thread's marks, on their way: wait, don't spin
                time.sleep(0.05)
        if len(memory) and time.monotonic() > deadline:
            log.warning("stopping with %s sent messages unmarked", len(memory))
            return
