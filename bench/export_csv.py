"""Export benchmark, run as its own process so its peak RSS is its own.

It measures `campaign.services.export.write_csv` when that function exists and
accepts the arguments below; otherwise a minimal streamed export written here
(`minimal_export`): rows come through a server-side cursor (`yield_per`), each
name, email and comment is decrypted through `services.crypto`, every cell is
neutralized against formula injection, and csv.writer streams to the file.
Usage: python bench/export_csv.py DATABASE_URL CAMPAIGN_ID LIMIT OUT.csv
(keys in the environment). Prints one JSON line.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same columns, in the same order, as the sqlite3 -csv / psql \copy baseline.
QUERY = (
    "SELECT id, name_enc, email_enc, comment_enc, country, status, created_at, confirmed_at "
    "FROM signatures WHERE campaign_id = {campaign_id} AND status = 'confirmed' "
    "ORDER BY id LIMIT {limit}"
)
HEADER = ["id", "name", "email", "comment", "country", "status", "created_at", "confirmed_at"]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: object) -> object:
    """Spreadsheets run cells that start like a formula; a leading ' makes them text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def minimal_export(campaign_id: int, limit: int, out) -> int:
    from sqlalchemy import text

    from campaign.extensions import db
    from campaign.services import crypto

    writer = csv.writer(out)
    writer.writerow(HEADER)
    written = 0
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            text(QUERY.format(campaign_id=int(campaign_id), limit=int(limit)))
        )
        decrypt = crypto.bulk_decryptor()
        for row in result:
            writer.writerow((
                row[0], neutralize(decrypt(row[1])), neutralize(decrypt(row[2])),
                neutralize(decrypt(row[3])), row[4], row[5], row[6], row[7],
            ))  # fmt: skip
            written += 1
    return written


def service_export(campaign_id: int, limit: int, out) -> int | None:
    """Call the export service if it exists and its signature is one we can fill."""
    try:
        from campaign.services import export
    except ImportError:
        return None
    write_csv = getattr(export, "write_csv", None)
    if write_csv is None:
        return None
    from campaign.extensions import db
    from campaign.models import Campaign

    campaign = db.session.get(Campaign, campaign_id)
    offered = {
        "campaign": campaign, "campaign_id": campaign_id, "slug": campaign.slug,
        "out": out, "stream": out, "fileobj": out, "file": out, "fp": out, "output": out,
        "limit": limit,
    }  # fmt: skip
    params = inspect.signature(write_csv).parameters
    kwargs = {}
    for name, param in params.items():
        if name in offered:
            kwargs[name] = offered[name]
        elif param.default is inspect.Parameter.empty and param.kind not in (
            param.VAR_KEYWORD, param.VAR_POSITIONAL
        ):
            return None  # a required argument we can't supply
    result = write_csv(**kwargs)
    return result if isinstance(result, int) else -1


def main() -> None:
    url, campaign_id, limit, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    from campaign import create_app

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": os.environ["SECRET_KEY"],
        "HASH_KEY": os.environ["HASH_KEY"],
        "ENCRYPTION_KEYS": os.environ["ENCRYPTION_KEYS"].split(","), "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    began = time.perf_counter()
    with app.app_context(), open(path, "w", newline="", encoding="utf-8") as out:
        measured = "campaign.services.export.write_csv"
        service_error = None
        try:
            written = service_export(campaign_id, limit, out)
        except Exception as exc:  # noqa: BLE001 - fall back, and say why in the results
            service_error = f"{type(exc).__name__}: {exc}"[:300]
            written = None
        if written is None:
            out.seek(0)
            out.truncate()
            measured = "bench/export_csv.py minimal_export"
            written = minimal_export(campaign_id, limit, out)
    seconds = time.perf_counter() - began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "measured": measured, "rows": written, "seconds": round(seconds, 3),
        "peak_rss_mb": round(peak_kb / 1024, 1), "bytes": os.path.getsize(path),
        "service_error": service_error,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
