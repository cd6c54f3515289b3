"""The campaign and petition service: `create_app()` builds the Flask app.

Its packages and top-level modules are LAYERS, bottom first: each imports only those
before it, and inside every package no two parts import each other
(tests/test_import_structure.py). docs/architecture.md draws the map.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from pathlib import Path

from dotenv import load_dotenv
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from werkzeug.middleware.proxy_fix import ProxyFix

from . import i18n, organizer_guard
from . import production as production_checks
from .admin import bp as admin_bp
from .api import bp as api_bp
from .api import pages_bp as api_pages_bp
from .cli.commands import register_commands
from .config import INSTANCE_DIR, PROJECT_ROOT, Config
from .database import db_connections, sqlite_wal
from .extensions import csrf, db, limiter, login_manager, migrate
from .petition import bp as petition_bp
from .petition.signing import post_fastpath
from .services.letters import updates
from .services.pages import page_cache
from .services.pages.content import ContentLibrary
from .services.sealing.crypto import generate_key
from .services.signatures import signer_batch
from .services.signer_data import consents
from .web import app_wide, client_address, page_fastpath, security, signer_links

LAYERS = (
    "production",  # what production refuses (no campaign import)
    "config",  # every setting, read from the environment
    "extensions",  # db, migrate, csrf, babel, login_manager, limiter
    "database",  # below the ORM: checked connections, DBAPI statements, SQLite's log
    "models",  # the tables
    "i18n",  # languages, numbers, text direction
    "services",  # the domain logic, no HTTP (its own LAYERS inside)
    "organizer_guard",  # start-up rules for the organizers' key
    "web",  # the HTTP frame: error pages, headers, signer links, the page fast path
    "api",  # the read-only JSON API
    "petition",  # the public blueprint
    "admin",  # the organizers' blueprint
    "cli",  # the flask commands
)

log = logging.getLogger("campaign")
SECRET_NAMES = ("SECRET_KEY", "HASH_KEY", "ENCRYPTION_KEYS")


def create_app(overrides: dict | None = None) -> Flask:
    load_dotenv(PROJECT_ROOT / ".env")
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(Config().as_dict())
    if overrides:
        app.config.from_mapping(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)
    ensure_secrets(app)
    organizer_guard.check(app)  # issue 23: the organizers' key (OrganizerKeyUnsafe)
    configure_database(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)

    app.extensions["campaign.content"] = ContentLibrary(
        Path(app.config["CONTENT_DIR"]), organizer_contact=app.config["ORGANIZER_CONTACT"]
    )
    ensure_real_contacts(app)
    i18n.init_app(app)
    security.init_app(app)
    signer_links.init_app(app)  # the `token` converter, before the routes
    app_wide.init_app(app)
    # Every template that lists consents reads the one registry (services/signer_data/consents.py).
    app.jinja_env.globals["consent_registry"] = consents.all_consents

    app.register_blueprint(api_bp, url_prefix="/api/v1")
    app.register_blueprint(api_pages_bp)  # the human page at /api
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(petition_bp)

    # The mail worker expands published updates into outbox rows (services/outbox/mail_worker.py).
    app.extensions["campaign.outbox_preparers"] = [updates.expand_published]
    # It decides a batch's new submissions in one transaction (services/signatures/signer_batch.py).
    app.extensions["campaign.outbox_deciders"] = {"confirm": signer_batch.decide}

    register_commands(app)

    # Innermost: they see the request as Flask will (proxy headers applied, language
    # prefix moved to SCRIPT_NAME), and answer cached public pages and valid sign
    # POSTs themselves (page_fastpath.py, post_fastpath.py).
    app.wsgi_app = post_fastpath.PublicPostMiddleware(app.wsgi_app, app)
    app.wsgi_app = page_fastpath.PublicPageMiddleware(app.wsgi_app, page_cache.responses(app))
    app.session_interface = page_fastpath.SessionInterface()
    if app.config["TRUSTED_CLIENT_IP_HEADER"]:  # a CDN's visitor header (inside ProxyFix)
        app.wsgi_app = client_address.TrustedClientHeader(app.wsgi_app, app.config)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.wsgi_app = i18n.LanguagePrefixMiddleware(app.wsgi_app, app.config["LANGUAGES"])
    # Outermost: every answer under a signer's link, redirects and fast paths included.
    app.wsgi_app = signer_links.SignerLinkHeaders(app.wsgi_app, app)
    return app


def configure_logging(app: Flask) -> None:
    """Log to stdout, as containers and process managers expect."""
    root = logging.getLogger()
    if not any(getattr(h, "_campaign", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._campaign = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])


class UnsafeSettings(RuntimeError):
    """Production settings that would put signers at risk: refuse to start."""


def ensure_secrets(app: Flask) -> None:
    """Refuse unsafe production settings; outside production, make development keys.

    Production is a BASE_URL with https (or `REQUIRE_SECRETS=1`): there the three
    keys must come from the environment, and mail can't go to the console, unless
    `ALLOW_DEV_SECRETS=1` (a staging site). A key generated per host would differ
    between instances: each would refuse the others' links and dedup differently,
    and losing the host would lose every signer's data.

    Elsewhere (`make run` on http://127.0.0.1) missing keys are generated once into
    `instance/dev-secrets.json`, and every start logs a warning while they are used.
    """
    config = app.config
    missing = [name for name in SECRET_NAMES if not config.get(name)]
    production = production_checks.is_https(config["BASE_URL"])  # HTTPS:// too (L5)
    guarded = production_checks.is_production(config)
    if missing and guarded:
        raise UnsafeSettings(
            f"missing required settings: {', '.join(missing)} "
            "(set them, or ALLOW_DEV_SECRETS=1 for a test site)"
        )
    weak = production_checks.weak_keys(config)
    if weak and guarded:
        raise UnsafeSettings(
            "; ".join(weak) + " (make one with `flask keys generate` or "
            "`python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    if production and not config.get("ALLOW_DEV_SECRETS") and config["SMTP_URL"] == "console":
        raise UnsafeSettings(
            "SMTP_URL=console with an https BASE_URL: signers would get "
            "no mail (set SMTP_URL, or ALLOW_DEV_SECRETS=1 for a test site)"
        )
    if not missing:
        return
    path = Path(app.instance_path) / "dev-secrets.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    if not stored:
        stored = {
            "SECRET_KEY": secrets.token_hex(32),
            "HASH_KEY": secrets.token_hex(32),
            "ENCRYPTION_KEYS": [generate_key()],
        }
        path.write_text(json.dumps(stored))
        path.chmod(0o600)
    for name in missing:
        config[name] = stored[name]
    # Every start, not only the first: a forgotten setting must stay visible.
    log.warning(
        "DEVELOPMENT KEYS in use for %s (from %s, this host only): set them in "
        "the environment before real signers use this site",
        ", ".join(missing),
        path,
    )


def ensure_real_contacts(app: Flask) -> None:
    """Production refuses a campaign whose footer and privacy page would give signers
    a placeholder contact (`contact@petition.invalid`): they could not reach anyone."""
    if not production_checks.is_production(app.config):
        return
    problems = production_checks.contact_problems(app.extensions["campaign.content"].all())
    if problems:
        raise UnsafeSettings("; ".join(problems))


def configure_database(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri.removeprefix("postgres://")
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    # A database error's message must not carry the bound values into the log: they
    # include link secrets, signer copies and pending names (docs/SECURITY.md).
    options.setdefault("hide_parameters", True)
    if uri.startswith("postgresql"):
        options.setdefault("pool_size", app.config["DB_POOL_SIZE"])
        options.setdefault("max_overflow", app.config["DB_POOL_SIZE"])
        options.setdefault("connect_args", {"connect_timeout": 5})
    else:
        options.setdefault("connect_args", {"timeout": 15})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, record) -> None:
    """SQLite: WAL so readers never block the writer, and wait rather than fail on locks;
    the log is checkpointed off the request path (sqlite_wal.py)."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        sqlite_wal.configure(dbapi_connection, record.info)


@event.listens_for(Pool, "checkout")
def _checked_out(dbapi_connection, record, _proxy) -> None:
    db_connections.on_checkout(dbapi_connection, record.info)  # PostgreSQL: replace a dead one
    sqlite_wal.used(record.info)


@event.listens_for(Pool, "checkin")
def _checked_in(_dbapi_connection, record) -> None:
    db_connections.on_checkin(record.info)
