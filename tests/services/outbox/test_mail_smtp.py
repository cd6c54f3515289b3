"""The worker's SMTP client (services/outbox/mail_smtp.py) against a real SMTP server
(aiosmtpd): one command at a time, and pipelined (RFC 2920) when the server advertises
PIPELINING, with smtplib's errors for what the server refuses."""

from __future__ import annotations

import smtplib

import pytest

from campaign.services.outbox import mail_send, mail_smtp
from campaign.services.outbox.mail_smtp import Wire
from tests.helpers import Mailbox


class Server(Mailbox):
    """Records each envelope, refuses what it is told to, and says PIPELINING if asked;
    `batched` notes whether RCPT and DATA had already arrived when MAIL was read."""

    def __init__(self, pipelining: bool) -> None:
        super().__init__()
        self.pipelining = pipelining
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.batched: list[bool] = []
        self.refuse_rcpt: set[str] = set()
        self.refuse_data = ""

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        buffered = bytes(getattr(server._reader, "_buffer", b""))  # what is read already
        self.batched.append(b"RCPT TO:" in buffered and b"DATA\r\n" in buffered)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address in self.refuse_rcpt:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.refuse_data:
            return self.refuse_data
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=[False, True], ids=["one by one", "pipelined"])
def server(request):
    box = Server(pipelining=request.param)
    box.start()
    yield box
    box.stop()


def wire(to: str = "to@example.org", body: bytes = b"Hello\r\n") -> Wire:
    head = f"From: a@example.org\r\nTo: {to}\r\nSubject: s\r\n\r\n".encode()
    return Wire("a@example.org", [to], head + body)


def connect(server: Server) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    smtp.ehlo()
    return smtp


def test_messages_arrive_as_sent(server):
    smtp = connect(server)
    body = b".leading dot\r\n..two\r\nlast line without end"
    try:
        for n in range(3):
            mail_smtp.send(smtp, wire(f"to{n}@example.org", body))
    finally:
        smtp.quit()
    assert [e[:2] for e in server.envelopes] == [
        ("a@example.org", [f"to{n}@example.org"]) for n in range(3)
    ]
    assert all(e[2].endswith(body + b"\r\n") for e in server.envelopes)  # dots unquoted
    # MAIL, RCPT and DATA in one write only when the server said PIPELINING.
    assert server.batched == [server.pipelining] * 3


def test_a_refused_recipient_is_the_messages_fault_and_the_next_one_goes(server):
    server.refuse_rcpt.add("nobody@example.org")
    smtp = connect(server)
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            mail_smtp.send(smtp, wire("nobody@example.org"))
        assert not mail_send.relay_down(refused.value)
        mail_smtp.send(smtp, wire("somebody@example.org"))  # the connection still works
    finally:
        smtp.quit()
    assert [e[1] for e in server.envelopes] == [["somebody@example.org"]]


@pytest.mark.parametrize("reply, relay_down", [("554 5.6.0 Refused", False), ("421 Bye", True)])
def test_a_refused_message_raises_as_smtplib_does(server, reply, relay_down):
    server.refuse_data = reply
    smtp = connect(server)
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            mail_smtp.send(smtp, wire())
        assert refused.value.smtp_code == int(reply[:3])
        assert mail_send.relay_down(refused.value) is relay_down
    finally:
        smtp.close()
    assert server.envelopes == []
