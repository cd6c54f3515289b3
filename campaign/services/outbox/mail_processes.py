"""`flask mail work --processes N`: one command, N worker processes (issue 22).

A worker process is bound by the GIL: rendering a confirmation mail and building its
MIME message is CPU work its threads take turns at. The command forks N - 1 children
after the app was created (they share its code and configuration, not its database
connections: the engine's pool is emptied before the fork) and works in all N. Each
process keeps its own `Unmarked` memory and its own SMTP connections; they share
nothing else, and the outbox's row locks and leases (services/outbox/mail_lease.py) keep them
from sending one message twice, as they do for workers started separately.

Only the parent runs the tick (the transparency log's publisher) and the outbox
preparers. A child exits when its parent is gone, and the parent stops its children
when it is stopped (SIGTERM, SIGINT) and waits for them. A stop is graceful: each
process sends no more, marks what it sent and gives back what it claimed
(`mail_worker.request_stop`), so a deploy's restart sends nothing twice.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

from ...extensions import db

# How often a child checks that its parent is still there.
ORPHAN_CHECK_SECONDS = 1.0


def run(processes: int, work: Callable[[bool], int], stop: Callable[[], None]) -> int:
    """Run `work(first)` in `processes` processes (this one is the first) until stopped;
    returns what the first returned. (`--once` runs in one process: the children's
    counts would be lost.)

    SIGTERM or SIGINT calls `stop` in every process (the parent passes it on to the
    children): `work` then finishes what it is doing and returns."""
    parent = os.getpid()
    children: list[int] = []
    if processes > 1:
        db.engine.dispose()  # no connection crosses the fork
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:  # the child
            status = 1
            try:
                children.clear()
                _on_stop(stop, children)
                _exit_with_parent(parent)
                work(False)
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    previous = _on_stop(stop, children)
    try:
        return work(True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _wait_all(children)


def _on_stop(stop: Callable[[], None], children: list[int]) -> dict:
    """Handle SIGTERM and SIGINT: `stop`, passed on to `children`. A repeat changes
    nothing (systemd signals every process of the service, and the parent passes its
    own on): a worker that does not stop in time is killed by its supervisor."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handle(signum, frame) -> None:
        _signal_all(children, signal.SIGTERM)
        stop()

    for sig in previous:
        signal.signal(sig, handle)
    return previous


def _exit_with_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(ORPHAN_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="mail-worker-parent", daemon=True).start()


def _signal_all(children: list[int], signum: int) -> None:
    for pid in children:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _wait_all(children: list[int]) -> None:
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
