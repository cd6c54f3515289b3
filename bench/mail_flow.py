"""Mail in `make bench` (issue 22): one `flask mail work` process against a recording
SMTP sink (bench/helpers/smtp_sink.py, a process of its own), side by side with signing.

* `measure_throughput`: the worker drains the confirmation mails the sign step queued,
  half of them with one worker process, the rest with the deployed command (two);
  each rate is counted from the sink's first acceptance to its last (the worker's start
  is not counted), to compare with the sign step's signings per second.
* `measure_time_to_inbox`: an open-loop client signs RATE times a second for SECONDS
  seconds (each POST at its scheduled time, whatever the server's pace; never retried)
  while the worker runs; for each 303 the time until the sink accepted that address's
  confirmation mail: p50, p95, worst, and any mail missing or received twice.

Each drain also reports the CPU per mail of the worker's processes and of the sink
(from /proc, delivery only: the worker's start-up is not counted), to read beside the
app's CPU per signing (bench/suite/ratio_steps.py).

`python bench/mail_flow.py sink PORT LOG` is the sink: it appends "<unix time> <rcpt>"
per accepted message to LOG before answering 250.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from helpers import smtp_sink

ROOT = Path(__file__).resolve().parent.parent
INBOX_RATE = int(os.environ.get("BENCH_INBOX_RATE", "100"))
INBOX_SECONDS = int(os.environ.get("BENCH_INBOX_SECONDS", "60"))
CLIENT_THREADS = 128
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sink(work: Path, name: str):
    """A recording sink (bench/helpers/smtp_sink.py); yields (smtp url, its log, its process)."""
    port, path = free_port(), work / f"sink-{name}.log"
    path.write_text("")
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__)), "sink", str(port), str(path)],
        stdout=(work / f"sink-{name}.out").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"smtp://127.0.0.1:{port}", path, process
    finally:
        process.terminate()
        process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants (/proc, Linux)."""
    total = 0.0
    for each in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def _descendants(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    except OSError:
        pass
    return found


def accepted(path: Path) -> list[tuple[float, str]]:
    rows = []
    for line in path.read_text().splitlines():
        stamp, _, rcpt = line.partition(" ")
        if rcpt:
            rows.append((float(stamp), rcpt))
    return rows


@contextmanager
def worker(env: dict[str, str], smtp_url: str, work: Path, name: str, processes: int | None = None):
    """`flask mail work` as docs/deploy.md runs it (`--processes N` if given)."""
    extra = ["--processes", str(processes)] if processes else []
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "work", *extra],
        cwd=ROOT,
        env={**env, "SMTP_URL": smtp_url},
        stdout=(work / f"worker-{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pending(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM outbox WHERE status = 'pending'"))
    engine.dispose()
    return int(count or 0)


