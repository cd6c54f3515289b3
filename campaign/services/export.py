"""Streamed exports of signers: CSV, JSON Lines (OSDI) and a delivery summary.

Everything here is a generator over a streamed query (server-side cursor on
PostgreSQL, `yield_per` batches elsewhere), so a million rows never sit in memory.
Every CSV cell that a spreadsheet could read as a formula is neutralized
(OWASP "CSV injection"): quoting alone doesn't stop Excel evaluating `=…`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _
from sqlalchemy import String, func, null, select, type_coerce

from ..extensions import db
from ..models import Campaign, Signature, utc_iso
from . import audit, csv_stream, export_parallel, sealed
from .content import CampaignContent
from .privacy import SignerRecord, signer_record
from .signers import SignerFilter, apply_filter, masked_filters

FORMATS = ("csv", "jsonl", "summary-csv", "summary-json")
DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
ORIGIN_SYSTEM = "campaign-petition"
BATCH = 1000  # rows fetched per round trip; memory is bounded by this, not the export


@dataclass(frozen=True)
class Preset:
    """The columns a preset exports; which rows it takes is in `preset_query`, and its
    label is the export form's (`admin/forms.py`)."""

    columns: tuple[str, ...]


PRESETS = {
    # Confirmed signers who consented to contact.
    "mailing": Preset(
        ("email", "name", "given_name", "family_name", "country", "language", "action_date"),
    ),
    # Names and countries of confirmed signers who agreed to be named in the delivery.
    "delivery": Preset(("name", "country", "action_date")),
    # Every field of every matching signature.
    "full": Preset(
        (
            "id",
            "name",
            "email",
            "country",
            "language",
            "status",
            "flagged",
            "comment",
            "public_consent",
            "contact_consent",
            "source",
            "referrer_code",
            "created_at",
            "confirmed_at",
        ),
    ),
}


class ExportError(ValueError):
    pass


def neutralize(value: object) -> str:
    """A CSV cell that no spreadsheet will evaluate."""
    text = "" if value is None else str(value)
    if text.startswith(DANGEROUS_PREFIXES):
        return "'" + text
    return text


def split_name(name: str | None) -> tuple[str, str]:
    words = (name or "").split()
    if len(words) <= 1:
        return (words[0] if words else ""), ""
    return " ".join(words[:-1]), words[-1]


def preset_query(campaign_id: int, preset: str, filters: SignerFilter):
    """The preset's own rule, ANDed with the table's filters."""
    if preset not in PRESETS:
        raise ExportError(_("Unknown preset %(preset)r.", preset=preset))
    query = apply_filter(select(Signature), campaign_id, filters)
    if preset in ("mailing", "delivery"):
        query = query.where(
            Signature.counted,
            Signature.erased_at.is_(None),
        )
    if preset == "mailing":
        query = query.where(Signature.contact_consent.is_(True), Signature.email_enc.is_not(None))
    if preset == "delivery":  # names go to the addressee only with that consent
        query = query.where(Signature.delivery_consent.is_(True))
    return query.order_by(Signature.id)


def count_rows(campaign_id: int, preset: str, filters: SignerFilter) -> int:
    query = preset_query(campaign_id, preset, filters).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


# Plain columns rather than ORM objects: no identity map to fill and empty per row.
RECORD_COLUMNS = tuple(
    getattr(Signature, name)
    for name in (
        "id",
        "name_enc",
        "email_enc",
        "comment_enc",
        "country",
        "language",
        "status",
        "flagged",
        "public_consent",
        "contact_consent",
        "source",
        "referrer_code",
        "created_at",
        "confirmed_at",
        "erased_at",
        "row_key",
    )
)


def records(
    campaign_id: int, preset: str, filters: SignerFilter, limit: int | None = None
) -> Iterator[SignerRecord]:
    """Decrypted records, streamed: a server-side cursor (PostgreSQL) or batches of BATCH."""
    # Decrypt only what the preset exports: a delivery list never touches emails.
    needed = set(PRESETS[preset].columns) | {"name"}
    wanted = {"email_enc": "email" in needed, "comment_enc": "comment" in needed}
    columns = [
        column if wanted.get(column.key, True) else null().label(column.key)
        for column in RECORD_COLUMNS
    ]
    query = preset_query(campaign_id, preset, filters).with_only_columns(*columns).limit(limit)
    result = db.session.execute(query.execution_options(yield_per=BATCH, stream_results=True))
    for row in result:
        yield signer_record(row, sealed.EXPORT)  # a Row has the same attribute names as a Signature


def _iso(value: datetime | None) -> str:
    return utc_iso(value) or ""


def csv_lines(rows: Iterable[Iterable[object]], *, excel: bool = False) -> Iterator[str]:
    """Rows as CSV text, a few hundred rows per chunk."""
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


audit_filters = masked_filters  # the same masking as the signers table's looks


