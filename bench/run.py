"""`make bench`: the benchmark suite. Bounded to well under 10 minutes on 2 cores.

It starts everything itself on 127.0.0.1 (gunicorn servers, an aiosmtpd sink, a
PostgreSQL database of its own that it drops at the end) and measures with wrk:

* the ceiling: bench/ceiling_app.py, a Flask app returning a fixed page, under the
  same gunicorn settings as the app;
* on SQLite and PostgreSQL: campaign page GET, sign POST, confirm POST (each with
  zero errors and zero lost, checked row by row against the database), page
  latency at 0 and at 1,000,000 signatures, the page GET through nginx's cache
  configured as docs/deploy.md says (SQLite run, when nginx is installed), CSV export
  of 100,000 and 1,000,000 rows against sqlite3 -csv / psql \\copy, the delivery pack
  (PDF) naming 100,000 signers (SQLite), and mail delivery to aiosmtpd by one
  `flask mail work` process beside the signing rate, and (PostgreSQL) the time from
  the sign POST's 303 to the sink's acceptance of its mail at 100 signings a second
  (bench/mail_flow.py);
* on PostgreSQL with Redis: signing through one app instance and through two;
* the transparency log (bench/tlog.py): ROWS adds → tiles and a signed checkpoint,
  and the time to serve an inclusion proof (lookup and proofs, and the whole POST
  /<slug>/log/verify through the WSGI app).

Results go to bench/results/<date>.json; bench/report.py turns every results file
into the table and trend plot in docs/benchmarks.md.

Environment knobs (for quick trial runs): BENCH_ROWS (default 1000000),
BENCH_SECONDS (wrk duration, default 6), BENCH_ROUNDS (slices of each ratio step,
default 3), BENCH_PG_ADMIN_URL, BENCH_PG_DB, BENCH_REDIS_URL, BENCH_SKIP_PG=1.

Each ratio step (page GET, sign, confirm) runs in BENCH_ROUNDS slices, each between
two measures of the ceiling (`alternating`): the machine is shared, and its speed
drifts by a third within seconds, so a step compares like with like only against a
ceiling measured in the same seconds.

BENCH_ONLY=sign,confirm (any of page, sign, confirm, mail, scale_out, data, tlog; and
seal_sign, seal_export, seal_open, which bench/sealing.py runs after this) runs
the ceiling plus only those steps, on both databases, under the gunicorn settings of
BENCH_GUNICORN ("gthread,3,2"; default: the latest full run's choice, no calibration).
Its results go to $TMPDIR/bench-only-<date>.json and the report is left alone: a
partial run is for trying a change quickly, not for the trend. confirm confirms the
sign step's rows, so it needs sign.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import mail_flow  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

SLUG = "1988-massacre-inquiry"
CONTROL = "bench-control"  # a copy of the campaign with no signatures
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
SMALL_ROWS = min(100_000, ROWS)
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "campaign_bench_run")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
BUDGET_S = 560  # stop starting optional steps after this; the whole run must stay < 600 s
WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = BENCH / "wrk" / "bench.lua"
STARTED = time.monotonic()
RUN_ID = secrets.token_hex(3)
KEYS = {
    "SECRET_KEY": secrets.token_hex(16),
    "HASH_KEY": secrets.token_hex(16),
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}
# Candidate gunicorn settings: (worker class, workers, threads). The best GET rate
# on the app (SQLite) is used for every server in the run, the ceiling included.
# gthread 3 x 1 (one thread per process, keep-alive kept) was added when it measured
# best on this 2-core machine: fewer threads contend for each process's GIL.
CANDIDATES = [("gthread", 2, 4), ("gthread", 3, 2), ("gthread", 3, 1), ("sync", 3, 1)]
STEPS = ("page", "sign", "confirm", "mail", "scale_out", "data", "tlog")
SEALING_STEPS = ("seal_sign", "seal_export", "seal_open")  # bench/sealing.py's, after this
ONLY = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
if ONLY - set(STEPS) - set(SEALING_STEPS):
    sys.exit(
        f"BENCH_ONLY: unknown steps {sorted(ONLY - set(STEPS) - set(SEALING_STEPS))}; "
        f"known: {STEPS + SEALING_STEPS}"
    )
if ONLY & {"confirm", "mail"} and "sign" not in ONLY:
    sys.exit("BENCH_ONLY: confirm and mail need sign (they use the rows sign wrote)")


SIDE_CEILING = ""  # the ceiling server's URL while it is measured beside each step


def wanted(step: str) -> bool:
    return not ONLY or step in ONLY


def alternating(
    seconds: int, run_slice: Callable[[int, int], dict], *, warm_up: bool = False
) -> tuple[dict, dict, dict]:
    """A ratio step (page GET, sign, confirm) in ROUNDS slices of `seconds` / ROUNDS,
    each between two measures of the ceiling as long (ceiling, slice, ceiling, …,
    ceiling). `run_slice(i, slice_seconds)` runs slice i; with `warm_up`, slice ROUNDS
    runs first for 1 s, unmeasured (a fresh database's first writes grow its files).
    Returns the measured slices merged; what to keep beside the step's figures (the
    ceiling's mean rate over the same stretch, `ceiling_rps`, None without a ceiling,
    and each measure of it and of the step, in order); and every slice merged, the
    warm-up's included, for the checks (its answers must have their rows too)."""
    each = max(1, round(seconds / ROUNDS))
    warm = [run_slice(ROUNDS, 1)] if warm_up else []
    for thread in warm[0]["threads"] if warm else []:
        thread["warm_up"] = True  # its connections running out of tokens is no matter
    ceilings, slices = [], []
    for i in range(ROUNDS):
        if SIDE_CEILING:
            ceilings.append(wrk(SIDE_CEILING + "/", "get", seconds=each)["rps"])
        slices.append(run_slice(i, each))
    if SIDE_CEILING:
        ceilings.append(wrk(SIDE_CEILING + "/", "get", seconds=each)["rps"])
    kept = {
        "ceiling_rps": round(sum(ceilings) / len(ceilings), 1) if ceilings else None,
        "ceiling_slices_rps": [round(c, 1) for c in ceilings],
        "slices_rps": [round(r["rps"], 1) for r in slices],
    }
    if warm:
        kept["warm_up_rps"] = round(warm[0]["rps"], 1)
    return merged(slices), kept, merged(slices + warm)


