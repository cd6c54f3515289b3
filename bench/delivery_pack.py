"""Delivery pack benchmark, run as its own process so its peak RSS is its own.

It measures what organizers run, `campaign.services.exports.delivery.build` (PDF): one snapshot
of the numbers, every consenting name streamed and decrypted, the HTML rendered and
laid out by WeasyPrint into a PDF. Every counted signer is first marked as consenting
to be named (`--name-all`), the worst case: a name per signature.

Usage: python bench/delivery_pack.py DATABASE_URL SLUG OUT.pdf [--name-all]
(keys in the environment). Prints one JSON line.
Standalone (seeds ROWS confirmed signatures into DATABASE_URL, a migrated database or by
default a fresh SQLite file, then measures with GNU time):
    python bench/delivery_pack.py --standalone 100000 [DATABASE_URL]
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

TARGET_SECONDS, TARGET_RSS_MB = 60, 300  # issue 12: 100,000 names, < 60 s, < 300 MB


def make_app(url: str):
    from campaign import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "HASH_KEY": os.environ["HASH_KEY"],
            "ENCRYPTION_KEYS": os.environ["ENCRYPTION_KEYS"].split(","),
            "LOG_LEVEL": "WARNING",
            **({"CONTENT_DIR": os.environ["CONTENT_DIR"]} if os.environ.get("CONTENT_DIR") else {}),
        }
    )


def name_everyone(campaign_id: int) -> None:
    from sqlalchemy import update

    from campaign.extensions import db
    from campaign.models import Signature

    db.session.execute(
        update(Signature).where(Signature.campaign_id == campaign_id).values(delivery_consent=True)
    )
    db.session.commit()


def measure(url: str, slug: str, path: str, name_all: bool) -> dict:
    import logging

    from campaign.services.exports import delivery
    from campaign.services.pages.campaigns import get_row
    from campaign.services.pages.content import library

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    app = make_app(url)
    with app.app_context():
        content = library().get(slug)
        row = get_row(content)
        if name_all:
            name_everyone(row.id)
        began, cpu = time.perf_counter(), time.process_time()
        pack = delivery.build(content, row, fmt="pdf", via="bench")
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    Path(path).write_bytes(pack.body)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "measured": "campaign.services.exports.delivery.build (PDF)",
        "total": pack.numbers.total,
        "named": pack.numbers.named,
        "seconds": round(seconds, 2),
        # CPU time too: on a shared machine the wall clock measures the neighbours.
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "bytes": len(pack.body),
        "target": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_RSS_MB},
    }


def standalone(rows: int, url: str | None = None) -> None:
    """Seed `rows` confirmed signatures (into `url`, or a fresh SQLite file), then measure."""
    import secrets

    from cryptography.fernet import Fernet
    from flask_migrate import upgrade
    from helpers import seed

    from campaign.extensions import db
    from campaign.services.pages.campaigns import sync_all
    from campaign.services.sealing.crypto import seal_signer

    os.environ.setdefault("SECRET_KEY", secrets.token_hex(16))
    os.environ.setdefault("HASH_KEY", secrets.token_hex(16))
    os.environ.setdefault("ENCRYPTION_KEYS", Fernet.generate_key().decode())
    work = Path(tempfile.mkdtemp(prefix="delivery-bench-"))
    url = url or f"sqlite:///{work / 'bench.db'}"
    app = make_app(url)
    with app.app_context():
        upgrade()
        campaign_id = next(r.id for r in sync_all() if r.slug == "1988-massacre-inquiry")
        seed.seed(db, campaign_id, 0, rows, seal_signer)
        db.session.remove()
        db.engine.dispose()
    out = work / "pack.pdf"
    command = [
        "/usr/bin/time",
        "-f",
        "BENCH_RSS_KB=%M",
        sys.executable,
        __file__,
        url,
        "1988-massacre-inquiry",
        str(out),
        "--name-all",
    ]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_seconds"] = round(time.perf_counter() - began, 2)
    rss = [line for line in done.stderr.splitlines() if line.startswith("BENCH_RSS_KB=")]
    if rss:
        report["process_peak_rss_mb"] = round(int(rss[-1].split("=")[1]) / 1024, 1)
    print(json.dumps(report))
    out.unlink(missing_ok=True)


def main() -> None:
    if sys.argv[1] == "--standalone":
        standalone(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
        return
    url, slug, path = sys.argv[1], sys.argv[2], sys.argv[3]
    print(json.dumps(measure(url, slug, path, "--name-all" in sys.argv[4:])))


if __name__ == "__main__":
    main()
