"""A mail message from template to wire: `render_mail` renders a template into a
`Mail`, `build_message` makes the MIME message (its Message-ID is the outbox row's
idempotency key), and `Transport` sends it over SMTP or to the console.

No database here: the outbox (services/outbox/mail.py) stores mail, the worker
(services/outbox/mail_worker.py) sends it through this module.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32, default
from email.utils import formataddr, formatdate, parseaddr
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from ...models import OutboxMessage
from ..sealing.randomness import random_bytes
from . import mail_smtp
from .mail_smtp import Wire


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def render_mail(template: str, language: str, **context) -> Mail:
    """Render `templates/mail/<template>.txt` (and `.html` if present) in `language`.

    The text template sets `subject` at top level; its module exposes it.
    """
    env = current_app.jinja_env
    with force_locale(language):
        context.setdefault("language", language)
        module = env.get_template(f"mail/{template}.txt").make_module(context)
        try:
            html = render_template(f"mail/{template}.html", **context)
        except TemplateNotFound:
            html = None
        subject = str(module.subject).strip()
        return Mail(to=context["to"], subject=subject, text=str(module), html=html)


def build_message(outbox: OutboxMessage, payload: dict) -> Message:
    """The MIME message, built with the email package's compat32 classes: a quarter of
    the CPU of `EmailMessage`'s header registry, which the worker paid per message."""
    base = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    text = _text_part(payload["text"], "plain")
    if payload.get("html"):
        message: Message = MIMEMultipart("alternative", policy=POLICY)
        message.attach(text)
        message.attach(_text_part(payload["html"], "html"))
    else:
        message = text
    message["From"] = _address(current_app.config["MAIL_FROM"])
    message["To"] = _address(payload["to"])
    message["Subject"] = _header(payload["subject"])
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{outbox.idempotency_key}@{base}>"
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (payload.get("headers") or {}).items():
        message[name] = _header(value)
    return message


def wire_message(outbox: OutboxMessage, payload: dict) -> Wire | Message:
    """`build_message`'s message as bytes, written directly for the common case (ASCII
    addresses and header values, bodies that need no quoted-printable): the email
    package's build and flatten were a third of the worker's CPU per message. Anything
    else is `build_message`'s message. Either way the parsed message is the same
    (tests/services/outbox/test_mail_template.py)."""
    text, html = payload["text"], payload.get("html")
    to, headers = payload["to"], payload.get("headers") or {}
    config = current_app.config
    sender = _envelope_sender(config["MAIL_FROM"])
    if sender is not None and _plain_address(to) and all(map(_plain_value, headers.values())):
        body = _body(text, html)
        if body is not None:
            lines = [
                *body[0],
                f"From: {_address(config['MAIL_FROM'])}",
                f"To: {to}",
                f"Subject: {_encoded_subject(payload['subject'])}",
                f"Date: {_date()}",
                f"Message-ID: <{outbox.idempotency_key}@{_host(config['BASE_URL'])}>",
                "Auto-Submitted: auto-generated",
                *(f"{name}: {value}" for name, value in headers.items()),
            ]
            data = "\r\n".join(lines).encode("ascii") + b"\r\n\r\n" + body[1]
            return Wire(sender, [to], data)
    return build_message(outbox, payload)  # sent by smtplib's send_message (SMTPUTF8 &c.)


_SPECIALS = frozenset(' <>()[],;:\\"\r\n')


def _plain_address(value: str) -> bool:
    """A bare ASCII address: the header and the envelope are the string itself."""
    return value.isascii() and value.count("@") == 1 and _SPECIALS.isdisjoint(value)


def _plain_value(value: str) -> bool:
    return value.isascii() and "\r" not in value and "\n" not in value and len(value) < 900


@lru_cache(maxsize=64)
def _envelope_sender(mail_from: str) -> str | None:
    if not mail_from.isascii() or "\n" in mail_from or "\r" in mail_from:
        return None
    return parseaddr(mail_from)[1] or None


@lru_cache(maxsize=64)
def _host(base_url: str) -> str:
    return urlsplit(base_url).hostname or "localhost"


@lru_cache(maxsize=256)
def _encoded_subject(subject: str) -> str:
    if _plain_value(subject):
        return subject
    return Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")


_dated: tuple[int, str] = (0, "")


def _date() -> str:
    """`formatdate(localtime=False)`, formatted once a second."""
    global _dated
    now = int(time.time())
    if _dated[0] != now:
        _dated = (now, formatdate(now, localtime=False))
    return _dated[1]