def merged(results: list[dict]) -> dict:
    """wrk runs of one measure as one: counts and time summed, the rate over the whole,
    p50/p90/mean weighted by requests, p99 and max the worst slice's (conservative)."""
    requests = sum(r["requests"] for r in results)
    duration = sum(r["duration_s"] for r in results)
    out = {
        "requests": requests,
        "duration_s": duration,
        "rps": requests / duration if duration else 0.0,
        "p99_ms": max(r["p99_ms"] for r in results),
        "max_ms": max(r["max_ms"] for r in results),
        "errors": {k: sum(r["errors"][k] for r in results) for k in results[0]["errors"]},
        "threads": [t for r in results for t in r.get("threads", [])],
        "connections": results[0]["connections"],
        "slices": len(results),
    }
    for key in ("p50_ms", "p90_ms", "mean_ms"):
        out[key] = sum(r[key] * r["requests"] for r in results) / requests if requests else 0.0
    for key in ("ok", "other", "sent"):
        out[key] = sum(r.get(key, 0) for r in results)
    return out


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def elapsed() -> float:
    return time.monotonic() - STARTED


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- servers -------------------------------------------------------------------


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log_path: Path) -> None:
        self.process, self.url, self.log_path = process, url, log_path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        **KEYS,
        "DATABASE_URL": database_url,
        "RATELIMIT_ENABLED": "false",
        "MIN_FORM_SECONDS": "0",
        "SMTP_URL": "console",
        "LOG_LEVEL": "WARNING",
        "EMAIL_CHECK_DELIVERABILITY": "false",
        "REDIS_URL": "",
        "CONTENT_DIR": os.environ["CONTENT_DIR"],
    }
    env.update(extra)
    return env


def start_server(
    target: str,
    env: dict[str, str],
    settings: tuple[str, int, int],
    work: Path,
    health: str = "/healthz",
) -> Server:
    worker_class, workers, threads = settings
    port = free_port()
    log_path = work / f"gunicorn-{port}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "/dev/null",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--keep-alive",
        "5",
        "--log-level",
        "warning",
        "--preload",
        target,
    ]
    env = {**env, "BASE_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": f"{ROOT}:{BENCH}"}
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + health, timeout=3) as response:
                if response.status == 200:
                    # Warm every worker: imports, templates, the page cache.
                    for _ in range(workers * 4):
                        urllib.request.urlopen(
                            url + (f"/{SLUG}/" if "wsgi" in target else "/"), timeout=10
                        ).read()
                    return Server(process, url, log_path)
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server did not start: {log_path.read_text()[-3000:]}")


@contextmanager
def serving(target: str, env: dict[str, str], settings, work: Path, health: str = "/healthz"):
    server = start_server(target, env, settings, work, health)
    try:
        yield server
    finally:
        server.stop()


# --- load ----------------------------------------------------------------------


def wrk(
    url: str,
    mode: str,
    *,
    seconds: int = SECONDS,
    connections: int = 8,
    env: dict[str, str] | None = None,
) -> dict:
    """Run wrk with bench.lua; -t = -c, so each thread owns one connection."""
    command = [
        WRK,
        f"-t{connections}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        url,
    ]
    run_env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_THREADS": str(connections),
        "BENCH_RUN": RUN_ID,
        **(env or {}),
    }
    path = urllib.parse.urlsplit(url).path or "/"
    run_env.setdefault("BENCH_PATH", path)
    done = subprocess.run(
        command, env=run_env, capture_output=True, text=True, timeout=seconds + 60
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {done.stdout}\n{done.stderr}")
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["connections"] = connections
    for thread in result.get("threads", []):  # the sign emails' prefix, for the checks
        thread["prefix"] = run_env["BENCH_RUN"]
    return result


def summary(result: dict, rate_key: str = "rps") -> dict:
    """The figures kept in the results file for a wrk run."""
    keep = {k: result[k] for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "requests")}
    keep["errors"] = sum(result["errors"].values())
    keep["connections"] = result["connections"]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in keep.items()}


