"""Profile the mail worker in-process: where a confirmation mail's time goes.

Not part of `make bench`'s timings (bench/mail_flow.py measures the worker process).
Signs N submissions through the app, then delivers them to the bench's SMTP sink
process (bench/helpers/smtp_sink.py; one worker thread, so the profile reads clearly), sealed
to an organizers' key made for the run as in production (`--unsealed`: without one).
Prints the worker's CPU per mail and the sink's. Usage:
    DATABASE_URL=postgresql+psycopg://... .venv/bin/python bench/profile_mail.py [n] [--plain]
        [--threads=N] [--cprofile] [--unsealed]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
TMP = Path(tempfile.mkdtemp(prefix="campaign-profile-mail-"))
os.environ.setdefault("INSTANCE_PATH", str(TMP / "instance"))

import mail_flow  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from campaign import create_app  # noqa: E402
from campaign.extensions import db  # noqa: E402
from campaign.services.outbox import mail_worker  # noqa: E402
from campaign.services.sealing import organizer_key  # noqa: E402

SLUG = "1988-massacre-inquiry"
# --threads=N: the worker's threads (1 by default, so the profile reads clearly).
# --plain: no profiler (the timings alone); --cprofile: cProfile on CPU time instead.
PLAIN = "--plain" in sys.argv or "--cprofile" in sys.argv
THREADS = next((int(a.split("=")[1]) for a in sys.argv if a.startswith("--threads=")), 1)
ORGANIZER = "" if "--unsealed" in sys.argv else organizer_key.public_text(organizer_key.generate())


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (/proc/stat): what the worker and
    the sink don't account for is mostly the database's."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / mail_flow.CLOCK_TICKS


def main(n: int) -> None:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", f"sqlite:///{TMP / 'p.db'}"),
            "SECRET_KEY": "k",
            "HASH_KEY": "h",
            "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "RATELIMIT_ENABLED": False,
            "MIN_FORM_SECONDS": 0,
            "SMTP_URL": "console",
            "LOG_LEVEL": "WARNING",
            "EMAIL_CHECK_DELIVERABILITY": False,
            "ORGANIZER_PUBLIC_KEY": ORGANIZER,
        }
    )
    with app.app_context():
        upgrade()
    client = app.test_client()
    page = client.get(f"/{SLUG}/").get_data(as_text=True)
    started = re.search(r'name="started" type="hidden" value="([^"]+)"', page).group(1)
    data = {"started": started, "name": "Bench Signer", "country": "DE"}
    run = f"{time.time_ns()}"
    for i in range(n):
        response = client.post(f"/{SLUG}/sign", data={**data, "email": f"p{run}-{i}@example.org"})
        assert response.status_code == 303, response.status_code
    with mail_flow.sink(TMP, "profile") as (url, _, sink), app.app_context():
        app.config["SMTP_URL"] = url
        profiler = None if PLAIN else Profiler(interval=0.0005)
        cprofile = cProfile.Profile(time.process_time) if "--cprofile" in sys.argv else None
        if cprofile:
            cprofile.enable()
        began, cpu, times = time.perf_counter(), time.process_time(), os.times()
        sink_cpu = mail_flow.cpu_seconds(sink.pid)
        machine = machine_busy_seconds()
        if profiler:
            profiler.start()
        sent = mail_worker.work(once=True, threads=THREADS)
        if profiler:
            profiler.stop()
        if cprofile:
            cprofile.disable()
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        system = os.times().system - times.system  # the kernel's share: GIL hand-offs, I/O
        sink_cpu = mail_flow.cpu_seconds(sink.pid) - sink_cpu
        machine = machine_busy_seconds() - machine
        db.session.remove()
        print(
            f"== {sent} mails: {took / max(sent, 1) * 1000:.2f} ms wall, "
            f"{cpu / max(sent, 1) * 1000:.2f} ms CPU per mail "
            f"({system / max(sent, 1) * 1000:.2f} in the kernel; {sent / took:.0f}/s); "
            f"the sink {sink_cpu / max(sent, 1) * 1000:.2f} ms CPU per mail; the whole "
            f"machine (the database's share included) {machine / max(sent, 1) * 1000:.2f} ms"
        )
        if profiler:
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        if cprofile:  # CPU time (process_time), by own time and by cumulative time
            stats = pstats.Stats(cprofile).strip_dirs()
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(45)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 500)
