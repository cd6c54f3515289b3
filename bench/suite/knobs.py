"""The bench's knobs (read from the environment at start; bench/run.py's docstring lists
them), the run's identity and keys, and the log every step writes to."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

from campaign.services.sealing import organizer_key

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "bench"
SLUG = "1988-massacre-inquiry"
CONTROL = "bench-control"  # a copy of the campaign with no signatures
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
SMALL_ROWS = min(100_000, ROWS)
SECONDS = int(os.environ.get("BENCH_SECONDS", "6"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("BENCH_PG_DB", "campaign_bench_run")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
BUDGET_S = 560  # stop starting optional steps after this; the whole run must stay < 600 s
WRK = shutil.which("wrk") or "/usr/bin/wrk"
LUA = BENCH / "wrk" / "bench.lua"
STARTED = time.monotonic()
RUN_ID = secrets.token_hex(3)
KEYS = {
    "SECRET_KEY": secrets.token_hex(16),
    "HASH_KEY": secrets.token_hex(16),
    "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}
# The app servers and the mail worker run sealed, as in production (issue 23): the
# worker seals each submission it mails to an organizers' key made for the run, whose
# private half is thrown away with it (nothing in the run opens what was sealed).
ORGANIZER_PUBLIC_KEY = organizer_key.public_text(organizer_key.generate())
# Candidate gunicorn settings: (worker class, workers, threads). The best GET rate
# on the app (SQLite) is used for every server in the run, the ceiling included.
# gthread 3 x 1 (one thread per process, keep-alive kept) was added when it measured
# best on this 2-core machine: fewer threads contend for each process's GIL.
CANDIDATES = [("gthread", 2, 4), ("gthread", 3, 2), ("gthread", 3, 1), ("sync", 3, 1)]
STEPS = ("page", "sign", "confirm", "mail", "scale_out", "data", "tlog")
SEALING_STEPS = ("seal_sign", "seal_export", "seal_open")  # bench/sealing.py's, after run.py
ONLY = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
if ONLY - set(STEPS) - set(SEALING_STEPS):
    sys.exit(
        f"BENCH_ONLY: unknown steps {sorted(ONLY - set(STEPS) - set(SEALING_STEPS))}; "
        f"known: {STEPS + SEALING_STEPS}"
    )
if ONLY & {"confirm", "mail"} and "sign" not in ONLY:
    sys.exit("BENCH_ONLY: confirm and mail need sign (they use the rows sign wrote)")


def wanted(step: str) -> bool:
    return not ONLY or step in ONLY


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def elapsed() -> float:
    return time.monotonic() - STARTED
