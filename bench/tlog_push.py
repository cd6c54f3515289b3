"""Does pushing checkpoints to witnesses slow signing or confirming? Side by side: the
same sign + confirm requests (Flask's test client, in process, SQLite) while the mail
worker's tick (`transparency.publish_due`: append, checkpoint, push) runs in a thread
beside them, with no witnesses configured, then with 3 witnesses (the suite's c2sp.org
tlog-witness implementation) that each take DELAY seconds to answer. The tick
checkpoints every pass (TLOG_CHECKPOINT_SECONDS=0), so a push is in flight almost all
the time. Only the worker pushes; a request only queues its change.

    python bench/tlog_push.py [SIGNATURES] [DELAY]

`bench/run.py` calls `measure()` in its tlog step.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select  # noqa: E402

from campaign import create_app  # noqa: E402
from campaign.extensions import db  # noqa: E402
from campaign.models import Signature  # noqa: E402
from campaign.services.intake import links  # noqa: E402
from campaign.services.log import tlog_keys, tlog_store, transparency  # noqa: E402
from tests.helpers import SLUG, sign, test_config  # noqa: E402
from tests.tlog.witness.witness_server import SpecWitness  # noqa: E402


def _percentiles(values: list[float]) -> dict:
    values = sorted(values)
    return {
        "p50": round(statistics.median(values), 2),
        "p95": round(values[max(0, int(len(values) * 0.95) - 1)], 2),
        "max": round(values[-1], 2),
    }


def _run(database: Path, witnesses: int, signatures: int, delay: float) -> dict:
    signing_key = tlog_keys.generate_key()
    config = test_config(f"sqlite:///{database}", TLOG_SIGNING_KEY=signing_key)
    config |= {"TESTING": False, "LOG_LEVEL": "ERROR", "TLOG_CHECKPOINT_SECONDS": 0}
    app = create_app(config)
    started = []
    with app.app_context():
        upgrade()
        if witnesses:
            vkey = tlog_keys.verifier_key(SLUG)
            started = [SpecWitness(f"bench-w{n}", [vkey], delay=delay) for n in range(witnesses)]
            app.config["TLOG_WITNESSES"] = "\n".join(f"{w.start()} {w.vkey}" for w in started)
            app.config["TLOG_WITNESS_THRESHOLD"] = witnesses
            app.config["TLOG_WITNESS_TIMEOUT"] = delay + 5
    stop, ticks = threading.Event(), []

    def worker() -> None:  # the mail worker's tick, as `flask mail work` runs it
        while not stop.is_set():
            with app.app_context():
                began = time.perf_counter()
                transparency.publish_due()
                ticks.append(time.perf_counter() - began)
            time.sleep(0.02)

    thread = threading.Thread(target=worker, daemon=True)
    client = app.test_client()
    signing, confirming = [], []
    with app.app_context():
        sign(client, email="warm@example.org")  # first request: templates, caches
        thread.start()
        for n in range(signatures):
            began = time.perf_counter()
            assert sign(client, email=f"b{n}@example.org").status_code == 303
            signing.append((time.perf_counter() - began) * 1000)
            signature = db.session.scalar(select(Signature).order_by(Signature.id.desc()))
            token = links.make_token(signature, "confirm")
            began = time.perf_counter()
            assert client.post(f"/{SLUG}/confirm/{token}").status_code in (200, 303)
            confirming.append((time.perf_counter() - began) * 1000)
            db.session.remove()
        stop.set()
        thread.join()
        campaign_id = db.session.scalar(select(Signature.campaign_id).limit(1))
        last = tlog_store.latest_checkpoint(campaign_id)
        pushed = sum(len(w.requests) for w in started)
        db.engine.dispose()
    for witness in started:
        witness.stop()
    return {
        "witnesses": witnesses,
        "witness_delay_s": delay if witnesses else 0,
        # sign POST and confirm POST, each timed alone (the page GET before a sign isn't)
        "sign_ms": _percentiles(signing),
        "confirm_ms": _percentiles(confirming),
        "worker_ticks": len(ticks),
        "worker_tick_s_max": round(max(ticks), 2) if ticks else None,
        "add_checkpoint_requests": pushed,
        "published_size": last.size if last else 0,
    }


def measure(work: Path, signatures: int = 150, delay: float = 1.0) -> dict:
    """Sign + confirm latency with no witnesses, then with 3 slow ones, side by side."""
    return {
        "none": _run(work / "push-none.db", 0, signatures, delay),
        "three_slow": _run(work / "push-three.db", 3, signatures, delay),
    }


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="campaign-tlog-push-"))
    os.environ.setdefault("INSTANCE_PATH", str(work / "instance"))
    signatures = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    for label, figures in measure(work, signatures, delay).items():
        print(label, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
