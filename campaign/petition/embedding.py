"""CSRF protection for the sign form when it is embedded in a partner's iframe.

The normal form uses Flask-WTF's token, which lives in the session cookie. That
cookie is SameSite=Lax, and browsers do not send Lax cookies with a POST made from
a cross-site iframe, so the session token can never match there. The embed form
therefore carries its own token instead:

* signed with SECRET_KEY (itsdangerous), so it cannot be forged;
* bound to the campaign slug and to the form's `started` stamp, so a token lifted
  from one form does not validate another campaign's or another rendering's post;
* short-lived (EMBED_TOKEN_SECONDS, two hours by default).

It needs no cookie at all, so it works in any browser's iframe on any origin. What
CSRF protects here is the integrity of the count (no blind cross-site posting
without first loading our form); the signer still has to confirm by email, and the
abuse checks (rate limits, honeypot, timing) apply to embed posts like any other.
A post without a valid embed token falls back to the session token, so a forged
post is refused either way.
"""

from __future__ import annotations

import hashlib

from flask import current_app, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import csrf

FIELD = "embed_token"
DEFAULT_MAX_AGE = 2 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="embed-sign-form")


def _bind(started: str | None) -> str:
    return hashlib.sha256((started or "").encode()).hexdigest()[:16]


def make_token(slug: str, started: str) -> str:
    return _serializer().dumps({"slug": slug, "form": _bind(started)})


def token_is_valid(token: str, slug: str, started: str | None) -> bool:
    max_age = current_app.config.get("EMBED_TOKEN_SECONDS", DEFAULT_MAX_AGE)
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return False
    return (
        isinstance(data, dict) and data.get("slug") == slug and data.get("form") == _bind(started)
    )


class EmbedTokenInvalid(CSRFError):
    """A bad embed token: answered inside the iframe, not with a page that refuses framing."""


def check_sign_csrf(slug: str) -> bool:
    """Validate the sign POST's CSRF token; True if it came from the embed form.

    Raises CSRFError (answered with a 400 page) when neither token is valid.
    """
    token = request.form.get(FIELD)
    config = current_app.config
    if not config.get("WTF_CSRF_ENABLED", True):  # switched off (e.g. load tests)
        return token is not None
    if token is None:
        # The page's own form: the session token, as CSRFProtect checks it elsewhere.
        if config.get("WTF_CSRF_CHECK_DEFAULT", True):
            csrf.protect()
        return False
    if not token_is_valid(token, slug, request.form.get("started")):
        raise EmbedTokenInvalid(
            _("This form expired or came from another site. Please reload it and try again.")
        )
    return True
