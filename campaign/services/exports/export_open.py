"""`flask export open`: an export's sealed column opened on the organizers' own
computer, with their private key, without the database (issue 23).

The server's CSV export carries, per row, what the server may read (empty cells for
what it may not) and a `sealed` cell, `<row key>:<sealed value>`
(services/sealing/organizer_key.py).
This reads the file as a stream, opens each sealed cell, fills the name, email and
comment cells (and the given/family name split) neutralized against formula injection
as the server does, and writes the file without the `sealed` column.

Speed (1M rows in under a minute on two cores, bench/sealing.py): the HPKE open of a
row's envelope, one X25519 decapsulation, is about 85 % of the work when each row has an
envelope of its own (signatures mailed one at a time; rows of a shared envelope reuse
its opened key), so the rows go to worker processes, one per CPU. The parent stays
nearly idle so that it does not take a core from them: it reads the file in blocks of
about `BLOCK_BYTES`, cut at a record's end (a newline after an even number of `"`: CSV
escapes a quote as two, so a newline inside a quoted cell follows an odd count), hands
each block to a worker as bytes (no parsing, no pickling of rows), and writes the opened
bytes back in file order. Workers decode, parse, open and encode. Memory is bounded by
the blocks in flight (`2 x processes`).

Pure: no Flask, no database.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from ..sealing import organizer_key
from .csv_stream import DANGEROUS_PREFIXES

BLOCK_BYTES = 1 << 20  # about 4,000 rows: a tenth of a second of a worker's work
SEALED = "sealed"
BOM = b"\xef\xbb\xbf"
FILLED = ("name", "email", "comment", "given_name", "family_name")


class ExportOpenError(ValueError):
    pass


@dataclass
class OpenReport:
    rows: int = 0
    opened: int = 0


_opener = organizer_key.Opener([])
_layout: tuple[int, ...] = ()


def _start(pems: list[bytes], layout: tuple[int, ...]) -> None:
    """A worker's keys (PEM bytes, in memory only) and the file's column positions."""
    global _opener, _layout  # per worker process, set once by the pool's initializer
    _opener = organizer_key.Opener([organizer_key.load_private(pem) for pem in pems])
    _layout = layout


def _open_block(block: bytes) -> tuple[bytes, int, int]:
    """One block of whole records opened: its CSV bytes, its rows, the cells opened.
    The per-row loop is the hot path after the HPKE open itself: written out inline."""
    sealed_at, name_at, email_at, comment_at, given_at, family_at = _layout
    open_fields, danger = _opener.open_fields, DANGEROUS_PREFIXES
    rows = _records(block.decode("utf-8"))
    opened = 0
    for row in rows:
        cell = row.pop(sealed_at) if len(row) > sealed_at else ""
        if not cell:
            continue
        row_key, _sep, token = cell.partition(":")
        try:
            name, email, comment = open_fields(token, row_key)
        except organizer_key.OrganizerKeyError as exc:
            raise ExportOpenError(f"row {row[0]!r}: {exc}") from exc
        opened += 1
        name, email, comment = name or "", email or "", comment or ""
        if name_at >= 0:
            row[name_at] = "'" + name if name.startswith(danger) else name
        if email_at >= 0:
            row[email_at] = "'" + email if email.startswith(danger) else email
        if comment_at >= 0:
            row[comment_at] = "'" + comment if comment.startswith(danger) else comment
        if given_at >= 0 or family_at >= 0:
            words = name.split()
            given, family = (
                (name.strip(), "") if len(words) < 2 else (" ".join(words[:-1]), words[-1])
            )
            if given_at >= 0:
                row[given_at] = "'" + given if given.startswith(danger) else given
            if family_at >= 0:
                row[family_at] = "'" + family if family.startswith(danger) else family
    return _csv_text(rows).encode("utf-8"), len(rows), opened


def _records(text: str) -> list[list[str]]:
    """The records of a block of whole CSV records. A line with no quote and no inner
    carriage return is split on commas (what `csv.reader` would make of it, at a tenth
    of its cost); any other record, which may span lines, goes to `csv.reader`."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    rows: list[list[str]] = []
    i, count = 0, len(lines)
    while i < count:
        line = lines[i]
        body = line[:-1] if line.endswith("\r") else line
        if '"' not in body and "\r" not in body:
            rows.append(body.split(",") if body else [])
            i += 1
            continue
        record, quotes = line, line.count('"')
        i += 1
        while quotes % 2 and i < count:
            record += "\n" + lines[i]
            quotes += lines[i].count('"')
            i += 1
        rows.extend(csv.reader(io.StringIO(record + "\n", newline="")))
    return rows


def _csv_text(rows: list[list[str]]) -> str:
    """The rows as CSV (RFC 4180, CRLF), byte for byte what `csv.writer` writes: a row
    none of whose cells needs quoting is joined with commas; any other goes to it."""
    out = []
    special = io.StringIO()
    writer = csv.writer(special, lineterminator="\r\n")
    for row in rows:
        line = ",".join(row)
        if (
            line.count(",") == len(row) - 1
            and len(row) > 1
            and '"' not in line
            and "\n" not in line
            and "\r" not in line
        ):
            out.append(line)
            out.append("\r\n")
        else:
            writer.writerow(row)
            out.append(special.getvalue())
            special.seek(0)
            special.truncate()
    return "".join(out)


def _blocks(source: IO[bytes], size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """The stream in blocks of whole records: each ends with a newline that follows an
    even number of quotes (so not inside a quoted cell), or at the end of the file."""
    while block := source.read(size):
        quotes = block.count(b'"')
        while quotes % 2 or not block.endswith(b"\n"):
            line = source.readline()
            if not line:
                break
            quotes += line.count(b'"')
            block += line
        yield block


def _header(source: IO[bytes]) -> tuple[list[str], bool]:
    """The header record (read line by line up to its end) and whether a BOM led it."""
    data = source.readline()
    while data.count(b'"') % 2 and (line := source.readline()):
        data += line
    excel = data.startswith(BOM)
    try:
        text = data[len(BOM) :].decode("utf-8") if excel else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExportOpenError("not a UTF-8 CSV export") from exc
    return next(csv.reader([text]), []), excel


def open_export(
    source: IO[bytes],
    out: IO[bytes],
    keys: list[organizer_key.X25519PrivateKey],
    *,
    processes: int = 1,
    block_bytes: int = BLOCK_BYTES,
) -> OpenReport:
    """Open every sealed cell of the CSV byte stream `source`, write the opened CSV
    (UTF-8, a BOM kept if the source had one) to the byte stream `out`."""
    header, excel = _header(source)
    if SEALED not in header:
        raise ExportOpenError("not a sealed export: no 'sealed' column in its header")
    position = {name: i for i, name in enumerate(header)}
    layout = (position[SEALED],) + tuple(position.get(name, -1) for name in FILLED)
    pems = [organizer_key.private_pem(key) for key in keys]
    head = io.StringIO()
    csv.writer(head, lineterminator="\r\n").writerow([n for n in header if n != SEALED])
    out.write((BOM if excel else b"") + head.getvalue().encode("utf-8"))
    blocks = _blocks(source, block_bytes)
    try:
        if processes <= 1:
            _start(pems, layout)
            return _write(map(_open_block, blocks), out)
        context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
        with context.Pool(processes, initializer=_start, initargs=(pems, layout)) as pool:
            return _write(_bounded(pool, blocks, 2 * processes), out)
    except UnicodeDecodeError as exc:
        raise ExportOpenError("not a UTF-8 CSV export") from exc
    except csv.Error as exc:
        raise ExportOpenError(f"not a readable CSV export: {exc}") from exc


def _bounded(pool, blocks: Iterator[bytes], window: int) -> Iterator[tuple]:
    """Results in file order with at most `window` blocks in flight (Pool.imap would
    read the whole file ahead into memory)."""
    flight: deque = deque()
    for block in blocks:
        flight.append(pool.apply_async(_open_block, (block,)))
        if len(flight) >= window:
            yield flight.popleft().get()
    while flight:
        yield flight.popleft().get()


def _write(results: Iterable[tuple[bytes, int, int]], out: IO[bytes]) -> OpenReport:
    report = OpenReport()
    for data, rows, opened in results:
        out.write(data)
        report.rows += rows
        report.opened += opened
    return report
