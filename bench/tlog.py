"""The transparency log at scale: N adds → entries, tiles and a signed checkpoint, then
inclusion proofs for random leaves: the lookup and proof (tlog_store.check_receipt),
and the whole POST /<slug>/log/verify request (Flask's test client: routing, the
lookup, the proof and the rendered page, no network). Targets: 1,000,000 adds in
under 60 s, a proof in under 5 ms.

    python bench/tlog.py [DATABASE_URL] [ROWS]     (default: a temporary SQLite file)

`bench/run.py` calls `measure()` once on SQLite when its time budget allows.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import insert  # noqa: E402

SLUG = "1988-massacre-inquiry"


def measure(database_url: str, rows: int = 1_000_000, proofs: int = 300) -> dict:
    import logging

    from flask_migrate import upgrade

    from campaign import create_app
    from campaign.extensions import db
    from campaign.models import TlogPending, utcnow
    from campaign.services.log import receipts, tlog_keys, tlog_store, transparency
    from campaign.services.pages.campaigns import sync_all
    from campaign.services.verifier import tlog, tlog_note

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SECRET_KEY": "bench",
            "HASH_KEY": "bench",
            "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "LOG_LEVEL": "WARNING",
            "TLOG_SIGNING_KEY": tlog_keys.generate_key(),
            "RATELIMIT_ENABLED": False,  # one client asks 300 times
        }
    )
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade()
        campaign_id = next(r.id for r in sync_all() if r.slug == SLUG)
        now = utcnow()
        secrets = [hashlib.sha256(b"bench%d" % i).digest() for i in range(rows)]
        commitments = [tlog.commitment(s).hex() for s in secrets]
        started = time.perf_counter()
        for start in range(0, rows, 20_000):  # the queue, as confirmations would fill it
            db.session.execute(
                insert(TlogPending.__table__),
                [
                    {
                        "campaign_id": campaign_id,
                        "signature_id": -1 - i,
                        "action": "add",
                        "commitment": commitments[i],
                        "created_at": now,
                    }
                    for i in range(start, min(rows, start + 20_000))
                ],
            )
        db.session.commit()
        queued_s = time.perf_counter() - started
        started, started_cpu = time.perf_counter(), time.process_time()
        note = transparency.checkpoint(SLUG)
        publish_s = time.perf_counter() - started
        publish_cpu_s = time.process_time() - started_cpu  # SQLite runs in this process
        size = int(note.split("\n")[1])
        timings, cpu = [], []
        for index in random.sample(range(rows), min(proofs, rows)):  # nosec B311 - sampling
            began, began_cpu = time.perf_counter(), time.process_time()
            check = tlog_store.check_receipt(campaign_id, secrets[index])
            timings.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            assert check.state == "included" and check.index == index
        client = app.test_client()
        http = []
        for asked in random.sample(range(rows), min(proofs, rows)):  # nosec B311 - sampling
            began = time.perf_counter()
            response = client.post(
                f"/{SLUG}/log/verify", data={"receipt": receipts.encode_secret(secrets[asked])}
            )
            http.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200 and b"Your signature is counted" in response.data, (
                response.data.decode()[-3000:]
            )
        # One proof checked end to end, as a signer's browser or the CLI would.
        _, _, root = tlog_note.open_checkpoint(note, tlog_keys.verifier_key(SLUG))
        leaf = tlog.leaf_hash(tlog_store.entry_at(campaign_id, index))
        assert tlog.verify_inclusion(leaf, index, size, check.proof, root)
        db.session.remove()
        db.engine.dispose()
    timings.sort()
    cpu.sort()
    http.sort()
    return {
        "adds": rows,
        "tree_size": size,
        "queue_s": round(queued_s, 1),
        "tiles_and_checkpoint_s": round(publish_s, 1),
        "tiles_and_checkpoint_cpu_s": round(publish_cpu_s, 1),
        "proof_ms_median": round(statistics.median(timings), 2),
        "proof_ms_p95": round(timings[int(len(timings) * 0.95) - 1], 2),
        # CPU time of the same calls: what the wall time would be with a core to itself
        # (on a shared machine the wall-clock tail is mostly waiting for a core).
        "proof_cpu_ms_p95": round(cpu[int(len(cpu) * 0.95) - 1], 2),
        "verify_post_ms_median": round(statistics.median(http), 2),
        "verify_post_ms_p95": round(http[int(len(http) * 0.95) - 1], 2),
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="campaign-tlog-bench-"))
    os.environ.setdefault("INSTANCE_PATH", str(work / "instance"))
    url = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else f"sqlite:///{work / 'tlog.db'}"
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    print(measure(url, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