def visitor(base: str, path: str) -> dict[str, str]:
    """The sign form's `started` stamp, as a browser gets it. The public page sets no
    cookie and carries no CSRF token (docs/SECURITY.md, "Public forms"); wrk's POSTs
    send no Origin or Sec-Fetch-Site, like any non-browser client, and are accepted."""
    with urllib.request.urlopen(base + path, timeout=10) as response:
        html = response.read().decode()
        cookies = response.headers.get_all("Set-Cookie") or []
    cookie = "; ".join(c.split(";", 1)[0] for c in cookies)
    hidden = {}
    for tag in re.findall(r"<input[^>]*>", html):  # attribute order varies
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if 'type="hidden"' in tag and name and value:
            hidden[name.group(1)] = value.group(1)
    if not hidden.get("started"):
        raise RuntimeError("could not read the sign form's hidden fields")
    return {
        "BENCH_COOKIE": cookie,
        "BENCH_CSRF": hidden.get("csrf_token", ""),
        "BENCH_STARTED": hidden["started"],
    }


@contextmanager
def nginx_in_front(app_url: str, work: Path):
    """nginx with docs/deploy.md's configuration in front of `app_url` (or None if nginx
    is missing): the page through a real shared cache."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        yield None
        return
    block = re.search(r"```nginx\n(.*?)```", (ROOT / "docs" / "deploy.md").read_text(), re.S)
    tmp, port = work / "nginx", free_port()
    for name in ("logs", "client", "proxy", "cache"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    site = (
        block.group(1)
        .replace("/var/cache/nginx/petition", str(tmp / "cache"))
        .replace("server 127.0.0.1:8000;", f"server {app_url.split('//')[1]};")
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("/srv/petition/static/", f"{ROOT / 'static'}/")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/logs/error.log;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{ access_log off; "
        f"client_body_temp_path {tmp}/client; proxy_temp_path {tmp}/proxy;\n{site}\n}}\n"
    )
    process = subprocess.Popen(
        [binary, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


# --- the app in-process (migrations, checks, tokens, mail) ------------------------


def make_app(database_url: str, **overrides):
    from campaign import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": KEYS["SECRET_KEY"],
        "HASH_KEY": KEYS["HASH_KEY"],
        "ENCRYPTION_KEYS": [KEYS["ENCRYPTION_KEYS"]],
        "LOG_LEVEL": "WARNING",
        "EMAIL_CHECK_DELIVERABILITY": False,
        "RATELIMIT_ENABLED": False,
        "SMTP_URL": "console",
        "CONTENT_DIR": os.environ["CONTENT_DIR"],
        **overrides,
    }
    return create_app(config)


def prepare_database(database_url: str) -> int:
    """Migrate, create the campaign's row; returns the campaign id."""
    import logging

    from flask_migrate import upgrade

    from campaign.extensions import db
    from campaign.services.campaigns import sync_all

    app = make_app(database_url)
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade()
        rows = sync_all()
        campaign_id = next(r.id for r in rows if r.slug == SLUG)
        db.session.remove()
        db.engine.dispose()
    return campaign_id


def acknowledged_emails(result: dict) -> list[str]:
    """The emails whose sign POST got a 303, from wrk's per-thread counts.

    Each wrk thread has one connection, so its n-th response answers its n-th
    request, whose email is b-<run>-<thread>-<n> (<run>: its slice's prefix).
    """
    emails = []
    for thread in result["threads"]:
        prefix = thread["prefix"]
        failed = {int(item.split(":")[0]) for item in thread["failed"].split() if item}
        # wrk calls request() once on its first thread to verify the script before
        # the run, so that thread's n-th response answers its (n+1)-th email.
        shift = 1 if thread["id"] == 1 and thread["sent"] > thread["responses"] else 0
        for n in range(1, thread["responses"] + 1):
            if n not in failed:
                emails.append(f"b-{prefix}-{thread['id']}-{n + shift}@example.org")
    return emails


def check_signatures(database_url: str, result: dict, rows_before: int) -> dict:
    """Zero lost: every acknowledged email has its row."""
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.models import Signature
    from campaign.services.blind_index import dedup_key
    from campaign.services.validation import normalize_email

    time.sleep(1.0)  # requests wrk cut off at the end may still be committing
    app = make_app(database_url)
    with app.app_context():
        emails = acknowledged_emails(result)
        keys = [dedup_key(normalize_email(e).canonical) for e in emails]
        found = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found += db.session.scalar(
                select(func.count()).select_from(Signature).where(Signature.dedup_key.in_(chunk))
            )
        rows_after = db.session.scalar(select(func.count()).select_from(Signature))
        db.session.remove()
        db.engine.dispose()
    new_rows = rows_after - rows_before
    return {
        "acknowledged": len(emails),
        "acknowledged_with_row": found,
        "lost": len(emails) - found,
        "new_rows": new_rows,
        # Requests in flight when wrk stopped: committed, but their answer never read.
        "unacknowledged_rows": new_rows - found,
    }


