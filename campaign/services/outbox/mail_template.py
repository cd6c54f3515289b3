"""Signer mail rendered once per template, language and campaign, then filled per
signer (issue 22, "a confirmation mail in seconds").

Rendering a confirmation mail through Jinja (text and HTML, a dozen gettext calls) was
most of the worker's CPU per message, yet only a few values differ from one signer to
the next: the name and the links. `render` renders a template once with a marker in
place of each of those values, keeps the text around the markers, and fills them in
per message: as given in the text part and the subject, HTML-escaped in the HTML part,
exactly as Jinja's autoescaping would (markupsafe's `escape`). A template's `{% if %}`
on a value sees the same truth as the real value would: whether each value is empty is
part of the cache key, so "Hello," and "Hello Maryam," are two renderings.

The fill is a plain join of the kept text and the values: a value is never scanned
again, so a name holding the marker characters (or anything else) is only text.
`tests/services/outbox/test_mail_template.py` checks that the result equals `render_mail`'s
for each signer template, language and hostile value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import escape

from ..pages import cache as caches
from .mail_transport import Mail, render_mail

# Private-use characters: no translation, title or template holds them.
_OPEN, _CLOSE = "\ue000", "\ue001"
_MARKER = re.compile(f"{_OPEN}([a-z_]+){_CLOSE}")
# A bound on the renderings kept per app (templates × languages × campaigns × the
# empty/non-empty combinations); past it the cache starts again.
_MAX_KEPT = 512


def _marker(name: str) -> str:
    return f"{_OPEN}{name}{_CLOSE}"


@dataclass(frozen=True)
class _Parts:
    """A rendered string cut at its markers: text, name, text, name, …, text."""

    pieces: tuple[str, ...]

    @classmethod
    def cut(cls, rendered: str | None) -> _Parts | None:
        return None if rendered is None else cls(tuple(_MARKER.split(rendered)))

    def fill(self, values: dict[str, str], quote) -> str:
        pieces = self.pieces
        out = [pieces[0]]
        for i in range(1, len(pieces), 2):
            out.append(quote(values[pieces[i]]))
            out.append(pieces[i + 1])
        return "".join(out)


@dataclass(frozen=True)
class _Rendering:
    subject: _Parts
    text: _Parts
    html: _Parts | None


def _plain(value: str) -> str:
    return value


def _html(value: str) -> str:
    return str(escape(value))


def render(template: str, language: str, fixed: dict, fills: dict[str, str]) -> Mail:
    """`render_mail(template, language, **fixed, **fills)`, with the template rendered
    once per (template, language, `fixed`, which `fills` are empty). `fixed` holds what
    is the same for many signers (the title, the expiry days), `fills` what is not (the
    address, the name, the links); every value in both is a str or an int."""
    cache = caches.store(caches.MAIL_TEMPLATES)
    key = (
        template,
        language,
        tuple(sorted(fixed.items())),
        tuple(sorted((name, bool(value)) for name, value in fills.items())),
    )
    rendering = cache.get(key)
    if rendering is None:
        if len(cache) >= _MAX_KEPT:
            cache.clear()
        # An empty value stays empty (a template may test it); the others are markers.
        markers = {name: _marker(name) if value else value for name, value in fills.items()}
        mail = render_mail(template, language, **fixed, **markers)
        rendering = _Rendering(
            subject=_Parts.cut(mail.subject), text=_Parts.cut(mail.text), html=_Parts.cut(mail.html)
        )
        cache[key] = rendering
    html = rendering.html
    return Mail(
        to=fills["to"],
        subject=rendering.subject.fill(fills, _plain),
        text=rendering.text.fill(fills, _plain),
        html=None if html is None else html.fill(fills, _html),
    )
