"""Start-up rules for the organizers' key (issue 23): production seals to it, and no
private organizer key may sit where the app can read it.

Production is REQUIRE_SECRETS=1, or an https BASE_URL without ALLOW_DEV_SECRETS (the
rule `ensure_secrets` uses). There the app refuses to start without a valid
ORGANIZER_PUBLIC_KEY, and refuses to start if it can read a private organizer key: in
the environment, in the instance folder, the project folder or the working directory.
Elsewhere (`make run`, which makes a development pair in instance/) it warns.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask

from .config import PROJECT_ROOT
from .services.sealing import organizer_key

log = logging.getLogger("campaign")
PRIVATE_MARKERS = (b"BEGIN PRIVATE KEY", b"BEGIN ENCRYPTED PRIVATE KEY")
# Settings someone might paste a private key into by mistake.
PRIVATE_SETTINGS = ("ORGANIZER_PRIVATE_KEY", "ORGANIZER_PUBLIC_KEY")


class OrganizerKeyUnsafe(RuntimeError):
    """Production settings that would let a copy of the server read signers."""


def is_production(app: Flask) -> bool:
    required = os.environ.get("REQUIRE_SECRETS", "").lower() in {"1", "true", "yes"}
    https = app.config["BASE_URL"].startswith("https://")
    return required or (https and not app.config.get("ALLOW_DEV_SECRETS"))


def readable_private_keys(app: Flask) -> list[str]:
    """Where this process can read a private organizer key (file paths or settings)."""
    found = []
    for name in PRIVATE_SETTINGS:
        value = str(app.config.get(name) or os.environ.get(name) or "")
        if any(marker.decode() in value for marker in PRIVATE_MARKERS):
            found.append(f"setting {name}")
    folders = {Path(app.instance_path), PROJECT_ROOT, Path.cwd()}
    for folder in sorted(folders):
        for path in sorted(folder.glob("*organizer*")) if folder.is_dir() else ():
            if path.is_file() and os.access(path, os.R_OK) and _holds_private_key(path):
                found.append(str(path))
    return found


def _holds_private_key(path: Path) -> bool:
    try:
        head = path.read_bytes()[:65536]
    except OSError:
        return False
    return any(marker in head for marker in PRIVATE_MARKERS)


def check(app: Flask) -> None:
    """Refuse production without the public key or with a readable private key."""
    text = app.config.get("ORGANIZER_PUBLIC_KEY", "")
    production = is_production(app)
    readable = readable_private_keys(app)
    if text:
        try:
            organizer_key.parse_public(text)
        except organizer_key.OrganizerKeyError as exc:
            raise OrganizerKeyUnsafe(str(exc)) from exc
    if production and not text:
        raise OrganizerKeyUnsafe(
            "ORGANIZER_PUBLIC_KEY is not set: signers' names would stay readable to "
            "whoever copies the server (flask keys organizer-keygen, docs/organizers.md)"
        )
    if production and readable:
        raise OrganizerKeyUnsafe(
            "a private organizer key is readable by the app ("
            + ", ".join(readable)
            + "): it must stay off the server (docs/organizers.md)"
        )
    if readable:
        log.warning(
            "DEVELOPMENT ORGANIZER KEY readable by the app (%s): signers' names are not "
            "protected from a copy of this host",
            ", ".join(readable),
        )
    elif not text and not app.config.get("TESTING"):
        log.warning(
            "ORGANIZER_PUBLIC_KEY is not set: confirmed signers' names stay readable to the server"
        )
