"""Configuration: one class, read from the environment (and `.env`, loaded by `create_app`).

Every setting here is listed in the README's configuration table.
"""

from __future__ import annotations

import os
from pathlib import Path

from .production import is_https

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", PROJECT_ROOT / "instance"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


class Config:
    """Settings as instance attributes, read from the environment in `__init__`.

    `create_app()` loads `.env`, then builds one `Config()` and copies it into
    `app.config` (`as_dict()`), so each app reads the environment as it is when the
    app is created, not when this module is imported (only INSTANCE_PATH, above, is
    read at import). Tests pass overrides to `create_app()` rather than editing the
    environment.
    """

    def __init__(self) -> None:
        # Read the environment when an app is created, not at import time, so `.env`
        # and tests that set variables take effect.
        self.SECRET_KEY = os.environ.get("SECRET_KEY", "")
        self.ENCRYPTION_KEYS = env_list("ENCRYPTION_KEYS")
        self.HASH_KEY = os.environ.get("HASH_KEY", "")
        # A test or staging site on https may run with development keys and console
        # mail; production refuses both (create_app's ensure_secrets).
        self.ALLOW_DEV_SECRETS = env_bool("ALLOW_DEV_SECRETS", False)
        # Production without an https BASE_URL (behind a TLS proxy that rewrites it).
        self.REQUIRE_SECRETS = env_bool("REQUIRE_SECRETS", False)
        # The organizers' public key (`flask keys organizer-keygen`): confirmed signers'
        # names, emails and comments are sealed to it; its private half stays offline.
        self.ORGANIZER_PUBLIC_KEY = os.environ.get("ORGANIZER_PUBLIC_KEY", "")

        self.SQLALCHEMY_DATABASE_URI = os.environ.get(
            "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'campaign.db'}"
        )
        self.DB_POOL_SIZE = env_int("DB_POOL_SIZE", 5)
        self.BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/")
        self.SMTP_URL = os.environ.get("SMTP_URL", "console")
        self.MAIL_FROM = os.environ.get("MAIL_FROM", "Petition <no-reply@localhost>")
        # The mail worker's threads, each with one SMTP connection: what the relay allows.
        self.MAIL_SMTP_CONNECTIONS = env_int("MAIL_SMTP_CONNECTIONS", 8)
        # `flask mail work` forks this many processes, each with those threads (the GIL
        # binds one process to a core's worth of rendering): services/outbox/mail_processes.py.
        self.MAIL_WORKER_PROCESSES = env_int("MAIL_WORKER_PROCESSES", 2)
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.CONTENT_DIR = os.environ.get("CONTENT_DIR", str(PROJECT_ROOT / "content"))
        # The organizers' address for this deployment: it replaces every campaign.toml's
        # `organizer_contact` (footer, /privacy, paper sheets, the pack's sender).
        self.ORGANIZER_CONTACT = os.environ.get("ORGANIZER_CONTACT", "").strip()
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

        # Signing
        self.EMAIL_CHECK_DELIVERABILITY = env_bool("EMAIL_CHECK_DELIVERABILITY", False)
        self.EMAIL_DNS_TIMEOUT = float(os.environ.get("EMAIL_DNS_TIMEOUT", "3"))
        self.FOLD_EMAIL_ALIASES = env_bool("FOLD_EMAIL_ALIASES", False)
        self.CONFIRM_REMINDER_HOURS = env_int("CONFIRM_REMINDER_HOURS", 48)
        self.CONFIRM_EXPIRY_DAYS = env_int("CONFIRM_EXPIRY_DAYS", 7)
        self.ALREADY_SIGNED_MAIL_LIMIT = env_int("ALREADY_SIGNED_MAIL_LIMIT", 3)
        # The extra-mail cap counts per window of this many hours, never for life.
        self.EXTRA_MAIL_WINDOW_HOURS = env_int("EXTRA_MAIL_WINDOW_HOURS", 24)
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 64 * 1024)
        self.COUNT_CACHE_SECONDS = env_int("COUNT_CACHE_SECONDS", 2)
        # Rendered campaign pages, per process (services/pages/page_cache.py); 0 turns it off.
        self.PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 10)
        self.PAGE_STALE_SECONDS = env_int("PAGE_STALE_SECONDS", 30)

        # Privacy
        self.IP_HASH_RETENTION_DAYS = env_int("IP_HASH_RETENTION_DAYS", 7)
        self.ANONYMIZE_AFTER_CLOSE_DAYS = env_int("ANONYMIZE_AFTER_CLOSE_DAYS", 90)
        # A closed campaign's dedup keys and other blind indexes are deleted this many
        # days after it closes (`flask campaign purge-indexes`; docs/SECURITY.md).
        self.BLIND_INDEX_RETENTION_DAYS = env_int("BLIND_INDEX_RETENTION_DAYS", 30)
        # The API's per-country counts and daily history describe midnight UTC this
        # many days ago, so they can't be differenced against the live count.
        self.PUBLIC_STATS_DELAY_DAYS = env_int("PUBLIC_STATS_DELAY_DAYS", 1)

        # Abuse resistance
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_SIGN = os.environ.get("RATELIMIT_SIGN", "5 per minute;30 per hour")
        self.RATELIMIT_SIGN_PER_PETITION = os.environ.get(
            "RATELIMIT_SIGN_PER_PETITION", "6000 per minute"
        )
        self.RATELIMIT_CONFIRM = os.environ.get("RATELIMIT_CONFIRM", "20 per minute")
        self.RATELIMIT_RESEND = os.environ.get("RATELIMIT_RESEND", "3 per minute;20 per hour")
        self.RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10 per minute;50 per hour")
        self.RATELIMIT_API = os.environ.get("RATELIMIT_API", "120 per minute")
        self.API_CACHE_SECONDS = env_int("API_CACHE_SECONDS", 30)
        self.EMBED_TOKEN_SECONDS = env_int("EMBED_TOKEN_SECONDS", 30 * 60)
        self.MIN_FORM_SECONDS = env_int("MIN_FORM_SECONDS", 3)
        self.BLOCKED_EMAIL_DOMAINS = env_list("BLOCKED_EMAIL_DOMAINS")
        self.ALLOWED_EMAIL_DOMAINS = env_list("ALLOWED_EMAIL_DOMAINS")
        self.BLOCK_DISPOSABLE_EMAIL = env_bool("BLOCK_DISPOSABLE_EMAIL", True)
        self.BLOCKED_IP_RANGES = env_list("BLOCKED_IP_RANGES")
        self.BLOCKED_EMAILS = env_list("BLOCKED_EMAILS")

        # Transparency log (services/log/transparency.py): the Ed25519 key that signs its
        # checkpoints (base64 seed; dev: instance/tlog-signing.key), the origin's host
        # (default: BASE_URL's), and how often a grown log gets a new checkpoint.
        self.TLOG_SIGNING_KEY = os.environ.get("TLOG_SIGNING_KEY", "")
        self.TLOG_ORIGIN = os.environ.get("TLOG_ORIGIN", "")
        self.TLOG_CHECKPOINT_SECONDS = env_int("TLOG_CHECKPOINT_SECONDS", 60)
        # Witnesses the log pushes each checkpoint to (C2SP tlog-witness): one per line
        # (or ';'), "<submission URL prefix> <vkey>"; a checkpoint is published once
        # TLOG_WITNESS_THRESHOLD of them cosigned it (services/log/tlog_push.py).
        self.TLOG_WITNESSES = os.environ.get("TLOG_WITNESSES", "")
        self.TLOG_WITNESS_THRESHOLD = env_int("TLOG_WITNESS_THRESHOLD", 0)
        self.TLOG_WITNESS_TIMEOUT = env_int("TLOG_WITNESS_TIMEOUT", 5)

        # Admin
        self.SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
        self.ADMIN_REQUIRE_2FA = env_bool("ADMIN_REQUIRE_2FA", False)
        self.LOGIN_LOCK_AFTER = env_int("LOGIN_LOCK_AFTER", 5)
        self.LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 15)

        # Transport
        self.TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)
        # Behind a CDN: its header naming the visitor, believed only from its ranges
        # through the trusted hops (campaign/web/client_address.py).
        self.TRUSTED_CLIENT_IP_HEADER = os.environ.get("TRUSTED_CLIENT_IP_HEADER", "").strip()
        self.TRUSTED_CLIENT_IP_FROM = env_list("TRUSTED_CLIENT_IP_FROM")
        self.EMBED_ALLOWED_ORIGINS = env_list("EMBED_ALLOWED_ORIGINS", "*")
        self.LANGUAGES = ["en", "fa", "fr"]

        # Flask and extension settings derived from the above.
        # No pool_pre_ping: db_connections.py checks each checkout without a round trip.
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {}
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = is_https(self.BASE_URL)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.PREFERRED_URL_SCHEME = "https" if self.SESSION_COOKIE_SECURE else "http"
        self.WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
        self.BABEL_DEFAULT_LOCALE = "en"
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        # Namespaces every limit key, so sites (or test runs) sharing a Redis don't collide.
        self.RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "campaign")
        # If Redis is down, serve without limits (logged) rather than refuse every signer.
        self.RATELIMIT_SWALLOW_ERRORS = env_bool("RATELIMIT_SWALLOW_ERRORS", True)
        self.RATELIMIT_HEADERS_ENABLED = True

    def as_dict(self) -> dict:
        """Every setting, for `app.config.from_mapping`."""
        return dict(vars(self))
