"""A mail message from template to wire: `render_mail` renders a template into a
`Mail`, `build_message` makes the MIME message (its Message-ID is the outbox row's
idempotency key), and `Transport` sends it over SMTP or to the console.

No database here: the outbox (services/mail.py) stores mail, the worker
(services/mail_worker.py) sends it through this module.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound

from ..models import OutboxMessage


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


def build_message(outbox: OutboxMessage, payload: dict) -> EmailMessage:
    base = urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = payload["to"]
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{outbox.idempotency_key}@{base}>"
    message["Auto-Submitted"] = "auto-generated"
    for name, value in (payload.get("headers") or {}).items():
        message[name] = value
    message.set_content(payload["text"])
    if payload.get("html"):
        message.add_alternative(payload["html"], subtype="html")
    return message


class Transport:
    """Sends one message; SMTP connections are reused across a batch."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if self.url == "console":
            # Headers and the plain-text part, decoded, so links can be clicked in a terminal.
            headers = "".join(f"{k}: {v}\n" for k, v in message.items() if k != "Content-Type")
            body = message.get_body(("plain",)).get_content()
            sys.stdout.write(f"\n----- mail -----\n{headers}\n{body}\n----- end -----\n")
            sys.stdout.flush()
            return
        if self._smtp is None:
            self._smtp = self._connect()
        self._smtp.send_message(message)

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