def _part(body: str, subtype: str) -> tuple[list[str], bytes] | None:
    """A text part's headers and encoded body: us-ascii 7bit or UTF-8 8bit, as
    `_text_part` makes them; None when a line is too long for SMTP (then QP)."""
    data = body.encode()
    # A line of more than 998 octets. Split, not a regex: `[^\n]{999}` tried a match
    # at every octet (17 µs for a confirmation's HTML part, against 2.5).
    if len(data) > 998 and max(map(len, data.split(b"\n"))) > 998:
        return None
    if body.isascii():
        return [
            f'Content-Type: text/{subtype}; charset="us-ascii"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: 7bit",
        ], data
    return [
        f'Content-Type: text/{subtype}; charset="utf-8"',
        "MIME-Version: 1.0",
        "Content-Transfer-Encoding: 8bit",
    ], data


def _body(text: str, html: str | None) -> tuple[list[str], bytes] | None:
    """The top-level MIME headers and the encoded body (CRLF line ends)."""
    plain = _part(text, "plain")
    if plain is None:
        return None
    if not html:
        return plain[0], _crlf(plain[1])
    rich = _part(html, "html")
    if rich is None:
        return None
    boundary = f"==============={int.from_bytes(random_bytes(8)) % 10**19:019d}=="
    if boundary.encode() in plain[1] or boundary.encode() in rich[1]:
        return None  # vanishingly rare: the email package picks another
    head = f"--{boundary}".encode()
    parts = b"".join(
        head + b"\r\n" + "\r\n".join(headers).encode() + b"\r\n\r\n" + _crlf(data) + b"\r\n"
        for headers, data in (plain, rich)
    )
    return (
        [f'Content-Type: multipart/alternative; boundary="{boundary}"', "MIME-Version: 1.0"],
        parts + head + b"--\r\n",
    )


def _crlf(data: bytes) -> bytes:
    if b"\r" not in data:  # the templates' line ends: one pass
        return data.replace(b"\n", b"\r\n")
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


class _Policy(type(compat32)):  # compat32 is the only public name of its class
    """compat32, but an ASCII header is never folded: folding put a long URL (the
    List-Unsubscribe link) on a continuation line, read back with a leading space."""

    def _fold(self, name: str, value, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\n" not in value:
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


POLICY = _Policy()
_UTF8_8BIT = Charset("utf-8")
_UTF8_8BIT.body_encoding = None  # 8bit: every relay today speaks 8BITMIME
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _text_part(body: str, subtype: str) -> MIMEText:
    if body.isascii():
        return MIMEText(body, subtype, "us-ascii", policy=POLICY)
    # 8bit unless a line is longer than SMTP allows (998 octets); then quoted-printable.
    long_line = any(len(line.encode()) > 998 for line in body.splitlines())
    return MIMEText(body, subtype, _UTF8_QP if long_line else _UTF8_8BIT, policy=POLICY)


def _header(value: str) -> str | Header:
    return value if value.isascii() else Header(value, "utf-8")


def _address(value: str) -> str:
    if value.isascii():
        return value
    name, address = parseaddr(value)
    return formataddr((name, address), "utf-8")


# A connection idle this long is opened anew rather than reused: relays close idle
# connections, and a send on a closed one would be taken for the relay being down.
IDLE_SECONDS = 10.0


class Transport:
    """Sends messages over one SMTP connection, reused from message to message."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._smtp: smtplib.SMTP | None = None
        self._used = 0.0

    def send(self, message: Message | Wire) -> None:
        if isinstance(message, Wire) and self.url == "console":
            message = message_from_bytes(message.data, policy=default)  # headers decoded
        if self.url == "console":
            # Headers and the plain-text part, decoded, so links can be clicked in a terminal.
            headers = "".join(f"{k}: {v}\n" for k, v in message.items() if k != "Content-Type")
            plain = next(p for p in message.walk() if p.get_content_type() == "text/plain")
            body = plain.get_payload(decode=True).decode(plain.get_content_charset() or "utf-8")
            sys.stdout.write(f"\n----- mail -----\n{headers}\n{body}\n----- end -----\n")
            sys.stdout.flush()
            return
        if self._smtp is not None and time.monotonic() - self._used > IDLE_SECONDS:
            self.close()
        if self._smtp is None:
            self._smtp = self._connect()
        if isinstance(message, Wire):
            mail_smtp.send(self._smtp, message)
        else:
            self._smtp.send_message(message)
        self._used = time.monotonic()

    def _connect(self) -> smtplib.SMTP:
        parts = urlsplit(self.url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError(f"SMTP_URL must be smtp://, smtps:// or console, not {parts.scheme}")
        host, timeout = parts.hostname or "localhost", 10
        if parts.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(
                host, parts.port or 465, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except smtplib.SMTPException:
                pass
            except OSError:
                pass
            self._smtp = None

    def reset(self) -> None:
        """Drop a connection that failed, so the next send reconnects."""
        try:
            if self._smtp is not None:
                self._smtp.close()
        finally:
            self._smtp = None
