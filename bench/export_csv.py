"""Export benchmark, run as its own process so its peak RSS is its own.

It measures the service organizers use, `campaign.services.exports.export_signers.export_csv` with
the "full" preset, run as `flask export` runs it (one process per CPU for a large export):
rows come from the DBAPI cursor a batch at a time (a server-side one on PostgreSQL), each
name, email and comment is decrypted, every cell is neutralized against formula
injection, and the CSV streams to the file (a worker's range copied by the kernel).
(`minimal_export` below is a bare-bones version of the same work, kept for comparison:
`python bench/export_csv.py … --minimal`.)
Usage: python bench/export_csv.py DATABASE_URL CAMPAIGN_ID LIMIT OUT.csv
(keys in the environment). Prints one JSON line.
"""

from __future__ import annotations

import csv
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
# minimal_export also needs each row's key (the ciphertexts are bound to it).
MINIMAL_QUERY = QUERY.replace("confirmed_at ", "confirmed_at, row_key ", 1)
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
    from campaign.services.sealing import crypto

    writer = csv.writer(out)
    writer.writerow(HEADER)
    written = 0
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(
            text(MINIMAL_QUERY.format(campaign_id=int(campaign_id), limit=int(limit)))
        )
        name = crypto.field_decryptor("signatures.name_enc")
        email = crypto.field_decryptor("signatures.email_enc")
        comment = crypto.field_decryptor("signatures.comment_enc")
        for row in result:
            writer.writerow(
                (
                    row[0],
                    neutralize(name(row[1], row[8])),
                    neutralize(email(row[2], row[8])),
                    neutralize(comment(row[3], row[8])),
                    row[4],
                    row[5],
                    row[6],
                    row[7],
                )
            )
            written += 1
    return written


def service_export(campaign_id: int, limit: int, out) -> int:
    """The real export: `campaign.services.exports.export_signers.export_csv`, preset "full" (names,
    emails and comments decrypted, every cell neutralized), streamed to `out` (binary) as
    `flask export` writes it."""
    from campaign.services.exports import export_parallel, export_signers
    from campaign.services.signer_data.signers import SignerFilter

    lines = 0
    # As `flask export` runs it: one process per CPU for a large export.
    processes = os.cpu_count() or 1
    for chunk in export_signers.export_csv(
        campaign_id, "full", SignerFilter(), limit=limit, processes=processes
    ):
        if isinstance(chunk, export_parallel.Part):
            lines += chunk.write_to(out)  # its rows
            continue
        data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
        out.write(data)
        lines += data.count(b"\r\n")
    return lines - 1  # less the header


def main() -> None:
    url, campaign_id, limit, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    from campaign import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "HASH_KEY": os.environ["HASH_KEY"],
            "ENCRYPTION_KEYS": os.environ["ENCRYPTION_KEYS"].split(","),
            "LOG_LEVEL": "WARNING",
        }
    )
    began = time.perf_counter()
    minimal = "--minimal" in sys.argv[5:]
    with app.app_context():
        if minimal:
            measured = "bench/export_csv.py minimal_export"
            with open(path, "w", newline="", encoding="utf-8") as text:
                written = minimal_export(campaign_id, limit, text)
        else:
            measured = "campaign.services.exports.export_signers.export_csv (preset full)"
            with open(path, "wb") as out:
                written = service_export(campaign_id, limit, out)
    seconds = time.perf_counter() - began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "measured": measured,
                "rows": written,
                "seconds": round(seconds, 3),
                "peak_rss_mb": round(peak_kb / 1024, 1),
                "bytes": os.path.getsize(path),
            }
        )
    )


if __name__ == "__main__":
    main()