def export_csv(
    campaign_id: int,
    preset: str,
    filters: SignerFilter,
    *,
    excel: bool = False,
    limit: int | None = None,
    processes: int = 1,
) -> Iterator[str]:
    """The preset's rows as CSV, streamed in batches (services/csv_stream.py); with
    `processes` > 1 (the CLI only), large exports run across processes."""
    columns = PRESETS[preset].columns
    wanted = {"email_enc": "email" in columns, "comment_enc": "comment" in columns}
    selected = []
    for name in csv_stream.SOURCE_COLUMNS:
        column = getattr(Signature, name)
        if not wanted.get(name, True):
            column = null().label(name)  # not exported: not read, not decrypted
        elif name in ("created_at", "confirmed_at"):
            column = type_coerce(column, String).label(name)  # SQLite's text, unparsed
        selected.append(column)
    query = preset_query(campaign_id, preset, filters).with_only_columns(*selected).limit(limit)

    def chunks() -> Iterator[str]:
        # Run when the first chunk is asked for, after `build` commits its audit event
        # (a commit would close PostgreSQL's server-side cursor). Core, not ORM: plain
        # tuples, nothing per row to load.
        bounds = export_parallel.id_bounds(query, limit) if processes > 1 else None
        if export_parallel.worth_it(bounds, processes):
            yield csv_stream.header_text(columns, excel=excel)
            yield from export_parallel.parallel_text(query.limit(None), columns, bounds, processes)
            return
        result = db.session.connection().execute(
            query.execution_options(yield_per=BATCH, stream_results=True)
        )
        yield from csv_stream.csv_text(
            columns, csv_stream.csv_rows(result, columns, BATCH), excel=excel
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


# --- the delivery summary: no personal data --------------------------------


def country_counts(campaign_id: int, filters: SignerFilter | None = None) -> list[tuple[str, int]]:
    query = apply_filter(
        select(Signature.country, func.count(Signature.id)), campaign_id, filters or SignerFilter()
    ).where(Signature.counted)
    rows = db.session.execute(query.group_by(Signature.country)).all()
    return sorted(((c, int(n)) for c, n in rows), key=lambda item: (-item[1], item[0]))


def summary(
    content: CampaignContent,
    campaign: Campaign,
    language: str = "en",
    filters: SignerFilter | None = None,
) -> dict:
    text = content.text(language)
    by_country = country_counts(campaign.id, filters)
    return {
        "campaign": content.slug,
        "title": text.title,
        "addressee": text.addressee,
        "petition_text": text.petition_text,
        "total_signatures": sum(n for _, n in by_country),
        "by_country": [{"country": c, "count": n} for c, n in by_country],
        "generated_at": _iso(datetime.now(UTC).replace(tzinfo=None)),
    }


def export_summary_json(data: dict) -> Iterator[str]:
    yield json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def export_summary_csv(data: dict, *, excel: bool = False) -> Iterator[str]:
    rows = [
        ("campaign", data["campaign"]),
        ("title", data["title"]),
        ("addressee", data["addressee"]),
        ("petition_text", data["petition_text"]),
        ("total_signatures", data["total_signatures"]),
        ("generated_at", data["generated_at"]),
        (),
        ("country", "count"),
        *((item["country"], item["count"]) for item in data["by_country"]),
    ]
    return csv_lines(rows, excel=excel)


# --- one entry point for the admin and the CLI -------------------------------


@dataclass
class ExportJob:
    chunks: Iterator[str]
    filename: str
    mimetype: str
    rows: int


def build(
    content: CampaignContent,
    campaign: Campaign,
    *,
    preset: str,
    fmt: str,
    filters: SignerFilter,
    excel: bool = False,
    language: str = "en",
    via: str = "admin",
    processes: int = 1,
) -> ExportJob:
    """Record the export in the audit log (committed), then return its stream.

    The audit entry is written before the first byte leaves, so no personal data
    leaves without a record, even if the download is interrupted.
    """
    if fmt not in FORMATS:
        raise ExportError(_("Unknown format %(fmt)r.", fmt=fmt))
    if preset not in PRESETS:
        raise ExportError(_("Unknown preset %(preset)r.", preset=preset))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    if fmt.startswith("summary"):
        data = summary(content, campaign, language, filters)
        rows = len(data["by_country"])
        ext = "json" if fmt == "summary-json" else "csv"
        name = f"{content.slug}-summary-{stamp}.{ext}"
        chunks = (
            export_summary_json(data) if ext == "json" else export_summary_csv(data, excel=excel)
        )
        mimetype = "application/json" if ext == "json" else "text/csv; charset=utf-8"
        personal = False
    else:
        rows = count_rows(campaign.id, preset, filters)
        ext = "csv" if fmt == "csv" else "jsonl"
        name = f"{content.slug}-{preset}-{stamp}.{ext}"
        if fmt == "csv":
            chunks = export_csv(campaign.id, preset, filters, excel=excel, processes=processes)
            mimetype = "text/csv; charset=utf-8"
        else:
            chunks = export_jsonl(campaign.id, preset, filters)
            mimetype = "application/x-ndjson; charset=utf-8"
        personal = True
    audit.record(
        "export",
        campaign_id=campaign.id,
        target=content.slug,
        actor_email=None if via == "admin" else via,
        details={
            "preset": None if not personal else preset,
            "format": fmt,
            "excel": excel,
            "filters": audit_filters(filters),
            "rows": rows,
            "via": via,
        },
    )
    db.session.commit()
    return ExportJob(chunks, name, mimetype, rows)