def count_rows(database_url: str) -> int:
    from sqlalchemy import text

    from campaign.extensions import db

    app = make_app(database_url)
    with app.app_context():
        value = db.session.execute(text("SELECT count(*) FROM signatures")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    return value


def confirm_tokens(database_url: str, path: Path) -> int:
    """Confirm links for every pending signature, written one per line."""
    from sqlalchemy import select

    from campaign.extensions import db
    from campaign.models import Signature, SignatureStatus
    from campaign.services.links import make_token

    app = make_app(database_url)
    with app.app_context():
        pending = db.session.scalars(
            select(Signature)
            .where(Signature.status == SignatureStatus.PENDING)
            .order_by(Signature.id)
        ).all()
        tokens = [make_token(s, "confirm") for s in pending]
        db.session.remove()
        db.engine.dispose()
    path.write_text("\n".join(tokens) + "\n")
    return len(tokens)


def check_confirmations(database_url: str, result: dict, campaign_id: int) -> dict:
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.models import CountShard, Signature, SignatureStatus

    time.sleep(1.0)
    app = make_app(database_url)
    with app.app_context():
        confirmed = db.session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(Signature.status == SignatureStatus.CONFIRMED)
        )
        shards = db.session.scalar(
            select(func.sum(CountShard.confirmed)).where(CountShard.campaign_id == campaign_id)
        )
        db.session.remove()
        db.engine.dispose()
    exhausted = any(t["exhausted"] and not t.get("warm_up") for t in result["threads"])
    return {
        "acknowledged": result["ok"],
        "confirmed_rows": confirmed,
        "lost": max(0, result["ok"] - confirmed),
        "unacknowledged_rows": confirmed - result["ok"],
        "count_shards_sum": int(shards or 0),
        "tokens_exhausted": exhausted,
    }


# --- export ----------------------------------------------------------------------


TIME = "/usr/bin/time"


def run_measured(command: list[str], stdout_path: Path, env=None) -> tuple[float, float]:
    """Run a process; returns (seconds, its peak RSS in MB).

    Peak RSS comes from GNU time (`%M`): a child forked straight from this big
    process would report this process's RSS as its own high-water mark.
    """
    began = time.perf_counter()
    # Without GNU time (apt-get install time), peak RSS is reported as unknown.
    prefix = [TIME, "-f", "BENCH_RSS_KB=%M"] if Path(TIME).exists() else []
    with stdout_path.open("wb") as out:
        done = subprocess.run(
            [*prefix, *command], stdout=out, stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=400
        )
    took = time.perf_counter() - began
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {stderr[-2000:]}")
    match = re.search(r"BENCH_RSS_KB=(\d+)", stderr)
    return took, int(match.group(1)) / 1024 if match else float("nan")


def measure_export(database_url: str, campaign_id: int, rows: int, work: Path) -> dict:
    from export_csv import QUERY

    out = work / f"export-{rows}.csv"
    printed = work / "export-report.json"
    env = {**os.environ, **KEYS, "PYTHONPATH": str(ROOT)}
    took, rss = run_measured(
        [
            sys.executable,
            str(BENCH / "export_csv.py"),
            database_url,
            str(campaign_id),
            str(rows),
            str(out),
        ],
        printed,
        env=env,
    )
    ours = json.loads(printed.read_text().strip().splitlines()[-1])
    ours["process_seconds"] = round(took, 3)  # with interpreter start and imports
    ours["peak_rss_mb"] = round(rss, 1)
    query = QUERY.format(campaign_id=campaign_id, limit=rows)
    baseline_out = work / f"baseline-{rows}.csv"
    if database_url.startswith("sqlite"):
        db_path = database_url.removeprefix("sqlite:///")
        b_took, b_rss = run_measured(["sqlite3", "-csv", db_path, query], baseline_out)
        tool = "sqlite3 -csv"
    else:
        b_took, b_rss = run_measured(
            ["psql", "-q", database_url, "-c", f"\\copy ({query}) TO STDOUT WITH CSV"],
            baseline_out,
        )
        tool = "psql \\copy"
    baseline = {
        "tool": tool,
        "seconds": round(b_took, 3),
        "peak_rss_mb": round(b_rss, 1),
        "bytes": baseline_out.stat().st_size,
    }
    out.unlink(missing_ok=True)
    baseline_out.unlink(missing_ok=True)
    return {
        "rows": rows,
        "export": ours,
        "baseline": baseline,
        "time_ratio": round(ours["seconds"] / b_took, 2) if b_took else None,
        "process_time_ratio": round(took / b_took, 2) if b_took else None,
    }


def measure_delivery_pack(database_url: str, work: Path) -> dict:
    """The delivery pack (PDF) naming every seeded signer: bench/delivery_pack.py."""
    out, printed = work / "pack.pdf", work / "pack-report.json"
    env = {**os.environ, **KEYS, "PYTHONPATH": str(ROOT)}
    took, rss = run_measured(
        [
            sys.executable,
            str(BENCH / "delivery_pack.py"),
            database_url,
            SLUG,
            str(out),
            "--name-all",
        ],
        printed,
        env=env,
    )
    ours = json.loads(printed.read_text().strip().splitlines()[-1])
    ours["process_seconds"], ours["peak_rss_mb"] = round(took, 3), round(rss, 1)
    out.unlink(missing_ok=True)
    return ours


# --- one database ---------------------------------------------------------------------


def bench_database(
    name: str, database_url: str, settings, work: Path, results: dict, scale_out: bool
) -> int:
    """Page, sign, confirm and mail on an empty database; returns the campaign id."""
    campaign_id = prepare_database(database_url)
    out: dict = results.setdefault(name, {})
    env = app_env(database_url)
    page = f"/{SLUG}/"
    with serving("wsgi:app", env, settings, work) as server:
        if wanted("page"):
            log(f"{name}: latency at 0 signatures")
            out["latency_0"] = summary(wrk(server.url + page, "get", seconds=5, connections=1))
            log(f"{name}: campaign page GET")
            result, beside, _ = alternating(
                SECONDS, lambda _i, seconds: wrk(server.url + page, "get", seconds=seconds)
            )
            out["get"] = summary(result) | beside
            if name == "sqlite":  # the same page through nginx's cache (docs/deploy.md)
                with nginx_in_front(server.url, work) as cached:
                    if cached:
                        log(f"{name}: campaign page GET through nginx")
                        out["get_nginx"] = summary(wrk(cached + page, "get"))
            log(f"{name}: {out['get']['rps']} req/s")
        if wanted("sign"):
            bench_signing(name, database_url, campaign_id, server, work, out)

    if scale_out and wanted("scale_out"):
        out["scale_out"] = measure_scale_out(database_url, settings, work)
    return campaign_id


