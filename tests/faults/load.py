"""A small, bounded load client for the fault tests: threads that sign (a new address
each time, never retried) and confirm (links handed to them), over http.client to a
loopback server, until a request count or a time limit. Every answer is kept: what
was asked, the status, and Retry-After; a connection that failed (a killed worker)
is status 0."""

from __future__ import annotations

import http.client
import itertools
import queue
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from tests.helpers import SLUG, hidden_fields


@dataclass
class Answer:
    kind: str  # "sign" or "confirm"
    key: str  # the address signed, or the confirm token
    status: int  # 0: the connection failed
    retry_after: str | None
    at: float  # monotonic, when the answer came


@dataclass
class Load:
    url: str  # http://127.0.0.1:port
    seconds: float
    threads: int = 4
    max_requests: int = 3000
    pause: float = 0.0  # seconds each thread waits between requests: a paced load
    tokens: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port
        assert self.host == "127.0.0.1"  # loopback only
        self.lock = threading.Lock()
        self.serial = itertools.count()
        self.form = self._form()

    def _form(self) -> dict[str, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        conn.request("GET", f"/{SLUG}/")
        response = conn.getresponse()
        assert response.status == 200
        fields = hidden_fields(response.read().decode())
        conn.close()
        return {**fields, "name": "Maryam Ahmadi", "country": "DE"}

    def run(self) -> list[Answer]:
        self.deadline = time.monotonic() + self.seconds
        workers = [threading.Thread(target=self._work, args=(n,)) for n in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return self.answers

    def _work(self, number: int) -> None:
        conn = None
        while time.monotonic() < self.deadline:
            n = next(self.serial)
            if n >= self.max_requests:
                return
            try:
                token = self.tokens.get_nowait() if n % 2 else None
            except queue.Empty:
                token = None
            if token is not None:
                kind, key, path, body = "confirm", token, f"/{SLUG}/confirm/{token}", b""
            else:
                email = f"fault-{n}@example.org"
                body = urllib.parse.urlencode({**self.form, "email": email}).encode()
                kind, key, path = "sign", email, f"/{SLUG}/sign"
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
            try:
                conn.request(
                    "POST",
                    path,
                    body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                response = conn.getresponse()
                response.read()
                status, retry_after = response.status, response.getheader("Retry-After")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                status, retry_after = 0, None
                conn.close()
                conn = None
            with self.lock:
                self.answers.append(Answer(kind, key, status, retry_after, time.monotonic()))
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()


def server_errors(answers: list[Answer]) -> list[Answer]:
    """Every 5xx but 503, and every 503 without Retry-After."""
    return [
        a
        for a in answers
        if a.status >= 500 and (a.status != 503 or not (a.retry_after or "").isdigit())
    ]
