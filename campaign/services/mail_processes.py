"""`flask mail work --processes N`: one command, N worker processes (issue 22).

A worker process is bound by the GIL: rendering a confirmation mail and building its
MIME message is CPU work its threads take turns at. The command forks N - 1 children
after the app was created (they share its code and configuration, not its database
connections: the engine's pool is emptied before the fork) and works in all N. Each
process keeps its own `Unmarked` memory and its own SMTP connections; they share
nothing else, and the outbox's row locks and leases (services/mail_lease.py) keep them
from sending one message twice, as they do for workers started separately.

Only the parent runs the tick (the transparency log's publisher) and the outbox
preparers. A child exits when its parent is gone, and the parent stops its children
when it is stopped (SIGTERM, SIGINT) and waits for them.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

from ..extensions import db

# How often a child checks that its parent is still there.
ORPHAN_CHECK_SECONDS = 1.0


def run(processes: int, work: Callable[[bool], int]) -> int:
    """Run `work(first)` in `processes` processes (this one is the first) until stopped;
    returns what the first returned. (`--once` runs in one process: the children's
    counts would be lost.)"""
    if processes <= 1:
        return work(True)
    db.engine.dispose()  # no connection crosses the fork
    parent = os.getpid()
    children: list[int] = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:  # the child
            status = 1
            try:
                _exit_with_parent(parent)
                work(False)
                status = 0
            finally:
                os._exit(status)
        children.append(pid)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def stop(signum, frame) -> None:
        _signal_all(children, signal.SIGTERM)
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)
        raise SystemExit(128 + signum)

    for sig in previous:
        signal.signal(sig, stop)
    try:
        return work(True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _wait_all(children)


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
