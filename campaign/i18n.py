"""Languages: English, Persian (right to left) and French.

The language comes from the URL prefix (`/fa/…`), then `?lang=`, then the
`lang` cookie, then Accept-Language. A prefix is moved into SCRIPT_NAME by
`LanguagePrefixMiddleware`, so every `url_for` link on a Persian page stays Persian.
"""

from __future__ import annotations

from babel import Locale
from babel.numbers import format_decimal
from flask import Flask, Response, current_app, request
from flask_babel import format_date, format_datetime, get_locale, refresh
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import dump_cookie, parse_accept_header

from .extensions import babel

RTL_LANGUAGES = {"fa", "ar", "he", "ur"}
LANGUAGE_NAMES = {"en": "English", "fa": "فارسی", "fr": "Français"}
COOKIE = "lang"
# Persian digits, and the Arabic thousands separator (U+066C) the case itself uses:
# Babel's fa locale gives ASCII commas, which read as foreign between Persian digits.
PERSIAN_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹\u066c")


class LanguagePrefixMiddleware:
    def __init__(self, app, languages: list[str]) -> None:
        self.app = app
        self.languages = languages

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for language in self.languages:
            prefix = f"/{language}"
            if path == prefix or path.startswith(prefix + "/"):
                environ["campaign.url_language"] = language
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix) :] or "/"
                break
        return self.app(environ, start_response)


def url_language() -> str | None:
    return request.environ.get("campaign.url_language")


def choose_language(
    supported: list[str],
    url_prefix: str | None,
    asked: str | None,
    cookie: str | None,
    accept_language: str,
) -> tuple[str, str | None]:
    """The page's language, and the one the visitor chose (URL prefix or ?lang=) if any.

    In order: the URL's prefix or ?lang=, the `lang` cookie, the Accept-Language
    header's best match, the first supported language.
    """
    chosen = url_prefix or asked
    if chosen in supported:
        return chosen, chosen
    if cookie in supported:
        return cookie, None
    accepted = parse_accept_header(accept_language, LanguageAccept)
    return accepted.best_match(supported) or supported[0], None


def select_language() -> str:
    if not request:
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    language, chosen = choose_language(
        current_app.config["LANGUAGES"],
        url_language(),
        request.args.get("lang"),
        request.cookies.get(COOKIE),
        request.headers.get("Accept-Language", ""),
    )
    if chosen:
        request.environ["campaign.language_chosen"] = chosen
    return language


def remember_choice(response: Response, chosen: str | None, cookie: str | None) -> None:
    """Keep the language a visitor chose (URL prefix or ?lang=) in the `lang` cookie."""
    header = language_cookie(chosen, cookie, secure=current_app.config["SESSION_COOKIE_SECURE"])
    if header:
        response.headers.add("Set-Cookie", header)


def language_cookie(chosen: str | None, cookie: str | None, *, secure: bool) -> str | None:
    """The Set-Cookie value that keeps a chosen language, if it isn't kept already."""
    if not chosen or cookie == chosen:
        return None
    return dump_cookie(
        COOKIE,
        chosen,
        max_age=365 * 86400,
        path="/",
        samesite="Lax",
        httponly=True,
        secure=secure,
    )


def current_language() -> str:
    return str(get_locale() or "en")


def text_direction(language: str | None = None) -> str:
    return "rtl" if (language or current_language()) in RTL_LANGUAGES else "ltr"


def number(value: int) -> str:
    """A number in the page's language (Persian digits on Persian pages)."""
    language = current_language()
    formatted = format_decimal(value, locale=Locale.parse(language))
    if language == "fa":  # Babel localizes the separators; the digits we map ourselves
        formatted = formatted.translate(PERSIAN_DIGITS)
    return formatted


def language_url(language: str) -> str:
    """This page's URL in another language."""
    base = request.environ.get("campaign.original_script_name", "")
    path = request.path  # without the language prefix
    query = request.query_string.decode("latin-1")
    url = f"{base}/{language}{path}"
    return f"{url}?{query}" if query else url


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_language)

    @app.before_request
    def remember_script_name() -> None:
        refresh()  # the locale is cached per app context, which can outlive a request
        language = url_language()
        script = request.environ.get("SCRIPT_NAME", "")
        if language and script.endswith("/" + language):
            script = script[: -len(language) - 1]
        request.environ["campaign.original_script_name"] = script

    @app.after_request
    def remember_language(response):
        # A page shared by every visitor (Cache-Control: public) sets no cookie: a
        # shared cache would not store it, and a plain visit should leave no trace.
        # Cache-Control as the view set it (a string check: no header parsing per request)
        shared = "public" in response.headers.get("Cache-Control", "")
        if not shared:
            chosen = request.environ.get("campaign.language_chosen")
            remember_choice(response, chosen, request.cookies.get(COOKIE))
        if not (shared and url_language()):  # a URL prefix alone decides the language
            response.vary.update(("Accept-Language", "Cookie"))
        return response

    # Mail templates render without context processors; they need numbers too
    # (Persian digits in Persian mail).
    app.jinja_env.globals["format_number"] = number

    @app.context_processor
    def language_context() -> dict:
        language = current_language()
        return {
            "language": language,
            "text_direction": text_direction(language),
            "languages": app.config["LANGUAGES"],
            "language_names": LANGUAGE_NAMES,
            "language_url": language_url,
            "format_number": number,
            "format_date": format_date,
            # Timestamps for people: the page's locale, to the second, never microseconds.
            "format_datetime": lambda value: format_datetime(value, "medium") if value else "—",
        }
