"""The nginx configuration in docs/deploy.md, run for real in front of gunicorn.

It shows that the campaign page is served from nginx's cache (the app sees one GET
however many visitors ask), static files come from disk, and a sign POST still
reaches the app and records a signature.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Signature
from tests.helpers import ROOT, SLUG, free_port, hidden_fields, require

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def documented_config() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(
        r"<!-- nginx-config:start -->\n```nginx\n(.*?)```\n<!-- nginx-config:end -->", text, re.S
    )
    assert block, "docs/deploy.md lost its nginx block"
    return block.group(1)


def start_nginx(tmp: Path, app_port: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    site = (
        documented_config()
        .replace("/var/cache/nginx/petition", str(tmp / "cache"))
        .replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};")
        .replace("listen 80;", f"listen 127.0.0.1:{port};")
        .replace("/srv/petition/static/", f"{ROOT / 'static'}/")
    )
    for name in ("logs", "client", "proxy", "cache"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(f"""{user}worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/logs/access.log;
    client_body_temp_path {tmp}/client;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/proxy;
    scgi_temp_path {tmp}/proxy;
    types {{ text/css css; application/javascript js; image/png png; image/svg+xml svg; }}
{site}
}}
""")
    process = subprocess.Popen(
        [NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).close()
            return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode()) from None
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("nginx did not start")


def get(url: str, **headers: str):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def app_requests(log: Path, pattern: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if pattern in line)


def test_nginx_serves_repeat_gets_from_its_cache_and_passes_posts(live_server, tmp_path, app):
    require(Path(NGINX).exists(), "nginx is not installed (apt-get install nginx-light)")
    access = tmp_path / "gunicorn-access.log"
    server = live_server(COUNT_CACHE_SECONDS=60, TRUSTED_PROXIES=1, GUNICORN_ACCESSLOG=str(access))
    app_port = int(server.url.rsplit(":", 1)[1])
    nginx, port = start_nginx(tmp_path / "nginx", app_port)
    base = f"http://127.0.0.1:{port}"
    try:
        page = f"{base}/fa/{SLUG}/"
        statuses = []
        for _ in range(6):
            status, headers, body = get(page)
            assert status == 200 and "Set-Cookie" not in headers
            statuses.append(headers["X-Cache-Status"])
        assert statuses[0] in ("MISS", "EXPIRED") and set(statuses[1:]) == {"HIT"}
        time.sleep(0.5)  # gunicorn writes its access log line after the response
        assert app_requests(access, f'"GET /fa/{SLUG}/ ') == 1  # the app saw one GET

        # Static files come from disk, never from the app.
        css = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]+)"', body.decode()).group(1)
        status, headers, _ = get(base + css)
        assert status == 200 and "immutable" in headers["Cache-Control"]
        assert app_requests(access, "/static/") == 0

        # A sign POST (same-origin, as a browser sends it) reaches the app.
        fields = hidden_fields(body.decode()) | {
            "name": "Shirin Ebadi",
            "email": "nginx@example.org",
            "country": "DE",
        }
        request = urllib.request.Request(
            f"{base}/fa/{SLUG}/sign",
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Origin": base, "Sec-Fetch-Site": "same-origin"},
            method="POST",
        )
        opener = urllib.request.build_opener(NoRedirect)
        with opener.open(request, timeout=10) as response:
            assert response.status == 303
        time.sleep(0.5)
        assert app_requests(access, f'"POST /fa/{SLUG}/sign ') == 1
        db.session.rollback()
        assert db.session.scalar(select(func.count(Signature.id))) == 1

        # A cross-site POST also reaches the app, which refuses it.
        request.headers = {}
        request.add_header("Origin", "https://evil.example")
        try:
            opener.open(request, timeout=10)
            raise AssertionError("cross-site POST accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 403
    finally:
        nginx.terminate()
        nginx.wait(10)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

    def http_error_303(self, req, fp, code, msg, headers):
        return fp
