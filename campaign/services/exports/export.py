"""Exports' one entry point, for the admin and the CLI: `build` checks the preset and
format, records the export in the audit log (committed) before the first byte, and
returns its stream: signers as CSV or OSDI JSON Lines (export_signers.py) or the
delivery summary (export_summary.py). Presets are in export_presets.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from flask_babel import gettext as _

from ...extensions import db
from ...models import Campaign
from ..pages.content import CampaignContent
from ..sealing import audit
from ..signer_data.signers import SignerFilter, masked_filters
from .export_parallel import Part
from .export_presets import PRESETS, ExportError, count_rows
from .export_signers import export_csv, export_jsonl
from .export_summary import export_summary_csv, export_summary_json, summary

FORMATS = ("csv", "jsonl", "summary-csv", "summary-json")

audit_filters = masked_filters  # the same masking as the signers table's looks


@dataclass
class ExportJob:
    # Text; with the CLI's `processes` > 1, UTF-8 bytes and `export_parallel.Part`s.
    chunks: Iterator[str | bytes | Part]
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
