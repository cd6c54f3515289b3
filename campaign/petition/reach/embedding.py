"""The embed form's own token, for the sign form inside a partner's iframe.

Public forms are protected from cross-site posting by the origin check
(security.refuse_cross_site); a POST from our iframe is same-origin, so it passes
that too. The embed form additionally carries a token, which is:

* signed with SECRET_KEY (itsdangerous), so it cannot be forged;
* bound to the campaign slug and to the form's `started` stamp, so a token lifted
  from one form does not validate another campaign's or another rendering's post;
* short-lived (EMBED_TOKEN_SECONDS, 30 minutes by default: long enough to fill
  the form, not a bearer pass for an afternoon);
* single-use: the first post that presents it spends it (in the rate-limit
  storage, Redis when REDIS_URL is set, so every instance sees it), and a second
  post with the same token is refused. A form shown again after an error gets a
  new token.

It needs no cookie at all, so it works in any browser's iframe on any origin.
"""

from __future__ import annotations

import hashlib
import logging
import secrets

from flask import current_app, request
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from werkzeug.exceptions import BadRequest

from ...services.pages import cache

log = logging.getLogger(__name__)
FIELD = "embed_token"
DEFAULT_MAX_AGE = 30 * 60


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="embed-sign-form")


def _bind(started: str | None) -> str:
    return hashlib.sha256((started or "").encode()).hexdigest()[:16]


def make_token(slug: str, started: str) -> str:
    # A random part: a form shown again within the same second gets a token of its own.
    return _serializer().dumps({"slug": slug, "form": _bind(started), "n": secrets.token_hex(4)})


def token_is_valid(token: str, slug: str, started: str | None) -> bool:
    try:
        data = _serializer().loads(token, max_age=max_age())
    except (BadSignature, SignatureExpired):
        return False
    return (
        isinstance(data, dict) and data.get("slug") == slug and data.get("form") == _bind(started)
    )


def max_age() -> int:
    return current_app.config.get("EMBED_TOKEN_SECONDS", DEFAULT_MAX_AGE)


def spend(token: str) -> bool:
    """Mark the token used; False if it already was (within its lifetime)."""
    key = hashlib.sha256(token.encode()).hexdigest()[:32]
    return cache.once("embed-token", key, max_age() + 60)


class EmbedTokenInvalid(BadRequest):
    """A bad embed token (not the admin's session CSRF): a 400 that the petition
    blueprint's handler (embed.bad_embed_token) answers inside the iframe."""


def check_embed_token(slug: str) -> bool:
    """True if the sign POST came from the embed form, whose token must be valid and
    unspent; raises EmbedTokenInvalid otherwise. The page's own form has no token."""
    token = request.form.get(FIELD)
    if token is None:
        return False
    if not current_app.config.get("WTF_CSRF_ENABLED", True):  # switched off (e.g. load tests)
        return True
    if not token_is_valid(token, slug, request.form.get("started")) or not spend(token):
        raise EmbedTokenInvalid(
            _("This form expired or came from another site. Please reload it and try again.")
        )
    return True
