"""The signer exports, streamed: a preset's rows as CSV (csv_stream.py, or
export_parallel.py across processes) or as OSDI JSON Lines.

Everything here is a generator over a streamed query (server-side cursor on
PostgreSQL, `yield_per` batches elsewhere), so a million rows never sit in memory.
Personal data is decrypted for the EXPORT reason only, and only the columns the
preset exports; `export.build` audits the export before the first row leaves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import null

from ...extensions import db
from ...models import Signature, utc_iso
from ..sealing import sealed
from ..signer_data.privacy import SignerRecord, signer_record
from ..signer_data.signers import SignerFilter
from . import csv_stream, export_parallel
from .csv_stream import split_name
from .export_presets import PRESETS, preset_query

ORIGIN_SYSTEM = "campaign-petition"
BATCH = 1000  # rows fetched per round trip; memory is bounded by this, not the export


def record_columns() -> tuple:
    """Plain columns rather than ORM objects: no identity map to fill and empty per row."""
    table = Signature.__table__
    return tuple(table.c[name] for name in (*csv_stream.source_columns(), "erased_at"))


def records(
    campaign_id: int, preset: str, filters: SignerFilter, limit: int | None = None
) -> Iterator[SignerRecord]:
    """Decrypted records, streamed: a server-side cursor (PostgreSQL) or batches of BATCH."""
    # Decrypt only what the preset exports: a delivery list never touches emails.
    needed = set(PRESETS[preset].columns) | {"name"}
    wanted = {"email_enc": "email" in needed, "comment_enc": "comment" in needed}
    columns = [
        column if wanted.get(column.key, True) else null().label(column.key)
        for column in record_columns()
    ]
    query = preset_query(campaign_id, preset, filters).with_only_columns(*columns).limit(limit)
    result = db.session.execute(query.execution_options(yield_per=BATCH, stream_results=True))
    for row in result:
        yield signer_record(row, sealed.EXPORT)  # a Row has the same attribute names as a Signature


def sealed_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """A preset's columns, and the organizer copy when signatures are sealed to the
    organizers' key (issue 23): what the server can't read leaves sealed, for `flask
    export open` on the organizers' computer."""
    return (*columns, "sealed") if sealed.organizer_sealer() is not None else columns


def _iso(value: datetime | None) -> str:
    return utc_iso(value) or ""


def export_csv(
    campaign_id: int,
    preset: str,
    filters: SignerFilter,
    *,
    excel: bool = False,
    limit: int | None = None,
    processes: int = 1,
) -> Iterator[str | bytes | export_parallel.Part]:
    """The preset's rows as CSV text, streamed in batches (services/exports/csv_stream.py).
    With `processes` > 1 (the CLI only), a large export runs across processes: its
    header as UTF-8 bytes, then a `Part` per range, each to be written (`write_to`)
    before the next is asked for (services/exports/export_parallel.py)."""
    columns = sealed_columns(PRESETS[preset].columns)
    wanted = {"email_enc": "email" in columns, "comment_enc": "comment" in columns}
    wanted["organizer_sealed"] = "sealed" in columns
    # Not exported: not read, not decrypted. (Times come as the DBAPI gives them:
    # SQLite's stored text, formatted without building datetimes.)
    selected = [
        Signature.__table__.c[name] if wanted.get(name, True) else null().label(name)
        for name in csv_stream.source_columns()
    ]
    query = preset_query(campaign_id, preset, filters).with_only_columns(*selected).limit(limit)

    def chunks() -> Iterator[str | bytes | export_parallel.Part]:
        # Run when the first chunk is asked for, after `build` commits its audit event
        # (a commit would close PostgreSQL's server-side cursor). Plain DBAPI tuples,
        # nothing per row to load (csv_stream.fetch_batches).
        bounds = export_parallel.id_bounds(query, limit) if processes > 1 else None
        if export_parallel.worth_it(bounds, processes):
            yield csv_stream.header_text(columns, excel=excel).encode("utf-8")
            yield from export_parallel.parallel_csv(query.limit(None), columns, bounds, processes)
            return
        batches = csv_stream.fetch_batches(db.session.connection(), query, BATCH)
        yield from csv_stream.csv_text(
            columns, csv_stream.csv_chunks(batches, columns), excel=excel
        )

    return chunks()


def osdi_signature(record: SignerRecord, preset: str) -> dict:
    """One signer in the shape of OSDI's person/signature (Action Network imports it)."""
    given, family = split_name(record.name)
    item: dict = {"given_name": given, "family_name": family}
    if record.name and not family:
        item["name"] = record.name
    if preset != "delivery" and record.email:
        item["email_addresses"] = [
            {
                "address": record.email,
                "primary": True,
                "status": "subscribed" if record.contact_consent else "unsubscribed",
            }
        ]
    item["postal_addresses"] = [{"country": record.country}]
    item["action_date"] = _iso(record.confirmed_at or record.created_at)
    if preset == "full" and record.comment:
        item["comments"] = record.comment
    referrer = {
        k: v for k, v in (("source", record.source), ("referrer", record.referrer_code)) if v
    }
    if referrer:
        item["referrer_data"] = referrer
    item["origin_system"] = ORIGIN_SYSTEM
    if preset == "full":
        item["custom_fields"] = {
            "status": record.status,
            "flagged": record.flagged,
            "language": record.language,
        }
    return item


def export_jsonl(campaign_id: int, preset: str, filters: SignerFilter) -> Iterator[str]:
    chunk: list[str] = []
    for record in records(campaign_id, preset, filters):
        chunk.append(json.dumps(osdi_signature(record, preset), ensure_ascii=False) + "\n")
        if len(chunk) >= 500:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
