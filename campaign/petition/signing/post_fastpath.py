"""Answer the two busiest public POSTs, sign and confirm, before Flask does any work.

Flask's own request handling (request and response objects, the hooks, the session)
cost about as much as recording a signature. This WSGI middleware takes a sign or
confirm POST whose answer is the usual 303 and gives it itself, through the same
calls the views make, in an application context only: no request context, no
session, no Babel negotiation beyond `i18n.choose_language`, the hardening headers
prepared once (`security.hardening`).

* **Sign** (`/<slug>/sign`): `forms.read_sign_form`, then `petition.submit.accept`
  and `submit.leave_note`, as `routes.sign`.
* **Confirm** (`/<slug>/confirm/<token>`): the rate limit (`abuse.confirm_limited`),
  then `confirmation.confirm` with the consent boxes the POST carries
  (`consents.ticked`, read from the body the view would read), as `routes.confirm`.
  Anything but "confirmed" is handed to the view to render
  (`submit.CONFIRM_HANDOFF`: the state and the signature's id), since confirming
  may have changed something.

Everything else goes on to Flask, untouched (the body is handed on): another method
or path, a query string, a body that isn't a small UTF-8 urlencoded form, the embed
form (its token is the view's job), a cross-site POST (`security.cross_site_reason`,
the rule the view's hook applies), an unknown or closed petition, a refused field,
a client over the confirm limit, and any error. Nothing is written before those
checks, so a request passed on is handled once; docs/SECURITY.md says what an error
raised after the abuse check means.
"""

from __future__ import annotations

import io
import logging
import re
from contextlib import AbstractContextManager, nullcontext
from urllib.parse import parse_qsl

from flask import Flask, current_app, has_app_context
from markupsafe import escape
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import parse_cookie
from werkzeug.sansio.utils import get_host

from ... import i18n
from ...services.intake import abuse
from ...services.pages.content import library
from ...services.signatures import confirmation
from ...services.signer_data import consents
from ...web import client_address, security
from ...web.app_wide import discard_session
from ..forms import read_sign_form
from ..reach import embedding
from . import submit

log = logging.getLogger(__name__)
SIGN = re.compile(r"/([a-z0-9][a-z0-9-]{0,79})/sign")
CONFIRM = re.compile(r"/([a-z0-9][a-z0-9-]{0,79})/confirm/([0-9]+-[0-9a-zA-Z_-]+)")
MAX_BODY = 16 * 1024  # a sign form is well under 2 KB; a bigger body goes to Flask
URLENCODED = "application/x-www-form-urlencoded"
Answer = tuple[str, list[tuple[str, str]]]  # a 303's Location, and its other headers


