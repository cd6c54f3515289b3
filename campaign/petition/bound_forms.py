"""Public POSTs, and what a forged one could do (issue 21, S3).

The public forms carry no session token; cross-site posts are refused by where the
browser says they came from (`security.refuse_cross_site`). A browser too old to say
(no `Sec-Fetch-Site`, `Origin` or `Referer`) is believed, so a POST that acts on
something the browser holds must carry more: a token bound to what it holds, which
a page of ours put in the form and another site can't compute (double submit: an
HMAC under SECRET_KEY of the cookie's value, compared with the field).

Every public POST route is in exactly one of the two tables below, and
tests/petition/test_bound_forms.py walks the URL map to keep it so: a new POST
route fails that test until it is classified. docs/SECURITY.md ("Forged posts from
old browsers") says, for each route in `UNBOUND`, why a forged post gains an
attacker nothing that posting it themselves would not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import abort, current_app, request
from flask_babel import gettext as _

from ..services.signatures import inbox

FIELD = "bound"
# The embed's check-inbox forms carry the sealed check-inbox note in this field, since a
# partner's iframe gets no cookie of ours (issue 24, item 9); without the cookie, the
# bound token is bound to it instead.
NOTE_FIELD = "note"

# Endpoint → the cookie it acts on: "send it again" and "wrong address?" act on the
# check-inbox note this browser got when it signed.
BOUND = {
    "petition.resend": inbox.NOTE_COOKIE,
    "petition.correct_email": inbox.NOTE_COOKIE,
}

# Endpoint → why a forged post gains nothing (in full in docs/SECURITY.md).
UNBOUND = {
    "petition.sign": "acts on the typed fields; the attacker could sign the same",
    "petition.confirm": "the token is in the URL: a forger holds the link",
    "petition.discard": "the token is in the URL: a forger holds the link",
    "petition.withdraw": "the token is in the URL: a forger holds the link",
    "petition.unsubscribe": "the token is in the URL: a forger holds the link",
    "petition.withdraw_consent": "the token is in the URL: a forger holds the link",
    "petition.paper_confirm": "the token is in the URL: a forger holds the link",
    "petition.paper_not_me": "the token is in the URL: a forger holds the link",
    "petition.log_verify": "checks the receipt typed into it; answers the browser",
    "petition.log_cosignature": "a witness's signed note, checked against its key",
    "petition.mail_links_again": "mails the typed address its own links",
}


def token_for(cookie_name: str, cookie_value: str) -> str:
    """The form token bound to this value of the cookie (an empty one if absent)."""
    key = current_app.config["SECRET_KEY"].encode()
    message = f"bound-form|{cookie_name}|{cookie_value}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def bound_value(cookie: str) -> str:
    """What the token is bound to: the browser's cookie, or, for a browser that holds
    none (a partner's iframe), the sealed note its form carries. A forger can only
    supply a note sealed for their own submission, never the visitor's."""
    return request.cookies.get(cookie) or request.form.get(NOTE_FIELD, "")


def bound_field(endpoint: str, note: str | None = None) -> str:
    """For templates: the token a form posting to `endpoint` carries in `FIELD` (bound
    to `note` when the form carries the note itself, in the embed)."""
    cookie = BOUND[endpoint]
    return token_for(cookie, request.cookies.get(cookie) or note or "")


def require_bound_token() -> None:
    """A before_request hook: a POST to a bound endpoint without the token bound to
    the browser's cookie is refused before the view runs (nothing is written)."""
    cookie = BOUND.get(request.endpoint or "")
    if request.method != "POST" or cookie is None:
        return
    expected = token_for(cookie, bound_value(cookie))
    if not hmac.compare_digest(request.form.get(FIELD, ""), expected):
        abort(
            403,
            description=_(
                "Your form expired or came from another site. Please go back, reload the "
                "page and try again."
            ),
        )
