"""The processes the bench measures and measures with: gunicorn servers of the app or
the ceiling, wrk and its figures, nginx in front (docs/deploy.md's configuration), and
the PostgreSQL database of the bench's own."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nginx_tail

from suite.knobs import (
    BENCH,
    KEYS,
    LUA,
    ORGANIZER_PUBLIC_KEY,
    PG_ADMIN_URL,
    PG_DB,
    ROOT,
    RUN_ID,
    SECONDS,
    SLUG,
    WRK,
    log,
)


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
    """The app's settings for the servers and the mail worker: sealed like production."""
    env = {
        **os.environ,
        **KEYS,
        "ORGANIZER_PUBLIC_KEY": ORGANIZER_PUBLIC_KEY,
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
        f"events {{ worker_connections 1024; }}\nhttp {{ {nginx_tail.LOG_FORMAT} "
        f"{nginx_tail.access_log(tmp / 'logs')} "
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
