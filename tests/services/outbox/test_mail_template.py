"""Signer mail rendered once and filled per signer (services/outbox/mail_template.py), and
written straight to bytes (mail_transport.wire_message): both must give exactly what
the slow path gives (Jinja per message; the email package's build and flatten)."""

from __future__ import annotations

import email
import email.utils
import io
import re
from email import policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header

import pytest

from campaign.models import OutboxMessage, Signature
from campaign.services.intake import links
from campaign.services.letters import signer_mail
from campaign.services.outbox import mail_template, mail_transport
from campaign.services.outbox.mail_transport import Wire, build_message, render_mail
from campaign.services.pages import cache
from campaign.services.pages.content import library
from tests.helpers import SLUG

NAMES = [
    "Maryam Ahmadi",
    "",
    None,
    "رضا کریمی",
    "<b>Bold</b> & \"quoted\" 'single' {{ x }} %(name)s",
    "\ue000to\ue001 \ue000confirm_url\ue001",  # the markers themselves are only text
    "Amélie\u202eEvil",
]
LINKS = {
    "confirm_url": "https://petition.test/fa/slug/confirm/12-abc?x=1&y=<2>",
    "data_url": 'https://petition.test/slug/my-data/12-def?k="s\'e&c"',
    "withdraw_url": "https://petition.test/slug/withdraw/12-ghi",
    "page_url": "https://petition.test/slug/",
}


@pytest.mark.parametrize("template", ["confirm", "already_signed", "reminder", "links"])
@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_a_filled_template_is_what_jinja_renders(app, template, language):
    fixed = {"title": "A <title> & “quotes”", "expiry_days": 7}
    for name in NAMES:
        for data_url in (LINKS["data_url"], ""):
            fills = {"to": "x@example.org", "name": name, **LINKS, "data_url": data_url}
            fast = mail_template.render(template, language, fixed, fills)
            slow = render_mail(template, language, **fixed, **fills)
            assert fast == slow, (template, language, name)
    # Rendered once per (template, language, fixed values, which values are empty).
    kept = cache.store(cache.MAIL_TEMPLATES, app)
    assert len([k for k in kept if k[0] == template and k[1] == language]) == 4


def a_row(key: str = "0123456789abcdef") -> OutboxMessage:
    return OutboxMessage(idempotency_key=key, kind="confirm", status="pending")


def parsed(message) -> email.message.EmailMessage:
    if isinstance(message, email.message.EmailMessage):
        return message  # as the SMTP server received it
    data = message.data if isinstance(message, Wire) else message.as_bytes()
    return email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)


def same_message(fast, slow) -> None:
    """Equal as a mail client reads them: decoded headers (not the random boundary or
    the Date) and decoded parts."""
    a, b = parsed(fast), parsed(slow)
    skip = {"date", "content-type"}
    assert [(k, str(v)) for k, v in a.items() if k.lower() not in skip] == [
        (k, str(v)) for k, v in b.items() if k.lower() not in skip
    ]
    assert a.get_content_type() == b.get_content_type()
    parts_a, parts_b = list(a.walk()), list(b.walk())
    assert [p.get_content_type() for p in parts_a] == [p.get_content_type() for p in parts_b]
    for x, y in zip(parts_a, parts_b, strict=True):
        if not x.is_multipart():
            assert x.get_content() == y.get_content()
            assert x.get_content_charset() == y.get_content_charset()
            assert x["Content-Transfer-Encoding"] == y["Content-Transfer-Encoding"]
    assert a.defects == [] and all(p.defects == [] for p in parts_a)


