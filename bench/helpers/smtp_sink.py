"""The bench's SMTP sink: a lean SMTP server that records each accepted message.

Why not aiosmtpd (which the tests use): in `make bench` the mail worker's rate is
compared with the app's signing rate on the same 2 cores, and the signing's client is
wrk (C), while the mail's "client" is the sink. aiosmtpd spends about 0.5 ms of CPU a
message (a coroutine per command, a stream reader, a session and envelope per message,
its logging), as much as the worker itself: half of what the mail side cost the machine
was the sink's. This one is an asyncio protocol that parses what arrives in place and
answers a pipelined batch in one write: a few tens of µs a message.

It still speaks SMTP (RFC 5321) as a relay would: a 220 greeting; EHLO (advertising
PIPELINING, RFC 2920, 8BITMIME and CHUNKING, RFC 3030, as Postfix does) or HELO; MAIL
FROM, RCPT TO, DATA (the content up to the lone "." line, dot-unstuffed), BDAT (sized
chunks, taken as they are; refused ones are read and dropped), RSET, NOOP, QUIT;
out-of-order commands get 503, unknown ones 500, a line or message over the limits
500/552. `on_message(when, sender, recipients, content)` runs for each message before
its 250 is written (the bench's records the time and recipient, `Recorder`). It
accepts every address: it is a sink.

`main(port, log)` (`python bench/mail_flow.py sink PORT LOG`) serves on 127.0.0.1:PORT
and appends "<unix time> <recipient>" per recipient of each accepted message to LOG.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

MAX_LINE = 1000  # RFC 5321 4.5.3.1.4: 512 for a command; text lines up to 1000 octets
MAX_MESSAGE = 10 * 1024 * 1024
MAX_RECIPIENTS = 100

OnMessage = Callable[[float, str, list[str], bytes], None]


def _address(argument: str, keyword: str) -> str | None:
    """The path of `MAIL FROM:<a@b> [params]` / `RCPT TO:<a@b>`, or None if malformed
    (a bare address without the brackets is taken, as aiosmtpd and Postfix take it)."""
    if argument[: len(keyword)].upper() != keyword:
        return None
    path = argument[len(keyword) :].strip()
    if not path.startswith("<"):
        return path.split(" ", 1)[0] if path else None
    end = path.find(">")
    return None if end < 0 else path[1:end]


def unstuff(content: bytes) -> bytes:
    """RFC 5321 4.5.2: a line starting with "." lost that first dot on the wire."""
    if b"\n." not in content and not content.startswith(b"."):
        return content
    lines = content.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


class SinkProtocol(asyncio.Protocol):
    """One SMTP session. Everything received is parsed from one buffer; the replies to
    what arrived together are written together."""

    def __init__(
        self, on_message: OnMessage, hostname: str = "sink.localhost", chunking: bool = True
    ) -> None:
        self.on_message, self.hostname, self.chunking = on_message, hostname, chunking
        self.buffer = bytearray()
        self.greeted = self.in_data = False
        self.chunk: tuple[int, bool, bool] | None = None  # BDAT: size, LAST, refused
        self.chunks = bytearray()
        self.sender: str | None = None
        self.recipients: list[str] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        transport.write(f"220 {self.hostname} ESMTP sink\r\n".encode())

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies: list[bytes] = []
        closing = False
        while not closing:
            if self.chunk is not None:
                reply = self._bdat()
                if reply is None:
                    break
                replies.append(reply)
                continue
            if self.in_data:
                reply = self._data()
                if reply is None:
                    break
                replies.append(reply)
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    replies.append(b"500 5.5.2 Line too long\r\n")
                    self.buffer.clear()
                break
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            reply, closing = self._command(line)
            replies.append(reply)
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        if closing and self.transport is not None:
            self.transport.close()

    def _data(self) -> bytes | None:
        """The message, once its terminating "." line arrived (else None)."""
        if self.buffer.startswith(b".\r\n"):
            end, content = 0, b""
        else:
            end = self.buffer.find(b"\r\n.\r\n")
            if end < 0:
                if len(self.buffer) > MAX_MESSAGE:
                    self.buffer.clear()
                    self._reset()
                    return b"552 5.3.4 Message too big\r\n"
                return None
            content = unstuff(bytes(self.buffer[: end + 2]))
            end += 2
        del self.buffer[: end + 3]
        self.in_data = False
        sender, recipients = self.sender or "", self.recipients
        self._reset()
        self.on_message(time.time(), sender, recipients, content)  # recorded before the 250
        return b"250 2.0.0 OK\r\n"

    def _bdat(self) -> bytes | None:
        """A BDAT chunk, once its octets arrived (else None)."""
        size, last, refused = self.chunk  # type: ignore[misc]
        if len(self.buffer) < size:
            return None
        chunk = bytes(self.buffer[:size])
        del self.buffer[:size]
        self.chunk = None
        if refused:
            return refused
        self.chunks += chunk
        if len(self.chunks) > MAX_MESSAGE:
            self._reset()
            return b"552 5.3.4 Message too big\r\n"
        if not last:
            return f"250 2.0.0 {size} octets received\r\n".encode()
        content, sender, recipients = bytes(self.chunks), self.sender or "", self.recipients
        self._reset()
        self.on_message(time.time(), sender, recipients, content)  # recorded before the 250
        return b"250 2.0.0 OK\r\n"

    def _start_chunk(self, argument: str) -> bytes | None:
        """BDAT <size> [LAST]: the chunk's octets follow whatever the answer (RFC 3030
        2: a refused chunk is read and dropped). None: taken, answered when read."""
        size, _, last = argument.partition(" ")
        if not size.isdigit() or last.upper() not in ("", "LAST"):
            return b"501 5.5.4 Syntax: BDAT <size> [LAST]\r\n"
        refused = None
        if not self.greeted:
            refused = b"503 5.5.1 Send EHLO or HELO first\r\n"
        elif not self.recipients:
            refused = b"554 5.5.1 No valid recipients\r\n"
            self._reset()
        self.chunk = (int(size), last.upper() == "LAST", refused)
        return None

    def _reset(self) -> None:
        self.sender, self.recipients = None, []
        self.chunks = bytearray()

    def _command(self, line: bytes) -> tuple[bytes, bool]:
        if len(line) > MAX_LINE:
            return b"500 5.5.2 Line too long\r\n", False
        text = line.decode("ascii", "replace")
        verb, _, argument = text.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            self.greeted = True
            self._reset()
            name = self.hostname.encode()
            chunking = b"250-CHUNKING\r\n" if self.chunking else b""
            return (
                b"250-"
                + name
                + b"\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                + chunking
                + b"250 HELP\r\n",
                False,
            )
        if verb == "HELO":
            self.greeted = True
            self._reset()
            return b"250 " + self.hostname.encode() + b"\r\n", False
        if verb == "QUIT":
            return b"221 2.0.0 Bye\r\n", True
        if verb == "NOOP":
            return b"250 2.0.0 OK\r\n", False
        if verb == "RSET":
            self._reset()
            return b"250 2.0.0 OK\r\n", False
        if verb == "BDAT" and self.chunking:
            refused = self._start_chunk(argument)
            return (refused or b""), False
        if verb not in ("MAIL", "RCPT", "DATA"):
            return b"500 5.5.2 Command unrecognized\r\n", False
        if not self.greeted:
            return b"503 5.5.1 Send EHLO or HELO first\r\n", False
        if verb == "MAIL":
            if self.sender is not None:
                return b"503 5.5.1 Sender already given\r\n", False
            sender = _address(argument, "FROM:")
            if sender is None:
                return b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n", False
            self.sender = sender
            return b"250 2.1.0 OK\r\n", False
        if verb == "RCPT":
            if self.sender is None:
                return b"503 5.5.1 Need MAIL first\r\n", False
            recipient = _address(argument, "TO:")
            if not recipient:
                return b"501 5.5.4 Syntax: RCPT TO:<address>\r\n", False
            if len(self.recipients) >= MAX_RECIPIENTS:
                return b"452 4.5.3 Too many recipients\r\n", False
            self.recipients.append(recipient)
            return b"250 2.1.5 OK\r\n", False
        if not self.recipients:  # DATA
            return b"503 5.5.1 Need RCPT first\r\n", False
        self.in_data = True
        return b"354 End data with <CR><LF>.<CR><LF>\r\n", False


class Recorder:
    """ "<unix time> <recipient>" per recipient, written (to the OS) before the 250."""

    def __init__(self, path: str) -> None:
        self.out = open(path, "a", buffering=1)  # noqa: SIM115 - open for the sink's life

    def __call__(self, when: float, sender: str, recipients: list[str], content: bytes) -> None:
        self.out.write("".join(f"{when:.6f} {rcpt}\n" for rcpt in recipients))


async def serve(
    port: int, on_message: OnMessage, host: str = "127.0.0.1", chunking: bool = True
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SinkProtocol(on_message, chunking=chunking), host, port, backlog=128
    )


def main(port: int, path: str) -> None:
    async def run() -> None:
        server = await serve(port, Recorder(path))
        async with server:
            await server.serve_forever()

    asyncio.run(run())
