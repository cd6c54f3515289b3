"""Answer a valid sign POST from the page's own form before Flask does any work.

Signing is the busiest POST, and Flask's own request handling (request and response
objects, the hooks, the session) cost about as much as recording the submission.
This WSGI middleware takes a sign POST that the Flask view would answer with "check
your inbox" and answers it itself, through the same two calls the view makes
(`forms.read_sign_form`, then `petition.submit.accept` and `submit.leave_note`), in an
application context only: no request context, no session, no Babel negotiation
beyond `i18n.choose_language`, the hardening headers prepared once
(`security.hardening`).

Everything else goes on to Flask, untouched (the body is handed on): another
method or path, a body that isn't a small UTF-8 urlencoded form, the embed form (its
token is the view's job), a cross-site POST (`security.cross_site_reason`, the rule
the view's hook applies), an unknown or closed petition, a refused field, and any
error. Nothing is written before the last of those checks, so a request passed on is
handled once. The one exception: an error raised by `accept` itself (the database
gone, say) after the abuse check has counted the attempt against the rate limits;
the view then counts it again, records it if it can, or answers with the error page.
"""

from __future__ import annotations

import io
import logging
import re
from urllib.parse import parse_qsl

from flask import Flask
from werkzeug.datastructures import EnvironHeaders, MultiDict
from werkzeug.http import parse_cookie
from werkzeug.sansio.utils import get_host
from werkzeug.utils import redirect

from . import i18n, security
from .petition import embedding, submit
from .petition.forms import read_sign_form
from .services.content import library

log = logging.getLogger(__name__)
SIGN_PATH = re.compile(r"/([a-z0-9][a-z0-9-]{0,79})/sign")
MAX_BODY = 16 * 1024  # a sign form is well under 2 KB; a bigger body goes to Flask


class SignMiddleware:
    def __init__(self, wsgi_app, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.wsgi_app(environ, start_response)
        match = SIGN_PATH.fullmatch(environ.get("PATH_INFO", ""))
        length = environ.get("CONTENT_LENGTH", "")
        if (
            match is None
            or environ.get("QUERY_STRING")
            or not length.isdigit()
            or int(length) > MAX_BODY
            or environ.get("CONTENT_TYPE", "").split(";")[0].strip()
            != "application/x-www-form-urlencoded"
        ):
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(int(length))
        environ["wsgi.input"] = io.BytesIO(body)  # for Flask, if it is passed on
        response = self.answer(environ, match.group(1), body)
        if response is None:
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def answer(self, environ: dict, slug: str, body: bytes):
        """The 303 the view would send, or None to pass the request on to Flask."""
        try:
            form = MultiDict(parse_qsl(body.decode(), keep_blank_values=True, errors="strict"))
        except (UnicodeDecodeError, ValueError):
            return None
        if embedding.FIELD in form or self.cross_site(environ):
            return None
        config = self.app.config
        headers = EnvironHeaders(environ)
        with self.app.app_context():
            content = library().get(slug)
            if content is None or not content.accepts_signatures:
                return None
            cookies = _cookies(headers)
            language, chosen = i18n.choose_language(
                config["LANGUAGES"],
                environ.get("campaign.url_language"),
                None,  # no query string here (checked above)
                cookies.get(i18n.COOKIE),
                headers.get("Accept-Language", ""),
            )
            submission = read_sign_form(form)
            if submission.errors:
                return None
            try:
                outcome = submit.accept(
                    content, submission, language=language, ip=environ.get("REMOTE_ADDR")
                )
            except Exception:  # noqa: BLE001 - the view answers it, with its error pages
                log.warning("sign fast path passed a failed submission on", exc_info=True)
                return None
            secure = environ.get("wsgi.url_scheme") == "https"
            location = f"{environ.get('SCRIPT_NAME', '')}/{slug}/check-inbox"
            response = redirect(location, 303)
            submit.leave_note(
                response,
                slug,
                form.get("email", ""),
                outcome.signature_id if outcome else None,
                secure=config["SESSION_COOKIE_SECURE"],
            )
            i18n.remember_choice(response, chosen, cookies.get(i18n.COOKIE))
            security.add_missing(
                response.headers, security.hardening(self.app, framing=False, secure=secure)
            )
            response.headers["Vary"] = "Accept-Language, Cookie"  # as i18n's hook sets
            return response

    def cross_site(self, environ: dict) -> bool:
        def origins() -> set[str]:
            scheme = environ.get("wsgi.url_scheme", "http")
            server = (environ.get("SERVER_NAME", ""), environ.get("SERVER_PORT"))
            host = get_host(scheme, environ.get("HTTP_HOST"), server)
            return security.trusted_origins(f"{scheme}://{host}/", self.app.config["BASE_URL"])

        headers = EnvironHeaders(environ)
        return security.cross_site_reason("POST", headers, origins, secret_url=False) is not None


def _cookies(headers: EnvironHeaders) -> dict[str, str]:
    raw = headers.get("Cookie", "")
    return parse_cookie(raw) if raw else {}
