"""Rate limits of the public views, read from the config at request time."""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request
from flask_limiter.util import get_remote_address


def config_limit(name: str) -> Callable[[], str]:
    """A Flask-Limiter limit read from the config at request time."""
    return lambda: current_app.config[name]


def ip_and_petition() -> str:
    """One rate-limit bucket per client address and petition."""
    return f"{get_remote_address()}/{(request.view_args or {}).get('slug', '')}"
