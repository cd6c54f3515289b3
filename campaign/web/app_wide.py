"""App-wide pages and helpers: error pages, /healthz, fingerprinted static URLs."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from contextlib import suppress
from functools import cache
from pathlib import Path

import psycopg
from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from ..extensions import db

log = logging.getLogger(__name__)

# "The database can't answer now", whoever raised it: SQLAlchemy (a Connection, the
# pool's checkout or its queue), or a driver called directly (a DBAPI cursor, a pool
# that failed to connect raises the driver's own class). Each is answered 503.
UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # the pool had no connection to give in time
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


def discard_session() -> None:
    """Roll back what this request's session began; if its connection died with the
    database, drop it instead (the pool replaces that connection). Never raises: it
    runs while an answer is being given."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - a dead connection: nothing left to roll back
        end_session_quietly()


def end_session_quietly() -> None:
    """End this context's session; if its connection died (the rollback that closing
    does fails), invalidate it and forget the session. The database has rolled back
    whatever was uncommitted, and what was committed stays: the answer stands."""
    try:
        db.session.remove()
    except Exception:  # noqa: BLE001 - logged; the answer was decided before this
        log.warning("closing a request's session failed; its connection is dropped", exc_info=True)
        with suppress(Exception):
            db.session.invalidate()
        db.session.registry.clear()


ERROR_TITLES = {
    400: _l("That request didn't make sense"),
    403: _l("You don't have access to this page"),
    404: _l("Page not found"),
    405: _l("That method isn't allowed here"),
    410: _l("This link has expired"),
    413: _l("That was too much data"),
    422: _l("Please check the form"),
    429: _l("Too many requests"),
    500: _l("Something went wrong"),
    503: _l("The service is briefly unavailable"),
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str | None = None, headers: dict | None = None):
    title = str(ERROR_TITLES.get(status, _("Error")))
    if wants_json():
        response = jsonify(error={"status": status, "title": title, "message": message or title})
    else:
        response = current_app.make_response(
            render_template("errors/error.html", status=status, title=title, message=message)
        )
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """A static file's URL with a content hash, so it can be cached for a year."""
    folder = Path(current_app.static_folder)
    path = folder / filename
    version = _file_digest(str(path)) if path.is_file() else "0"
    root = request.environ.get("campaign.original_script_name", "") if request else ""
    return f"{root}/static/{filename}?v={version}"


def init_app(app: Flask) -> None:
    app.jinja_env.globals["asset_url"] = asset_url
    app.config.setdefault("SEND_FILE_MAX_AGE_DEFAULT", 0)

    @app.after_request
    def static_caching(response):
        if request.endpoint == "static" and request.args.get("v"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    # Teardowns run in reverse order: this one before Flask-SQLAlchemy's (registered by
    # db.init_app, earlier), which then finds no session. A rollback that fails on a
    # connection the database killed would otherwise escape after the answer was
    # built, and a committed signature would be answered 500.
    app.teardown_appcontext(lambda _error: end_session_quietly())

    @app.get("/healthz")
    def healthz():
        try:
            db.session.execute(text("SELECT 1"))
        except (SQLAlchemyError, *UNAVAILABLE) as exc:
            discard_session()
            body = jsonify(status="error", database=f"unavailable: {type(exc).__name__}")
            return body, 503, {"Retry-After": "30"}
        return jsonify(status="ok", database="ok")

    @app.errorhandler(CSRFError)
    def csrf_error(error):  # the admin's forms: the public ones carry no session token
        return error_response(
            400,
            _(
                "Your form expired or came from another site. Please go back, reload the "
                "page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        headers = {}
        if error.code == 405 and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        if error.code == 429:
            headers["Retry-After"] = "60"
        description = None if error.code in (404, 405) else error.description
        return error_response(error.code or 500, description, headers)

    def database_unavailable(error):
        log.error("database unavailable: %s", error)
        discard_session()
        return error_response(
            503,
            _(
                "We can't reach our database right now. Nothing was saved; please try "
                "again in a minute."
            ),
            {"Retry-After": "30"},
        )

    for unavailable in UNAVAILABLE:
        app.register_error_handler(unavailable, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        log.exception("unhandled error")
        discard_session()
        return error_response(500)
