"""The bench's SMTP sink (bench/helpers/smtp_sink.py) speaks SMTP as aiosmtpd does: the same
replies to the same exchanges, every message recorded (dot-unstuffed) before its 250,
served one command at a time (smtplib) and pipelined (the worker's mail_smtp)."""

from __future__ import annotations

import asyncio
import importlib.util
import smtplib
import socket
import threading
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from campaign.services.outbox import mail_smtp
from campaign.services.outbox.mail_smtp import Wire
from tests.helpers import ROOT, free_port

_spec = importlib.util.spec_from_file_location(
    "smtp_sink", ROOT / "bench" / "helpers" / "smtp_sink.py"
)
smtp_sink = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(smtp_sink)


class Sink:
    """bench/helpers/smtp_sink.py served in a thread of this process; `received` holds
    (time, sender, recipients, content) per accepted message."""

    def __init__(self, on_message=None, chunking: bool = True) -> None:
        self.received: list[tuple[float, str, list[str], bytes]] = []
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.on_message = on_message or (lambda *message: self.received.append(message))
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            serving = smtp_sink.serve(self.port, self.on_message, chunking=chunking)
            self.server = self.loop.run_until_complete(serving)
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Reference:
    """aiosmtpd, the library the sink stands in for, with the same acceptance."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def stop(self) -> None:
        self.controller.stop()


@pytest.fixture
def sink():
    server = Sink()
    yield server
    server.stop()


def exchange(port: int, lines: list[bytes]) -> list[int]:
    """Send `lines` one at a time (a DATA body as one item ending in ".\\r\\n"); the
    reply codes, the greeting's first."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply() -> int:
            while True:
                line = reader.readline()
                assert line, "connection closed"
                if line[3:4] != b"-":
                    return int(line[:3])

        codes = [reply()]
        for line in lines:
            sock.sendall(line)
            codes.append(reply())
        return codes


EXCHANGES = {
    "one message": [
        b"EHLO client\r\n",
        b"MAIL FROM:<a@example.org>\r\n",
        b"RCPT TO:<b@example.org>\r\n",
        b"DATA\r\n",
        b"Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n",
        b"QUIT\r\n",
    ],
    "out of order": [
        b"EHLO client\r\n",
        b"RCPT TO:<b@example.org>\r\n",
        b"DATA\r\n",
        b"MAIL FROM:<a@example.org>\r\n",
        b"MAIL FROM:<c@example.org>\r\n",
        b"DATA\r\n",
        b"RSET\r\n",
        b"RCPT TO:<b@example.org>\r\n",
        b"NOOP\r\n",
        b"QUIT\r\n",
    ],
    "syntax": [
        b"HELO client\r\n",
        b"MAIL FROM a@example.org\r\n",
        b"FROB\r\n",
        b"MAIL FROM:<a@example.org>\r\n",
        b"RCPT TO:b@example.org\r\n",
        b"RCPT TO:\r\n",
        b"DATA\r\n",
        b"x\r\n.\r\n",
        b"QUIT\r\n",
    ],
    "before the greeting": [b"MAIL FROM:<a@example.org>\r\n", b"QUIT\r\n"],
}


@pytest.mark.parametrize("name", sorted(EXCHANGES))
def test_replies_as_aiosmtpd_replies(sink, name):
    reference = Reference()
    try:
        expected = exchange(reference.port, EXCHANGES[name])
    finally:
        reference.stop()
    assert exchange(sink.port, EXCHANGES[name]) == expected
    accepted = [(sender, rcpts, content) for _, sender, rcpts, content in sink.received]
    assert accepted == reference.received


def test_smtplib_one_by_one_with_dots(sink):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "x"
    message.set_content(".leading dot\n..two dots\n.\nlast\n")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.send_message(message)
        smtp.sendmail("a@example.org", ["c@example.org", "d@example.org"], b"Subject: y\r\n\r\nz")
    (_, sender, rcpts, content), second = sink.received
    assert (sender, rcpts) == ("a@example.org", ["b@example.org"])
    assert content.replace(b"\r\n", b"\n") == message.as_bytes()  # unstuffed: as sent
    assert second[1:] == (
        "a@example.org",
        ["c@example.org", "d@example.org"],
        b"Subject: y\r\n\r\nz\r\n",
    )


