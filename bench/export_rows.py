"""Benchmark: stream an export of N signers and report time and peak memory.

    .venv/bin/python bench/export_rows.py 1000000            # SQLite in a temp dir
    DATABASE_URL=postgresql://… .venv/bin/python bench/export_rows.py 1000000

It also times the signers table's first and a deep keyset page, and the dashboard's
numbers. Rows are inserted with the same name/email, encrypted for each row (AES-GCM
binds a value to its row), then `export_csv(..., "full", ...)` is streamed to /dev/null. Peak RSS
should stay flat as N grows: the export holds one batch (export_signers.BATCH rows) at a time.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time

from cryptography.fernet import Fernet
from sqlalchemy import insert

from campaign import create_app
from campaign.extensions import db


def main(total: int) -> None:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "HASH_KEY": "bench",
            "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        from campaign.models import Signature
        from campaign.services.exports import export_signers
        from campaign.services.pages.campaigns import get_row
        from campaign.services.pages.content import library
        from campaign.services.sealing import crypto
        from campaign.services.signer_data.signers import SignerFilter

        upgrade()
        row = get_row(library().home())
        seal = crypto.seal_signer  # bound to each row's key, as the app writes them
        started = time.monotonic()
        for start in range(0, total, 10_000):
            db.session.execute(
                insert(Signature),
                [
                    {
                        "campaign_id": row.id,
                        "status": "confirmed",
                        "dedup_key": f"b{n}",
                        "row_key": f"{n:032x}",
                        "email_enc": seal("bench@example.org", "email_enc", f"{n:032x}"),
                        "name_enc": seal("Bench Signer", "name_enc", f"{n:032x}"),
                        "country": "DE",
                        "language": "en",
                        "referral_code": f"r{n}",
                        "contact_consent": True,
                    }
                    for n in range(start, min(start + 10_000, total))
                ],
            )
            db.session.commit()
        print(f"inserted {total} rows in {time.monotonic() - started:.1f}s")
        from campaign.services.pages import stats
        from campaign.services.signer_data import signers

        for label, before in (("first page", None), ("deep page", total // 2)):
            started = time.monotonic()
            rows, _ = signers.page(row.id, SignerFilter(), before=before)
            print(
                f"signers table, {label}: {len(rows)} rows in "
                f"{(time.monotonic() - started) * 1000:.1f} ms"
            )
        started = time.monotonic()
        stats.totals(row.id), stats.series(row.id, "day", 30), stats.top_countries(row.id)
        print(f"dashboard numbers in {(time.monotonic() - started) * 1000:.0f} ms")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        size = 0
        with open(os.devnull, "w") as sink:
            for chunk in export_signers.export_csv(row.id, "full", SignerFilter()):
                size += len(chunk)
                sink.write(chunk)
        elapsed = time.monotonic() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(
            f"exported {size / 1e6:.1f} MB in {elapsed:.1f}s ({total / elapsed:,.0f} rows/s); "
            f"peak RSS {rss_before / 1024:.0f} MB before, {rss_after / 1024:.0f} MB after"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