PAYLOADS = [
    {"to": "a@example.org", "subject": "Hello", "text": "Plain\nlines\n", "html": "<p>x</p>"},
    {"to": "a@example.org", "subject": "Only text", "text": "Plain only", "html": None},
    {
        "to": "a@example.org",
        "subject": "لطفاً امضای خود را تأیید کنید: طومار",
        "text": "سلام رضا،\n\n.\n..leading dots\r\nCRLF line\n",
        "html": "<p>سلام</p>\n<p>.</p>",
    },
    {
        "to": "a@example.org",
        "subject": "Veuillez confirmer votre signature : « Titre » " * 3,
        "text": "Bonjour Amélie,\n",
        "html": "<p>Bonjour Amélie,</p>",
        "headers": {"List-Unsubscribe": "<https://petition.test/u/1-" + "a" * 300 + ">"},
    },
    {  # lines of exactly 998 octets (SMTP's limit): still 8bit and 7bit
        "to": "a@example.org",
        "subject": "Edge",
        "text": "é" * 499 + "\n" + "x" * 998,
        "html": "<p>" + "y" * 994 + "\r\n</p>\r",  # 998 octets with the CR
    },
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_wire_bytes_are_the_email_packages_message(app, payload):
    fast = mail_transport.wire_message(a_row(), payload)
    assert isinstance(fast, Wire)  # the common case takes the direct path
    assert fast.sender == email.utils.parseaddr(app.config["MAIL_FROM"])[1]
    assert fast.recipients == [payload["to"]]
    same_message(fast, build_message(a_row(), payload))
    assert b"\r\n" in fast.data and b"\n" not in fast.data.replace(b"\r\n", b"")


def flattened(message) -> bytes:
    """The email package's message as its generator writes it for SMTP (CRLF)."""
    out = io.BytesIO()
    policy_crlf = mail_transport.POLICY.clone(linesep="\r\n")
    BytesGenerator(out, policy=policy_crlf, mangle_from_=False).flatten(message)
    return out.getvalue()


def without_variables(data: bytes) -> tuple[bytes, str]:
    """The bytes with the Date, the boundary and the Subject's folding put aside (the
    Subject decoded: the email package splits a long encoded-word elsewhere)."""
    subject = re.search(rb"(?m)^Subject: (.*(?:\r\n .*)*)\r\n", data)
    decoded = str(make_header(decode_header(subject.group(1).decode("ascii"))))
    data = data.replace(subject.group(0), b"Subject: S\r\n")
    data = re.sub(rb"(?m)^Date: [^\r]*", b"Date: D", data)
    return re.sub(rb"===============\d+==", b"BOUNDARY", data), decoded


@pytest.mark.parametrize("payload", PAYLOADS)
def test_wire_bytes_are_the_email_packages_bytes(app, payload):
    """Byte for byte what `build_message` flattens to, but for the Date (its second),
    the random boundary and where a long non-ASCII Subject's encoded-words are split."""
    fast = mail_transport.wire_message(a_row(), payload)
    assert isinstance(fast, Wire)
    assert without_variables(fast.data) == without_variables(
        flattened(build_message(a_row(), payload))
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"to": "a@example.org", "subject": "Long", "text": "x" * 1200, "html": None},
        {"to": "a@example.org", "subject": "Long", "text": "é" * 499 + "x", "html": None},
        {"to": "a@example.org", "subject": "Long", "text": "t", "html": "\n" + "y" * 999},
        {"to": "Réza <a@example.org>", "subject": "Non-ASCII name", "text": "t", "html": None},
        {"to": "Reza <a@example.org>", "subject": "Named", "text": "t", "html": None},
        {"to": "a@example.org", "subject": "H", "text": "t", "headers": {"X-A": "é"}},
    ],
)
def test_anything_else_takes_the_email_package(app, payload):
    assert not isinstance(mail_transport.wire_message(a_row(), payload), Wire)


def test_sent_over_smtp_as_the_slow_path_sends_it(app, mailbox):
    payload = PAYLOADS[2]
    transport = mail_transport.Transport(mailbox.url)
    try:
        transport.send(mail_transport.wire_message(a_row("fast"), payload))
        transport.send(build_message(a_row("slow"), payload))
    finally:
        transport.close()
    fast, slow = mailbox.messages
    assert fast["Message-ID"].startswith("<fast@") and slow["Message-ID"].startswith("<slow@")
    del fast["Message-ID"], slow["Message-ID"]
    same_message(fast, slow)


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
@pytest.mark.parametrize(
    "secret", [None, "", "Xq3_-Zr9aB0kLmN1pQ2sTw", "-_aZ09", "a b&k=c/é?", "%41"]
)
def test_signer_links_are_the_routed_urls(app, language, secret):
    content = library().get(SLUG)
    for signature_id in (1, 12, 987654321):
        signature = Signature(
            id=signature_id, language=language, link_nonce="ab" * 16, link_secret=secret
        )
        got = signer_mail.signer_links(content, signature)
        for key, endpoint, purpose, query in (
            ("confirm_url", "petition.confirm", "confirm", {}),
            ("withdraw_url", "petition.withdraw", "withdraw", {}),
            ("data_url", "petition.my_data", "data", {"k": secret} if secret else {}),
        ):
            token = links.make_token(signature, purpose)
            routed = links.external_url(endpoint, language, slug=SLUG, token=token, **query)
            assert got[key] == routed
        assert got["page_url"] == links.external_url("petition.campaign_page", language, slug=SLUG)