@pytest.mark.parametrize("chunking", [True, False], ids=["BDAT", "DATA"])
def test_pipelined_as_the_worker_sends(chunking):
    """The same bytes arrive whether the message goes as one BDAT chunk (RFC 3030, the
    sink advertising CHUNKING as Postfix does) or after DATA, dot-stuffed."""
    sink = Sink(chunking=chunking)
    smtp = smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
    smtp.ehlo()
    assert smtp.has_extn("pipelining") and bool(smtp.has_extn("chunking")) == chunking
    bodies = [b"Subject: s\r\n\r\n.one\r\n", b"Subject: s\r\n\r\n", b"Subject: s\r\n\r\n.\r\n.."]
    try:
        for n, body in enumerate(bodies):
            mail_smtp.send(smtp, Wire("a@example.org", [f"to{n}@example.org"], body))
    finally:
        smtp.quit()
        sink.stop()
    assert [r[2] for r in sink.received] == [[f"to{n}@example.org"] for n in range(3)]
    assert [r[3] for r in sink.received] == [
        b"Subject: s\r\n\r\n.one\r\n",
        b"Subject: s\r\n\r\n",
        b"Subject: s\r\n\r\n.\r\n..\r\n",
    ]


def test_recorded_before_the_250(tmp_path):
    """The bench's recorder has written the line by the time the client has its 250."""
    log = tmp_path / "sink.log"
    server = Sink(smtp_sink.Recorder(str(log)))
    try:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
            for n in range(5):
                before = time.time()
                smtp.sendmail("a@example.org", [f"r{n}@example.org"], b"Subject: s\r\n\r\nx")
                stamp, rcpt = log.read_text().splitlines()[-1].split()
                assert rcpt == f"r{n}@example.org" and before <= float(stamp) <= time.time()
    finally:
        server.stop()


class RefusingSink(Sink):
    """The sink, refusing one recipient (550) as a relay refuses an unknown mailbox."""

    def __init__(self) -> None:
        original = smtp_sink.SinkProtocol._command

        def command(protocol, line: bytes):
            if line.upper().startswith(b"RCPT TO:<REFUSED@"):
                return b"550 5.1.1 No such user\r\n", False
            return original(protocol, line)

        self._patch = pytest.MonkeyPatch()
        self._patch.setattr(smtp_sink.SinkProtocol, "_command", command)
        super().__init__()

    def stop(self) -> None:
        super().stop()
        self._patch.undo()


def test_a_refused_recipient_in_a_chunk_delivers_nothing():
    """With its one recipient refused, the message's BDAT chunk is refused too (no
    valid recipient), and the connection goes on to the next message."""
    sink = RefusingSink()
    smtp = smtplib.SMTP("127.0.0.1", sink.port, timeout=10)
    try:
        smtp.ehlo()
        assert smtp.has_extn("chunking")
        body = b"Subject: s\r\n\r\nnot for you\r\n"
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            mail_smtp.send(smtp, Wire("a@example.org", ["refused@example.org"], body))
        assert refused.value.recipients["refused@example.org"][0] == 550
        mail_smtp.send(
            smtp, Wire("a@example.org", ["next@example.org"], b"Subject: n\r\n\r\nok\r\n")
        )
    finally:
        smtp.quit()
        sink.stop()
    assert [(r[2], r[3]) for r in sink.received] == [
        (["next@example.org"], b"Subject: n\r\n\r\nok\r\n")
    ]


def test_chunks_are_taken_as_they_are(sink):
    """BDAT's octets are the message: no dot-unstuffing, no "." line; a chunk before
    LAST is kept, and one refused (no recipient) is read and dropped."""
    codes = exchange(
        sink.port,
        [
            b"EHLO client\r\n",
            b"BDAT 5 LAST\r\n.x\r\n.",  # no recipient yet: read, refused
            b"MAIL FROM:<a@example.org>\r\n",
            b"RCPT TO:<b@example.org>\r\n",
            b"BDAT 7\r\n..one\r\n",
            b"BDAT 4 LAST\r\n.\r\n.",
            b"QUIT\r\n",
        ],
    )
    assert codes == [220, 250, 554, 250, 250, 250, 250, 221]
    assert [(r[2], r[3]) for r in sink.received] == [(["b@example.org"], b"..one\r\n.\r\n.")]
