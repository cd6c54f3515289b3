"""One message over an open SMTP connection, as bytes, pipelined when the server
allows it (RFC 2920).

smtplib's `sendmail` waits for the server's reply to MAIL, RCPT, DATA and the message
in turn: four round trips, and in the worker four waits for its thread to be woken and
take the GIL again, and it parses both addresses with the email package on every
message. A server that advertises PIPELINING (Postfix, Exim and the large providers
do) takes MAIL, RCPT and DATA in one write; its three replies are then read together,
and the message follows: two round trips. A server that also advertises CHUNKING
(RFC 3030; Postfix since 3.4, the large providers) takes the message with them, as one
`BDAT <size> LAST` chunk: one write and one round trip a message, where each socket
call is a hand-over of the GIL between the worker's threads. Without PIPELINING the
commands go one by one, as smtplib sends them. The errors raised are smtplib's, as
`sendmail` raises them, so the worker tells a refused message from a relay that is
down as before.

Only what `mail_transport.wire_message` writes comes here: bare ASCII addresses and a
message with CRLF line ends.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass


@dataclass(frozen=True)
class Wire:
    """A message as the SMTP server gets it: envelope and bytes (CRLF line ends)."""

    sender: str
    recipients: list[str]
    data: bytes


_LEADING_DOT = re.compile(rb"(?m)^\.")


def send(smtp: smtplib.SMTP, wire: Wire) -> None:
    """Send `wire` on `smtp` (connected, EHLO done or to do); raises as `sendmail`."""
    smtp.ehlo_or_helo_if_needed()
    data = wire.data
    commands = [f"MAIL FROM:<{wire.sender}>"] + [f"RCPT TO:<{r}>" for r in wire.recipients]
    if smtp.has_extn("pipelining") and smtp.has_extn("chunking") and len(wire.recipients) == 1:
        _send_chunked(smtp, wire, commands)
        return
    body = _LEADING_DOT.sub(b"..", data) if b"\n." in data or data.startswith(b".") else data
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    body += b".\r\n"
    if smtp.has_extn("pipelining"):
        smtp.send(("\r\n".join([*commands, "DATA"]) + "\r\n").encode("ascii"))
        replies = [smtp.getreply() for _ in range(len(commands) + 1)]
    else:
        replies = []
        for command in [*commands, "DATA"]:
            smtp.send(f"{command}\r\n".encode("ascii"))
            replies.append(smtp.getreply())
            if replies[-1][0] not in (250, 251, 354):
                break
    mail, rcpts, data = replies[0], replies[1 : len(commands)], replies[len(commands) :]
    if mail[0] != 250:
        _abandon(smtp, data)
        if mail[0] == 421:
            smtp.close()
        raise smtplib.SMTPSenderRefused(mail[0], mail[1], wire.sender)
    refused = {
        r: reply
        for r, reply in zip(wire.recipients, rcpts, strict=False)
        if reply[0] not in (250, 251)
    }
    if len(rcpts) < len(wire.recipients) or refused:
        _abandon(smtp, data)
        raise smtplib.SMTPRecipientsRefused(refused or {wire.recipients[-1]: (554, b"")})
    if not data or data[0][0] != 354:
        code, reply = data[0] if data else (554, b"")
        smtp.rset()
        raise smtplib.SMTPDataError(code, reply)
    smtp.send(body)
    code, reply = smtp.getreply()
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            smtp.rset()
        raise smtplib.SMTPDataError(code, reply)


def _send_chunked(smtp: smtplib.SMTP, wire: Wire, commands: list[str]) -> None:
    """MAIL, RCPT and the whole message as one `BDAT <size> LAST` chunk (RFC 3030), in
    one write, then the three replies: one round trip a message. The message goes as
    it is (no dot-stuffing, no closing "."). With its one recipient refused the chunk
    is refused too (no valid recipient): nothing is delivered, unlike an open DATA."""
    data = wire.data if wire.data.endswith(b"\r\n") else wire.data + b"\r\n"  # as DATA ends
    head = "\r\n".join([*commands, f"BDAT {len(data)} LAST"]) + "\r\n"
    smtp.send(head.encode("ascii") + data)
    mail, rcpt, chunk = (smtp.getreply() for _ in range(3))
    if mail[0] != 250 or rcpt[0] not in (250, 251) or chunk[0] != 250:
        if 421 in (mail[0], rcpt[0], chunk[0]):
            smtp.close()
        else:
            smtp.rset()
        if mail[0] != 250:
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], wire.sender)
        if rcpt[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({wire.recipients[0]: rcpt})
        raise smtplib.SMTPDataError(chunk[0], chunk[1])


def _abandon(smtp: smtplib.SMTP, data: list[tuple[int, bytes]]) -> None:
    """After a refused MAIL or RCPT: end a DATA the server accepted anyway (with an
    empty message it will refuse for want of recipients), then RSET."""
    try:
        if data and data[0][0] == 354:
            smtp.send(b".\r\n")
            smtp.getreply()
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass
