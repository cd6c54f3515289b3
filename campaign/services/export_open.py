"""`flask export open`: an export's sealed column opened on the organizers' own
computer, with their private key, without the database (issue 23).

The server's CSV export carries, per row, what the server may read (empty cells for
what it may not) and a `sealed` cell, `<row key>:<o1 token>` (services/organizer_key.py).
This reads the file as a stream, opens each sealed cell, fills the name, email and
comment cells (and the given/family name split) neutralized against formula injection
as the server does, and writes the file without the `sealed` column. Rows are opened
in chunks across processes (X25519 costs about 60 µs a row), in file order, with
memory bounded by the chunks in flight.

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
from itertools import islice
from typing import IO

from . import organizer_key
from .csv_stream import BOM, DANGEROUS_PREFIXES, split_name

CHUNK = 2000  # rows per task: big enough to amortize pickling, small enough for memory
SEALED = "sealed"


class ExportOpenError(ValueError):
    pass


@dataclass
class OpenReport:
    rows: int = 0
    opened: int = 0


def _safe(text: str | None) -> str:
    text = text or ""
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


_opener: organizer_key.Opener | None = None
_layout: tuple[int, ...] = ()


def _start(pems: list[bytes], layout: tuple[int, ...]) -> None:
    """A worker's keys (PEM bytes, in memory only) and the file's column positions."""
    global _opener, _layout  # per worker process, set once by the pool's initializer
    _opener = organizer_key.Opener([organizer_key.load_private(pem) for pem in pems])
    _layout = layout


def _open_rows(rows: list[list[str]]) -> tuple[str, int, int]:
    """One chunk of rows opened, as CSV text, its rows and the sealed cells opened."""
    sealed_at, name_at, email_at, comment_at, given_at, family_at = _layout
    opener = _opener
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    opened = 0
    for row in rows:
        cell = row[sealed_at] if len(row) > sealed_at else ""
        if cell:
            row_key, _sep, token = cell.partition(":")
            try:
                found = opener.open(token, row_key)
            except organizer_key.OrganizerKeyError as exc:
                raise ExportOpenError(f"row {row[0]!r}: {exc}") from exc
            opened += 1
            if name_at >= 0:
                row[name_at] = _safe(found.name)
            if email_at >= 0:
                row[email_at] = _safe(found.email)
            if comment_at >= 0:
                row[comment_at] = _safe(found.comment)
            if given_at >= 0 or family_at >= 0:
                given, family = split_name(found.name)
                if given_at >= 0:
                    row[given_at] = _safe(given)
                if family_at >= 0:
                    row[family_at] = _safe(family)
        del row[sealed_at]
        writer.writerow(row)
    return buffer.getvalue(), len(rows), opened


def _chunks(reader: Iterable[list[str]]) -> Iterator[list[list[str]]]:
    rows = iter(reader)
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def open_export(
    source: IO[str],
    out: IO[str],
    keys: list[organizer_key.X25519PrivateKey],
    *,
    processes: int = 1,
) -> OpenReport:
    """Open every sealed cell of the CSV `source`, write the opened CSV to `out`."""
    first = source.read(1)
    excel = first == BOM
    reader = csv.reader(source if excel else _prepend(first, source))
    header = next(reader, None)
    if not header or SEALED not in header:
        raise ExportOpenError("not a sealed export: no 'sealed' column in its header")
    position = {name: i for i, name in enumerate(header)}
    layout = (position[SEALED],) + tuple(
        position.get(name, -1) for name in ("name", "email", "comment", "given_name", "family_name")
    )
    pems = [organizer_key.private_pem(key) for key in keys]
    if excel:
        out.write(BOM)
    csv.writer(out, lineterminator="\r\n").writerow([n for n in header if n != SEALED])
    if processes <= 1:
        _start(pems, layout)
        return _write(map(_open_rows, _chunks(reader)), out)
    context = multiprocessing.get_context("fork" if sys.platform != "win32" else "spawn")
    with context.Pool(processes, initializer=_start, initargs=(pems, layout)) as pool:
        return _write(_bounded(pool, _chunks(reader), 2 * processes), out)


def _bounded(pool, chunks: Iterator[list[list[str]]], window: int) -> Iterator[tuple]:
    """Results in file order with at most `window` chunks in flight (Pool.imap would
    read the whole file ahead into memory)."""
    flight: deque = deque()
    for chunk in chunks:
        flight.append(pool.apply_async(_open_rows, (chunk,)))
        if len(flight) >= window:
            yield flight.popleft().get()
    while flight:
        yield flight.popleft().get()


def _write(results: Iterable[tuple[str, int, int]], out: IO[str]) -> OpenReport:
    report = OpenReport()
    for text, rows, opened in results:
        out.write(text)
        report.rows += rows
        report.opened += opened
    return report


def _prepend(first: str, rest: IO[str]) -> Iterator[str]:
    """The stream's lines with its first character (read to look for a BOM) put back."""
    line = first + rest.readline()
    if line:
        yield line
    yield from rest