class PublicPostMiddleware:
    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("QUERY_STRING"):
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        answer = None
        if match := SIGN.fullmatch(path):
            body = self.small_form(environ)
            if body is not None:
                answer = self.sign(environ, match.group(1), body)
        elif match := CONFIRM.fullmatch(path):
            form = self.confirm_form(environ)
            if form is not None:
                answer = self.confirm(environ, match.group(1), match.group(2), form)
        if answer is None:
            return self.wsgi_app(environ, start_response)
        location, headers = answer
        body = redirect_body(location)
        start_response(
            "303 SEE OTHER",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Location", location),
                *headers,
            ],
        )
        return [body]

    @staticmethod
    def small_form(environ: dict) -> bytes | None:
        """The body of a small urlencoded form (then kept for Flask too), else None."""
        length = environ.get("CONTENT_LENGTH", "")
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip()
        if not length.isdigit() or int(length) > MAX_BODY or content_type != URLENCODED:
            return None
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # for Flask, if it is passed on
        return body

    def confirm_form(self, environ: dict) -> dict[str, str] | None:
        """A confirm POST's fields (the owner's consent boxes): none for an empty body,
        else a small urlencoded form's; None to leave it to Flask."""
        if environ.get("CONTENT_LENGTH", "") in ("", "0") and not environ.get(
            "HTTP_TRANSFER_ENCODING"
        ):
            return {}  # no body: no box ticked, as request.form reads it
        body = self.small_form(environ)
        return None if body is None else form_fields(body)

    def sign(self, environ: dict, slug: str, body: bytes) -> Answer | None:
        """Where `routes.sign` would redirect, with its headers; None to pass it on."""
        form = form_fields(body)
        if form is None:
            return None
        if embedding.FIELD in form or self.cross_site(environ, secret_url=False):
            return None
        with self.app_context():
            content = library().get(slug)
            if content is None or not content.accepts_signatures:
                return None
            cookies = _cookies(environ)
            language, chosen = self.language(environ, cookies)
            submission = read_sign_form(form)
            if submission.errors:
                return None
            try:
                outcome = submit.accept(
                    content, submission, language=language, ip=client_address.of(environ)
                )
            except Exception:  # noqa: BLE001 - the view answers it, with its error pages
                log.warning("sign fast path passed a failed submission on", exc_info=True)
                discard_session()
                return None
            signature_id = outcome.signature_id if outcome else None
            secure = self.app.config["SESSION_COOKIE_SECURE"]
            email = form.get("email", "")
            note = ("Set-Cookie", submit.note_cookie(slug, email, signature_id, secure=secure))
            headers = [note, *self.common_headers(environ, cookies, chosen)]
            return f"{environ.get('SCRIPT_NAME', '')}/{slug}/check-inbox", headers

    def confirm(self, environ: dict, slug: str, token: str, form: dict) -> Answer | None:
        """Where `routes.confirm` would redirect, with its headers; None to pass it on (with the
        result in `submit.CONFIRM_HANDOFF` when confirming ran but did not confirm)."""
        if self.cross_site(environ, secret_url=True):
            return None
        with self.app_context():
            content = library().get(slug)
            if content is None or abuse.confirm_limited(client_address.of(environ)):
                return None  # over the limit: the view counts it again and answers 429
            try:
                result = confirmation.confirm(content, token, consents.ticked(form))
            except Exception:  # noqa: BLE001 - the view answers it, with its error pages
                log.warning("confirm fast path passed a failed confirm on", exc_info=True)
                discard_session()
                return None
            if result.state != "confirmed":
                shown = result.signature.id if result.signature is not None else None
                environ[submit.CONFIRM_HANDOFF] = confirmation.ConfirmResult(
                    result.state, signature_id=shown
                )
                return None
            cookies = _cookies(environ)
            _language, chosen = self.language(environ, cookies)
            headers = self.common_headers(environ, cookies, chosen)
            return f"{environ.get('SCRIPT_NAME', '')}/{slug}/confirm/{token}", headers

    def app_context(self) -> AbstractContextManager:
        """A new application context, or the active one if it is this app's (as Flask's
        request context does: a test holding one sees what the fast path changed)."""
        if has_app_context() and current_app._get_current_object() is self.app:
            return nullcontext()
        return self.app.app_context()

    def language(self, environ: dict, cookies: dict) -> tuple[str, str | None]:
        return i18n.choose_language(
            self.app.config["LANGUAGES"],
            environ.get("campaign.url_language"),
            None,  # no query string here (checked above)
            cookies.get(i18n.COOKIE),
            environ.get("HTTP_ACCEPT_LANGUAGE", ""),
        )

    def common_headers(
        self, environ: dict, cookies: dict, chosen: str | None
    ) -> list[tuple[str, str]]:
        """What the app's after-request hooks add: the language cookie, the hardening
        headers, Vary."""
        headers = []
        secure = self.app.config["SESSION_COOKIE_SECURE"]
        kept = i18n.language_cookie(chosen, cookies.get(i18n.COOKIE), secure=secure)
        if kept:
            headers.append(("Set-Cookie", kept))
        https = environ.get("wsgi.url_scheme") == "https"
        # On a signer's link, signer_links.SignerLinkHeaders (outside) sets no-store
        # and no-referrer over these, as on every answer there.
        headers += security.hardening(self.app, framing=False, secure=https)
        headers.append(("Vary", "Accept-Language, Cookie"))  # as i18n's hook sets
        return headers

    def cross_site(self, environ: dict, *, secret_url: bool) -> bool:
        def origins() -> set[str]:
            scheme = environ.get("wsgi.url_scheme", "http")
            server = (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT"))
            host = get_host(scheme, environ.get("HTTP_HOST"), server)
            return security.trusted_origins(f"{scheme}://{host}/", self.app.config["BASE_URL"])

        headers = EnvironHeaders(environ)
        reason = security.cross_site_reason("POST", headers, origins, secret_url=secret_url)
        return reason is not None


def form_fields(body: bytes) -> dict[str, str] | None:
    """A urlencoded body's fields, the first value of each (as request.form.get gives),
    in a plain dict (a MultiDict raises for each absent field); None if malformed."""
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for name, value in pairs:
        form.setdefault(name, value)
    return form


def redirect_body(location: str) -> bytes:
    """The body of werkzeug's redirect (what the views send), for a 303 to `location`."""
    shown = escape(location)
    return (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target "
        f'URL: <a href="{shown}">{shown}</a>. If not, click the link.\n'
    ).encode()


def _cookies(environ: dict) -> dict[str, str]:
    raw = environ.get("HTTP_COOKIE", "")
    return parse_cookie(raw) if raw else {}