def bench_signing(
    name: str, database_url: str, campaign_id: int, server: Server, work: Path, out: dict
) -> None:
    """Sign POST; then (if wanted) mail delivery of its confirmation mails, and confirm
    POST of the rows it wrote, both checked. Mail goes first: a confirmed submission's
    mail is dropped unsent, and the worker, oldest first, would spend its time on those."""
    page = f"/{SLUG}/"
    log(f"{name}: sign POST")
    before = count_rows(database_url)
    form = visitor(server.url, page)
    prefixes = [f"{RUN_ID}{name[0]}{i}" for i in range(ROUNDS + 1)]  # each slice's emails

    def sign_slice(i: int, seconds: int) -> dict:
        env = {**form, "BENCH_RUN": prefixes[i]}
        return wrk(server.url + f"/{SLUG}/sign", "sign", seconds=seconds, env=env)

    result, beside, everything = alternating(SECONDS, sign_slice, warm_up=True)
    out["sign"] = summary(result) | beside
    out["sign"] |= {
        "signatures_per_s": round(result["ok"] / result["duration_s"], 1),
        "other_status": result["other"],
    }
    out["sign"]["check"] = check_signatures(database_url, everything, before)
    log(f"{name}: sign {out['sign']['signatures_per_s']}/s, check {out['sign']['check']}")
    if wanted("mail"):  # bench/mail_flow.py: one worker process beside the signing rate
        log(f"{name}: mail delivery (one worker process)")
        out["mail"] = mail_flow.measure_throughput(database_url, app_env(database_url), work)
        out["mail"]["signings_per_s"] = out["sign"]["signatures_per_s"]
        log(f"{name}: mail {out['mail']}")
        if name == "postgresql":
            log(f"{name}: time to inbox at {mail_flow.INBOX_RATE} signings/s")
            out["time_to_inbox"] = mail_flow.measure_time_to_inbox(
                server.url, SLUG, form, app_env(database_url), work, RUN_ID
            )
            log(f"{name}: time to inbox {out['time_to_inbox']}")
    if not wanted("confirm"):
        return
    log(f"{name}: confirm POST")
    tokens = work / f"tokens-{name}.txt"
    available = confirm_tokens(database_url, tokens)
    # Each slice its own share of the tokens (the sign run's rows), so none is sent
    # twice: a tenth for the warm-up (slice ROUNDS), the rest split between the others.
    lines = tokens.read_text().split()
    warm, lines = lines[: len(lines) // 10], lines[len(lines) // 10 :]
    shares = [lines[i::ROUNDS] for i in range(ROUNDS)] + [warm]
    for i, share in enumerate(shares):
        (work / f"tokens-{name}-{i}.txt").write_text("\n".join(share) + "\n")

    def confirm_slice(i: int, seconds: int) -> dict:
        env = {**form, "BENCH_TOKENS": str(work / f"tokens-{name}-{i}.txt")}
        return wrk(server.url + f"/{SLUG}/confirm/", "confirm", seconds=seconds, env=env)

    # Half the sign run: confirming is faster than signing, and its tokens must last.
    result, beside, everything = alternating(max(ROUNDS, SECONDS // 2), confirm_slice, warm_up=True)
    out["confirm"] = summary(result) | beside
    out["confirm"] |= {
        "confirmations_per_s": round(result["ok"] / result["duration_s"], 1),
        "other_status": result["other"],
        "tokens_available": available,
    }
    out["confirm"]["check"] = check_confirmations(database_url, everything, campaign_id)
    log(
        f"{name}: confirm {out['confirm']['confirmations_per_s']}/s, "
        f"check {out['confirm']['check']}"
    )


def bench_data(
    name: str, database_url: str, campaign_id: int, settings, work: Path, results: dict
) -> None:
    """Seed 100,000 then 1,000,000 rows: exports, and the page at that size."""
    out: dict = results[name]
    with serving("wsgi:app", app_env(database_url), settings, work) as server:
        seed_and_export(name, database_url, campaign_id, work, out)
        if out.get("seeded") == ROWS:
            log(f"{name}: page latency at {ROWS} signatures, beside an empty campaign")
            out.update(latency_at_scale(server.url))


def seed_and_export(name: str, database_url: str, campaign_id: int, work: Path, out: dict) -> None:
    import seed

    from campaign.extensions import db
    from campaign.services.crypto import seal_signer as encrypt

    app = make_app(database_url)
    seeded = 0
    for target in (SMALL_ROWS, ROWS):
        # Seeding and exporting 1M rows take longest. SQLite (the export target's
        # baseline) goes first and gets them; PostgreSQL gets what time is left,
        # judged from the 100,000-row export, so the suite stays under 10 minutes.
        if name == "postgresql" and target == SMALL_ROWS and elapsed() > BUDGET_S - 45:
            out.setdefault("skipped", []).append(f"seed/export of {target:,} rows (time budget)")
            break
        if target == ROWS and target != SMALL_ROWS:
            small = dig_export(out, SMALL_ROWS)
            seeding = 60 if name == "sqlite" else 100
            predicted = (small * ROWS / SMALL_ROWS if small else 120) + seeding
            # SQLite's 1M export is the target's measure: it may use the margin too.
            limit = BUDGET_S + (30 if name == "sqlite" else 0)
            if elapsed() + predicted > limit:
                out.setdefault("skipped", []).append(
                    f"seed and export of {target:,} rows: about {predicted:.0f} s needed, "
                    f"{max(0, BUDGET_S - elapsed()):.0f} s left in the time budget"
                )
                break
        log(f"{name}: seeding to {target:,} rows")
        with app.app_context():
            out.setdefault("seed", []).append(
                seed.seed(db, campaign_id, seeded, target - seeded, encrypt) | {"total": target}
            )
            db.session.remove()
            db.engine.dispose()
        seeded = out["seeded"] = target
        log(f"{name}: export of {target:,} rows")
        out.setdefault("export", {})[str(target)] = measure_export(
            database_url, campaign_id, target, work
        )
        log(f"{name}: export {out['export'][str(target)]}")
        if name == "sqlite" and target == SMALL_ROWS and elapsed() < BUDGET_S - 240:
            log(f"{name}: delivery pack naming {target:,} signers")
            out["delivery_pack"] = measure_delivery_pack(database_url, work)
            log(f"{name}: delivery pack {out['delivery_pack']}")


def dig_export(out: dict, rows: int) -> float | None:
    return out.get("export", {}).get(str(rows), {}).get("export", {}).get("seconds")


def latency_at_scale(url: str) -> dict:
    """Page latency with ROWS signatures, and of an empty campaign at the same time.

    The machine is shared, so the run at 0 signatures minutes earlier saw other
    load. The control campaign (a copy of the content with no signatures) is
    measured interleaved with the full one, in the order control, full, full,
    control, so a drift in the machine's speed weighs on both alike.
    """
    full, empty = [], []
    for campaign, runs in ((CONTROL, empty), (SLUG, full), (SLUG, full), (CONTROL, empty)):
        runs.append(wrk(f"{url}/{campaign}/", "get", seconds=3, connections=1))

    def averaged(runs: list[dict]) -> dict:
        return {
            "p50_ms": round(sum(r["p50_ms"] for r in runs) / len(runs), 3),
            "p99_ms": round(sum(r["p99_ms"] for r in runs) / len(runs), 3),
            "rps": round(sum(r["rps"] for r in runs) / len(runs), 1),
            "requests": sum(r["requests"] for r in runs),
            "errors": sum(sum(r["errors"].values()) for r in runs),
            "connections": 1,
        }

    return {
        "latency_full": averaged(full) | {"signatures": ROWS},
        "latency_control": averaged(empty) | {"signatures": 0},
    }


def measure_scale_out(database_url: str, settings, work: Path) -> dict:
    """Signing through one app instance, then two, sharing PostgreSQL and Redis.

    Rate limiting is on, with limits far above the load, so every request also
    takes its round trips to Redis, as a production deployment would.
    """
    env = app_env(
        database_url,
        REDIS_URL=REDIS_URL,
        RATELIMIT_ENABLED="true",
        RATELIMIT_SIGN="10000000 per minute",
        RATELIMIT_SIGN_PER_PETITION="10000000 per minute",
    )
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - report, don't fail the run
        return {"skipped": f"Redis unavailable: {exc}"}
    result: dict = {"redis": REDIS_URL.rsplit("@", 1)[-1], "gunicorn": list(settings)}
    page = f"/{SLUG}/"
    with serving("wsgi:app", env, settings, work) as one:
        log("scale-out: one instance")
        before = count_rows(database_url)
        form = visitor(one.url, page)
        run = wrk(one.url + f"/{SLUG}/sign", "sign", env={**form, "BENCH_RUN": f"{RUN_ID}o"})
        result["one"] = {
            "signatures_per_s": round(run["ok"] / run["duration_s"], 1),
            "p50_ms": run["p50_ms"],
            "p99_ms": run["p99_ms"],
            "errors": sum(run["errors"].values()) + run["other"],
        }
        result["one"]["check"] = check_signatures(database_url, run, before)
    with (
        serving("wsgi:app", env, settings, work) as first,
        serving("wsgi:app", env, settings, work) as second,
    ):
        log("scale-out: two instances")
        before = count_rows(database_url)
        runs = {}
        processes = []
        for label, server in (("a", first), ("b", second)):
            form = visitor(server.url, page)
            processes.append((label, server, form))
        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = {
                label: pool.submit(
                    wrk,
                    server.url + f"/{SLUG}/sign",
                    "sign",
                    connections=8,
                    env={**form, "BENCH_RUN": f"{RUN_ID}t{label}"},
                )
                for label, server, form in processes
            }
            runs = {label: future.result() for label, future in futures.items()}
        total = sum(r["ok"] / r["duration_s"] for r in runs.values())
        checks = [check_signatures(database_url, r, before) for r in runs.values()]
        result["two"] = {
            "signatures_per_s": round(total, 1),
            "per_instance": [round(r["ok"] / r["duration_s"], 1) for r in runs.values()],
            "p50_ms": max(r["p50_ms"] for r in runs.values()),
            "p99_ms": max(r["p99_ms"] for r in runs.values()),
            "errors": sum(sum(r["errors"].values()) + r["other"] for r in runs.values()),
            "lost": sum(c["lost"] for c in checks),
            "acknowledged": sum(c["acknowledged"] for c in checks),
        }
    log(f"scale-out: {result}")
    return result


# --- PostgreSQL database of our own ------------------------------------------------


def pg_url() -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{PG_DB}"


def pg_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def pg_create() -> bool:
    try:
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{PG_DB}"')
        return True
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for a local run
        log(f"PostgreSQL unavailable, skipping it: {exc}")
        return False


def pg_drop() -> None:
    try:
        pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001
        log(f"could not drop {PG_DB}: {exc}")


# --- main -------------------------------------------------------------------------


def calibrate(database_url: str, work: Path) -> tuple[tuple[str, int, int], list[dict]]:
    """Each candidate setting on SQLite: the campaign page GET, then the sign POST (after
    an unmeasured second); the best geometric mean of the two rates wins. Behind nginx
    (docs/deploy.md) the app serves the page only on a cache miss, and what it serves
    most is POSTs, so signing counts as much as the page."""
    prepare_database(database_url)
    # The database's files grow on its first writes: grown before any trial, so the
    # first candidate's signing is not measured on an empty file.
    with serving("wsgi:app", app_env(database_url), CANDIDATES[0], work) as server:
        env = {**visitor(server.url, f"/{SLUG}/"), "BENCH_RUN": f"{RUN_ID}cw"}
        wrk(server.url + f"/{SLUG}/sign", "sign", seconds=3, env=env)
    trials = []
    for settings in CANDIDATES:
        with serving("wsgi:app", app_env(database_url), settings, work) as server:
            result = summary(wrk(server.url + f"/{SLUG}/", "get", seconds=3))
            form = visitor(server.url, f"/{SLUG}/")
            label = "".join(str(x)[0] for x in settings)
            for seconds, run in ((1, "w"), (3, "m")):
                env = {**form, "BENCH_RUN": f"{RUN_ID}c{label}{run}"}
                signing = wrk(server.url + f"/{SLUG}/sign", "sign", seconds=seconds, env=env)
        sign_rps = signing["ok"] / signing["duration_s"]
        score = (result["rps"] * sign_rps) ** 0.5
        trials.append(
            {"settings": list(settings), **result}
            | {"sign_rps": round(sign_rps, 1), "score": round(score, 1)}
        )
        log(
            f"calibrate {settings}: page {result['rps']} req/s (p99 {result['p99_ms']} ms), "
            f"sign {sign_rps:.1f}/s, score {score:.1f}"
        )
    best = max(trials, key=lambda t: t.get("score", t["rps"]))
    return tuple(best["settings"]), trials


def chosen_settings() -> tuple[str, int, int]:
    """BENCH_GUNICORN, or the settings the latest full run calibrated."""
    if os.environ.get("BENCH_GUNICORN"):
        kind, workers, threads = os.environ["BENCH_GUNICORN"].split(",")
        return kind, int(workers), int(threads)
    for path in sorted((BENCH / "results").glob("*.json"), reverse=True):
        chosen = json.loads(path.read_text()).get("gunicorn", {}).get("chosen")
        if chosen:
            return tuple(chosen)
    return CANDIDATES[0]


def only_summary(results: dict) -> str:
    """A BENCH_ONLY run's figures as ratios against the ceiling, one line per measure."""
    first = results.get("ceiling", {}).get("get", {}).get("rps") or 0
    lines = [f"ceiling {first:.0f} req/s at the start, gunicorn {results['gunicorn']['chosen']}"]
    for name in ("sqlite", "postgresql"):
        for step, rate in (("sign", "signatures_per_s"), ("confirm", "confirmations_per_s")):
            got = results.get(name, {}).get(step)
            if got:
                check, ceiling = got["check"], got.get("ceiling_rps") or first
                lines.append(
                    f"{name:10} {step:7} {got[rate]:7.1f}/s  ceiling beside it {ceiling:6.0f}/s  "
                    f"ratio {got[rate] / ceiling:.3f}  "
                    f"p50 {got['p50_ms']:.1f} ms  p99 {got['p99_ms']:.1f} ms  "
                    f"errors {got['errors'] + got['other_status']}  lost {check['lost']}"
                    # A connection that used up its share of tokens stopped early.
                    + (
                        "  (a connection ran out of tokens)"
                        if check.get("tokens_exhausted")
                        else ""
                    )
                )
    tlog = results.get("tlog", {})
    if "proof_ms_median" in tlog:
        lines.append(
            f"tlog {tlog['adds']:,} adds: tiles + checkpoint {tlog['tiles_and_checkpoint_s']} s"
            f" (CPU {tlog['tiles_and_checkpoint_cpu_s']} s); proof p50 {tlog['proof_ms_median']}"
            f" ms, p95 {tlog['proof_ms_p95']} ms (CPU p95 {tlog['proof_cpu_ms_p95']} ms)"
        )
    for label, push in tlog.get("witness_push", {}).items():
        lines.append(
            f"witness push, {label}: sign p50/p95/max {push['sign_ms']}, confirm "
            f"{push['confirm_ms']}, {push['add_checkpoint_requests']} add-checkpoint requests"
        )
    return "\n".join(lines)


def make_content(work: Path) -> Path:
    """The project's content plus a control campaign: same page, its own count."""
    content = work / "content"
    shutil.copytree(ROOT / "content", content)
    control = content / CONTROL
    shutil.copytree(content / SLUG, control)
    meta = (control / "campaign.toml").read_text(encoding="utf-8")
    meta = meta.replace(f'slug = "{SLUG}"', f'slug = "{CONTROL}"')
    meta = meta.replace("home = true", "home = false")
    (control / "campaign.toml").write_text(meta, encoding="utf-8")
    return content


def machine() -> dict:
    info = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        out = subprocess.run(
            ["psql", PG_ADMIN_URL, "-tAc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        info["postgresql"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def main() -> int:
    if ONLY and not ONLY & set(STEPS):
        print("bench/run.py: BENCH_ONLY names only bench/sealing.py's steps; nothing to run here")
        return 0
    if not Path(WRK).exists():
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    os.environ.setdefault("INSTANCE_PATH", str(work / "instance"))
    os.environ["CONTENT_DIR"] = str(make_content(work))
    started_at = datetime.now(UTC)
    results: dict = {
        "date": started_at.isoformat(timespec="seconds"),
        "run": RUN_ID,
        "machine": machine(),
        "rows": ROWS,
        "wrk_seconds": SECONDS,
    }
    log(f"working in {work}")
    sqlite_url = f"sqlite:///{work / 'bench.db'}"
    calibration_url = f"sqlite:///{work / 'calibrate.db'}"
    use_pg = os.environ.get("BENCH_SKIP_PG") != "1" and pg_create()
    stack = ExitStack()
    try:
        if ONLY:
            settings = chosen_settings()
            prepare_database(calibration_url)
            results["gunicorn"] = {"chosen": list(settings), "only": sorted(ONLY)}
        else:
            settings, trials = calibrate(calibration_url, work)
            results["gunicorn"] = {"chosen": list(settings), "trials": trials}
        with serving("wsgi:app", app_env(calibration_url), settings, work) as probe:
            page_bytes = len(urllib.request.urlopen(probe.url + f"/{SLUG}/", timeout=10).read())
        results["page_bytes"] = page_bytes
        log("ceiling: fixed page GET")
        ceiling_env = {**os.environ, "CEILING_PAGE_BYTES": str(page_bytes)}
        ceiling = stack.enter_context(serving("ceiling_app:app", ceiling_env, settings, work))
        results["ceiling"] = {"get": summary(wrk(ceiling.url + "/", "get"))}
        results["ceiling"]["latency"] = summary(
            wrk(ceiling.url + "/", "get", seconds=4, connections=1)
        )
        log(f"ceiling: {results['ceiling']['get']['rps']} req/s")
        global SIDE_CEILING  # kept running: each ratio step is measured beside its own
        SIDE_CEILING = ceiling.url
        # Request benchmarks on both databases first, then the big data sets: SQLite's
        # 1M-row export (the export target's baseline) before PostgreSQL's, which gets
        # what remains of the time budget.
        sqlite_id = bench_database("sqlite", sqlite_url, settings, work, results, scale_out=False)
        pg_id = None
        if use_pg:
            pg_id = bench_database("postgresql", pg_url(), settings, work, results, scale_out=True)
        else:
            results["postgresql"] = {"skipped": "PostgreSQL unavailable or BENCH_SKIP_PG=1"}
        SIDE_CEILING = ""
        ceiling.stop()  # the data steps have no ceiling ratio
        if wanted("data"):
            bench_data("sqlite", sqlite_url, sqlite_id, settings, work, results)
            if pg_id is not None:
                bench_data("postgresql", pg_url(), pg_id, settings, work, results)
        if (
            wanted("tlog") and elapsed() < BUDGET_S - 120
        ):  # bench/tlog.py: the transparency log at ROWS adds
            import tlog as tlog_bench

            log(f"transparency log: {ROWS} adds → tiles, checkpoint, proofs")
            results["tlog"] = tlog_bench.measure(f"sqlite:///{work / 'tlog.db'}", ROWS)
            log(f"transparency log: {results['tlog']}")
        if wanted("tlog") and elapsed() < BUDGET_S - 60:  # bench/tlog_push.py
            import tlog_push as push_bench

            log("witness push: sign + confirm with 3 slow witnesses vs none")
            results.setdefault("tlog", {})["witness_push"] = push_bench.measure(work)
            log(f"witness push: {results['tlog']['witness_push']}")
    finally:
        stack.close()
        if use_pg:
            pg_drop()
        results["elapsed_s"] = round(elapsed(), 1)
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results_dir = Path(tempfile.gettempdir()) if ONLY else BENCH / "results"
        results_dir.mkdir(exist_ok=True)
        stamp = started_at.strftime("%Y-%m-%d-%H%M")
        path = results_dir / (f"bench-only-{stamp}.json" if ONLY else f"{stamp}.json")
        path.write_text(json.dumps(results, indent=2) + "\n")
        log(f"results in {path}")
        shutil.rmtree(work, ignore_errors=True)
    if ONLY:
        print(only_summary(results))
        return 0
    import report

    report.main()
    log(f"done in {elapsed():.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
