"""Fixtures of the transparency-log tests."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from tests.helpers import free_port


@pytest.fixture
def static_server():
    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def verifier_state(tmp_path, monkeypatch) -> Path:
    """The verifier's memory in the test's own folder, never the user's state directory."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "campaign-petition" / "verifier.json"