def measure_throughput(
    database_url: str,
    env: dict[str, str],
    work: Path,
    ceiling: Callable[[], float | None] = lambda: None,
) -> dict:
    """Drain the queued mail: half of it with one worker process (`flask mail work
    --processes 1`: issue 22's "one mail worker process", read literally), the rest with
    `flask mail work` as deployed (MAIL_WORKER_PROCESSES, 2). The top-level figures are
    the one process's; `command` holds the whole command's.

    `ceiling` measures the ceiling app's GET rate; it runs before and after the one
    process's drain, so its rate can be read against the machine's speed in the same
    seconds, as the sign step's is (`ceiling_rps` beside it): the machine's speed
    swings by half within a minute, more than the sign step's and the mail step's
    rates differ."""
    before = pending(database_url)
    ceilings = [ceiling()]
    one = _drain(database_url, env, work, "throughput-1", 1, max(before // 2, 1), 45)
    ceilings.append(ceiling())
    rest = pending(database_url)
    command = _drain(database_url, env, work, "throughput", None, rest, 60)
    measured = [c for c in ceilings if c]
    beside = round(sum(measured) / len(measured), 1) if measured else None
    return one | {"pending_before": before, "command": command, "ceiling_rps": beside}


def _drain(
    database_url: str,
    env: dict[str, str],
    work: Path,
    name: str,
    processes: int | None,
    enough: int,
    limit_s: float,
) -> dict:
    """Run the worker until the sink accepted `enough` messages (or it stalls, or
    `limit_s`); the rate at the sink, first acceptance to last."""
    before = pending(database_url)
    with (
        sink(work, name) as (url, path, sink_process),
        worker(env, url, work, name, processes) as process,
    ):
        began, last_count, last_change = time.monotonic(), 0, time.monotonic()
        first: tuple[int, float, float] | None = None  # count, worker and sink CPU then
        while time.monotonic() - began < limit_s:
            time.sleep(0.25)
            count = len(accepted(path))
            if count and first is None:  # from here on the worker is delivering
                first = (count, cpu_seconds(process.pid), cpu_seconds(sink_process.pid))
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            if count >= enough or (count and time.monotonic() - last_change > 5):
                break
        rows = accepted(path)
        cpu = _cpu_per_mail(first, len(rows), process.pid, sink_process.pid)
    span = rows[-1][0] - rows[0][0] if len(rows) > 1 else 0.0
    return {
        "pending_before": before,
        "sent": len(rows),
        "twice": sum(1 for n in Counter(r for _, r in rows).values() if n > 1),
        "pending_after": pending(database_url),
        "seconds": round(span, 3),
        "messages_per_s": round((len(rows) - 1) / span, 1) if span else 0.0,
        "threads": int(env.get("MAIL_SMTP_CONNECTIONS", "8")),
        "processes": processes or int(env.get("MAIL_WORKER_PROCESSES", "2")),
        **cpu,
    }


def _cpu_per_mail(first: tuple[int, float, float] | None, count: int, worker: int, sink: int):
    """CPU milliseconds per mail of the worker (its processes) and of the sink, from the
    first poll that saw a mail delivered to the end (start-up not counted)."""
    if first is None or count <= first[0]:
        return {"worker_cpu_ms_per_mail": None, "sink_cpu_ms_per_mail": None}
    mails = count - first[0]
    return {
        "worker_cpu_ms_per_mail": round((cpu_seconds(worker) - first[1]) / mails * 1000, 3),
        "sink_cpu_ms_per_mail": round((cpu_seconds(sink) - first[2]) / mails * 1000, 3),
    }


def _sign_body(form: dict[str, str], email: str) -> str:
    return urllib.parse.urlencode(
        {
            "csrf_token": form.get("BENCH_CSRF", ""),
            "started": form["BENCH_STARTED"],
            "name": "Inbox Bench",
            "country": "DE",
            "comment": "",
            "source": "",
            "ref": "",
            "website": "",
            "email": email,
        }
    )


class Signer:
    """An open-loop client: POST i is sent at start + i / rate, on one of `pool`
    keep-alive connections; its 303's arrival time is kept (no retries)."""

    def __init__(self, base: str, slug: str, form: dict[str, str], run: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.path, self.form, self.run = f"/{slug}/sign", form, run
        self.local = threading.local()
        self.acked: dict[str, float] = {}
        self.statuses: Counter = Counter()
        self.late: list[float] = []

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        return conn

    def post(self, i: int, due: float) -> None:
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        else:
            self.late.append(-delay)
        email = f"inbox-{self.run}-{i}@example.org"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": self.form.get("BENCH_COOKIE", ""),
        }
        try:
            conn = self._connection()
            conn.request("POST", self.path, _sign_body(self.form, email), headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.local.conn = None
            status = 0
        if status == 303:
            self.acked[email] = time.time()
        self.statuses[status] += 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def measure_time_to_inbox(
    base: str, slug: str, form: dict[str, str], env: dict[str, str], work: Path, run: str
) -> dict:
    """RATE signings a second for SECONDS seconds, the worker running: the time from each
    303 to the sink's acceptance of that signer's confirmation mail."""
    rate, seconds = INBOX_RATE, INBOX_SECONDS
    signer = Signer(base, slug, form, run)
    with sink(work, "inbox") as (url, path, _), worker(env, url, work, "inbox"):
        # A worker in service is already running: the load starts once this one has
        # delivered a first mail (its start-up, seconds of imports on a busy machine,
        # would otherwise be counted in every mail's wait).
        warm = Signer(base, slug, form, f"{run}w")
        warm.post(0, time.time())
        deadline = time.monotonic() + 120
        while not any(r.startswith(f"inbox-{run}w-") for _, r in accepted(path)):
            if time.monotonic() > deadline:
                raise RuntimeError("the mail worker sent nothing in 120 s")
            time.sleep(0.2)
        start = time.time() + 0.5
        # Enough threads that a slow answer never holds a later POST back (open loop).
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            for i in range(rate * seconds):
                pool.submit(signer.post, i, start + i / rate)
        ended = time.time()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = {rcpt for _, rcpt in accepted(path)}
            if all(email in got for email in signer.acked):
                break
            time.sleep(0.5)
        rows = accepted(path)
    first: dict[str, float] = {}
    copies: Counter = Counter()
    for stamp, rcpt in rows:
        if rcpt.startswith(f"inbox-{run}-"):
            first.setdefault(rcpt, stamp)
            copies[rcpt] += 1
    waits = [first[e] - t for e, t in signer.acked.items() if e in first]
    drained = max(first.values()) - ended if first else None
    return {
        "rate": rate,
        "seconds": seconds,
        "acknowledged": len(signer.acked),
        "statuses": {str(k): v for k, v in sorted(signer.statuses.items())},
        "client_late_p99_s": round(percentile(signer.late, 0.99), 3),
        "delivered": len(waits),
        "missing": len(signer.acked) - len(waits),
        "twice": sum(1 for n in copies.values() if n > 1),
        "p50_s": round(percentile(waits, 0.50), 3),
        "p95_s": round(percentile(waits, 0.95), 3),
        "max_s": round(max(waits), 3) if waits else None,
        "drained_after_load_s": round(drained, 3) if drained is not None else None,
    }


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "sink":
        smtp_sink.main(int(sys.argv[2]), sys.argv[3])
