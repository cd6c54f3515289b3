"""The transparency log's signing key and names: operator-managed like the other keys
(TLOG_SIGNING_KEY, or instance/tlog-signing.key for development, made by
`flask count keygen`), and each campaign's checkpoint origin and verifier key."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from ..verifier import tlog_note

log = logging.getLogger(__name__)
KEY_FILE = "tlog-signing.key"


# --- keys ---------------------------------------------------------------------


def generate_key() -> str:
    return base64.b64encode(Ed25519PrivateKey.generate().private_bytes_raw()).decode()


def signing_key() -> Ed25519PrivateKey:
    """TLOG_SIGNING_KEY (base64 seed), else instance/tlog-signing.key (dev: made once)."""
    encoded = current_app.config.get("TLOG_SIGNING_KEY") or ""
    path = Path(current_app.instance_path) / KEY_FILE
    if not encoded and path.exists():
        encoded = path.read_text().strip()
    if not encoded:
        if current_app.config.get("REQUIRE_SECRETS"):
            raise RuntimeError("missing required setting: TLOG_SIGNING_KEY")
        encoded = write_key_file()
        log.warning("generated a development log signing key in %s", path)
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(encoded))


def write_key_file(overwrite: bool = False) -> str:
    path = Path(current_app.instance_path) / KEY_FILE
    if path.exists() and not overwrite:
        return path.read_text().strip()
    encoded = generate_key()
    path.write_text(encoded + "\n")
    path.chmod(0o600)
    return encoded


def origin(slug: str) -> str:
    """The checkpoint origin: the log's URL prefix without its scheme."""
    host = current_app.config.get("TLOG_ORIGIN") or urlsplit(current_app.config["BASE_URL"]).netloc
    return f"{host.rstrip('/')}/{slug}/log"


def verifier_key(slug: str) -> str:
    public = signing_key().public_key().public_bytes_raw()
    return tlog_note.verifier_key(origin(slug), public)
