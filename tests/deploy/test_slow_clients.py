"""Slow clients against gunicorn with no proxy in front (issue 22.7): gunicorn.conf.py
gives each request REQUEST_READ_SECONDS to arrive, so a handful of slow clients can't
hold every thread; and the master warns when it serves a public address without a
proxy configured (docs/deploy.md: nginx, or another buffering proxy, is required)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.helpers import ROOT, free_port

pytestmark = pytest.mark.slow

WARNING = "without a proxy (TRUSTED_PROXIES is unset)"


def drip(port: int, stop: threading.Event) -> None:
    """A client that starts a sign POST at once and sends the rest a byte at a time."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /x/sign HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while not stop.wait(0.3):
            sock.sendall(b"X")  # a header that never ends


def test_eight_slow_clients_stop_gunicorn(live_server):
    """Before: a thread read a request with no deadline, so slow clients as many as
    the threads (2 workers x 4 here) stopped every other request for as long as they
    kept sending. Now each is cut off REQUEST_READ_SECONDS after its thread took it."""
    server = live_server(GUNICORN_READ_SECONDS="1")
    port = int(server.url.rsplit(":", 1)[1])
    stop = threading.Event()
    clients = [threading.Thread(target=drip, args=(port, stop)) for _ in range(16)]
    for client in clients:
        client.start()
    try:
        time.sleep(0.8)  # every thread of both workers is taken by now
        started = time.monotonic()
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as response:
            assert response.status == 200
        waited = time.monotonic() - started
        print(f"/healthz behind 16 slow clients: {waited:.2f} s")  # with -s
        assert waited < 6, f"a request waited {waited:.1f} s behind slow clients"
        assert WARNING not in server.log.read_text()  # loopback: nothing to warn about
    finally:
        stop.set()
        for client in clients:
            client.join()


def start_log(bind: str, env: dict[str, str]) -> str:
    """What gunicorn's master logs until it is ready (it binds, then runs when_ready)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", bind, "--workers", "1"]
        + ["--no-control-socket", "wsgi:app"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "Booting worker" in line or "Listening" in line and len(lines) > 3:
                break
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return "".join(lines)


def test_gunicorn_warns_when_serving_the_public_without_a_proxy():
    env = {"TRUSTED_PROXIES": ""}
    assert WARNING in start_log(f"0.0.0.0:{free_port()}", env)
    assert WARNING not in start_log(f"127.0.0.1:{free_port()}", env)
    assert WARNING not in start_log(f"0.0.0.0:{free_port()}", {"TRUSTED_PROXIES": "1"})
