"""The ceiling: a minimal Flask app that returns a fixed page.

Served by the same gunicorn settings as the real app, it shows what this machine,
Python, Flask and gunicorn can do at best; every figure in docs/benchmarks.md is a
ratio against it. The page is padded to CEILING_PAGE_BYTES (the bench passes the
campaign page's size), so both move the same bytes.
"""

from __future__ import annotations

import os

from flask import Flask

SIZE = int(os.environ.get("CEILING_PAGE_BYTES", "2048"))
HEAD = "<!doctype html><html lang=en><head><meta charset=utf-8><title>Ceiling</title></head><body>"
TAIL = "</body></html>"
PAGE = HEAD + "<p>" + "x" * max(0, SIZE - len(HEAD) - len(TAIL) - 7) + "</p>" + TAIL

app = Flask(__name__)


@app.get("/")
def page() -> tuple[str, int, dict[str, str]]:
    return PAGE, 200, {"Content-Type": "text/html; charset=utf-8"}


@app.get("/healthz")
def healthz() -> str:
    return "ok"
