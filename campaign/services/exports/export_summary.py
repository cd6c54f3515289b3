"""The delivery summary: counted signatures per country and the petition's text, no
personal data, as JSON or CSV (every cell neutralized, csv_stream.csv_lines)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import func, select

from ...extensions import db
from ...models import Campaign, Signature, utc_iso, utcnow
from ..pages.content import CampaignContent
from ..signer_data.signers import SignerFilter, apply_filter
from .csv_stream import csv_lines


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
        "generated_at": utc_iso(utcnow()),
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
