"""Exports' CSV text, safe from formula injection: signer rows straight from a streamed
query, at disk speed, and any other rows (`csv_lines`, every cell checked: the
delivery summary).

`export_signers.export_csv` hands this module its query; nothing here knows presets or
HTTP. The per-row work is kept to what the file needs (profiled in docs/benchmarks.md):

* the DBAPI cursor's own tuples, a batch at a time (`fetch_batches`): no ORM objects,
  no SQLAlchemy Rows;
* one decryptor per encrypted column (`sealed.unsealer`: one AES-GCM cipher
  object per key) and only the columns the preset exports;
* timestamps formatted from SQLite's stored text, without building datetimes;
* a batch whose cells need no quoting (no comma, quote or line break in any) joined
  as text, which is what `csv.writer` writes for it; any other batch by the writer
  (`csv_chunk`).

Every cell that can hold text from outside (names, emails, comments, source and
referral codes, country, language) is neutralized against formula injection (OWASP
"CSV injection"). The remaining cells are written by this code from a number, a
yes/no, an ISO date or a status word, and none of those can start with = + - @ tab
or CR, so checking them would cost time and catch nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import count
from operator import itemgetter

from sqlalchemy import Select
from sqlalchemy.engine import Connection

from ...database import dbapi
from ...database.db_connections import as_sqlalchemy_error
from ...models import utc_iso
from ..sealing import sealed
from ..signer_data import consents

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
_cursor_names = count(1)  # PostgreSQL: each server-side cursor is named

# What a row of `source_columns()` becomes, in this order; presets pick from it. The
# consents are the registry's (services/signer_data/consents.py), one yes/no column each.
FIELDS_HEAD = (
    "id",
    "name",
    "email",
    "given_name",
    "family_name",
    "country",
    "language",
    "status",
    "flagged",
    "comment",
)
FIELDS_TAIL = (
    "source",
    "referrer_code",
    "created_at",
    "confirmed_at",
    "action_date",
    "sealed",  # "<row key>:<organizer copy>" (issue 23): opened offline by `flask export open`
)
# The columns the query must return, in this order: each consent's column last.
SOURCE_HEAD = (
    "id",
    "name_enc",
    "email_enc",
    "comment_enc",
    "country",
    "language",
    "status",
    "flagged",
    "source",
    "referrer_code",
    "created_at",
    "confirmed_at",
    "row_key",
    "organizer_sealed",
)


def consent_fields() -> tuple[str, ...]:
    return tuple(c.column for c in consents.all_consents())


def fields() -> tuple[str, ...]:
    return (*FIELDS_HEAD, *consent_fields(), *FIELDS_TAIL)


def source_columns() -> tuple[str, ...]:
    return (*SOURCE_HEAD, *consent_fields())


def neutralize(value: object) -> str:
    """A CSV cell that no spreadsheet will evaluate."""
    text = "" if value is None else str(value)
    if text.startswith(DANGEROUS_PREFIXES):
        return "'" + text
    return text


def iso(value: datetime | str | None) -> str:
    """UTC ISO 8601 with a Z, from a datetime or SQLite's stored text
    ("2026-01-01 10:00:00.000000" -> "2026-01-01T10:00:00Z", as isoformat() would)."""
    if not value:
        return ""
    if isinstance(value, str):
        text = value.replace(" ", "T", 1)
        return (text[:-7] if text.endswith(".000000") else text) + "Z"
    return utc_iso(value)


def split_name(name: str | None) -> tuple[str, str]:
    words = (name or "").split()
    if len(words) <= 1:
        return (words[0] if words else ""), ""
    return " ".join(words[:-1]), words[-1]


def fetch_batches(connection: Connection, query: Select, batch: int) -> Iterator[list[tuple]]:
    """The rows of `query`, `batch` at a time, as the DBAPI cursor returns them: no
    SQLAlchemy Row around each (its Result cost about 1.3 µs a row, a seventh of the
    export), and no result processing: the export's columns have none but SQLite's
    0/1 to bool, and `csv_rows` reads booleans by truth. PostgreSQL reads through a
    server-side cursor, as `stream_results` does, so memory is bounded by `batch`."""
    dialect = connection.dialect
    compiled = dbapi.Compiled(query, dialect)  # its SQL, and parameters as SQLAlchemy binds them
    raw = connection.connection  # in the Connection's transaction
    with as_sqlalchemy_error(dialect):
        named = dialect.name == "postgresql"
        cursor = raw.cursor(f"export_{next(_cursor_names)}") if named else raw.cursor()
        try:
            cursor.execute(compiled.sql, compiled.parameters({}))
            while rows := cursor.fetchmany(batch):
                yield rows
        finally:
            cursor.close()


def csv_rows(
    batches: Iterable[Sequence[Sequence]], columns: Sequence[str]
) -> Iterator[list[tuple]]:
    """Per batch of `source_columns()` rows, the CSV rows (tuples of strings) for
    `columns`, a subset of `fields()`."""
    every = fields()
    pick = itemgetter(*(every.index(c) for c in columns))
    one = len(columns) == 1
    needs = set(columns)
    name_of = sealed.unsealer(sealed.EXPORT, "name")
    email_of = sealed.unsealer(sealed.EXPORT, "email")
    comment_of = sealed.unsealer(sealed.EXPORT, "comment")
    want_email, want_comment = "email" in needs, "comment" in needs
    want_split = bool(needs & {"given_name", "family_name"})
    d = DANGEROUS_PREFIXES

    # The loop is the export's hot path: expressions are written out inline (a call
    # per cell costs more than the cell), "'" + x where x starts like a formula.
    for rows in batches:
        out = []
        append = out.append
        for (
            ident,
            name_t,
            email_t,
            comment_t,
            country,
            language,
            status,
            flagged,
            source,
            referrer,
            created,
            confirmed,
            row_key,
            organizer,
            *granted,
        ) in rows:
            name = name_of(name_t, row_key) if name_t else ""
            email = email_of(email_t, row_key) if want_email and email_t else ""
            comment = comment_of(comment_t, row_key) if want_comment and comment_t else ""
            given, family = split_name(name) if want_split else ("", "")
            if created.__class__ is str:
                created = created.replace(" ", "T", 1).removesuffix(".000000") + "Z"
            else:
                created = iso(created)
            if confirmed.__class__ is str:
                confirmed = confirmed.replace(" ", "T", 1).removesuffix(".000000") + "Z"
            elif confirmed is not None:
                confirmed = iso(confirmed)
            else:
                confirmed = ""
            full = (
                str(ident),
                ("'" + name if name.startswith(d) else name) if name else "",
                ("'" + email if email.startswith(d) else email) if email else "",
                "'" + given if given.startswith(d) else given,
                "'" + family if family.startswith(d) else family,
                ("'" + country if country.startswith(d) else country) if country else "",
                ("'" + language if language.startswith(d) else language) if language else "",
                status,
                "yes" if flagged else "no",
                ("'" + comment if comment.startswith(d) else comment) if comment else "",
                *["yes" if value else "no" for value in granted],
                ("'" + source if source.startswith(d) else source) if source else "",
                ("'" + referrer if referrer.startswith(d) else referrer) if referrer else "",
                created,
                confirmed,
                confirmed or created,
                f"{row_key}:{organizer}" if organizer else "",
            )
            append((pick(full),) if one else pick(full))
        yield out


def csv_chunk(rows: Sequence[Sequence[str]], width: int) -> str:
    """`rows` (of `width` strings each) as `csv.writer` writes them. When no cell holds
    a comma, a quote or a line break (every batch of sealed rows), the writer quotes
    nothing, and its text is the cells joined: one `join` instead of its scan of every
    cell. Whether any cell does is asked of all the batch's cells at once (`in` is a
    memchr); if one does, the writer writes the batch."""
    if width > 1:  # (a row of one empty cell is written as "")
        cells = "".join(map("".join, rows))
        if not ("," in cells or '"' in cells or "\n" in cells or "\r" in cells):
            return "\r\n".join(map(",".join, rows)) + "\r\n" if rows else ""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def csv_chunks(batches: Iterable[Sequence[Sequence]], columns: Sequence[str]) -> Iterator[str]:
    """CSV text (no header), one chunk per batch of `source_columns()` rows."""
    width = len(columns)
    for rows in csv_rows(batches, columns):
        yield csv_chunk(rows, width)


def header_text(header: Sequence[str], *, excel: bool = False) -> str:
    buffer = io.StringIO()
    if excel:
        buffer.write(BOM)
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralize(cell) for cell in header])
    return buffer.getvalue()


def csv_text(header: Sequence[str], chunks: Iterable[str], *, excel: bool = False) -> Iterator[str]:
    """The header, then the chunks."""
    yield header_text(header, excel=excel)
    yield from chunks


def csv_lines(rows: Iterable[Iterable[object]], *, excel: bool = False) -> Iterator[str]:
    """Any rows as CSV text, every cell neutralized, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if excel:
        buffer.write(BOM)
    for n, row in enumerate(rows, 1):
        writer.writerow([neutralize(cell) for cell in row])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
