"""Profile the sign POST, the confirm POST and the campaign page GET in-process.

Not part of `make bench`'s timings: it shows where a request's time goes (the target
is measured by wrk under gunicorn). Usage:
    .venv/bin/python bench/profile_sign.py [n] [sign,confirm,page] [--cprofile]
pyinstrument by default; --cprofile prints cProfile's top functions by own time;
--plain only times the requests (wall and CPU per request), with no profiler.
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
TMP = Path(tempfile.mkdtemp(prefix="campaign-profile-"))
os.environ.setdefault("INSTANCE_PATH", str(TMP / "instance"))

from cryptography.fernet import Fernet  # noqa: E402
from pyinstrument import Profiler  # noqa: E402
from sqlalchemy import select  # noqa: E402

from campaign import create_app  # noqa: E402

SLUG = "1988-massacre-inquiry"


def profiled(label: str, n: int, use_cprofile: bool, run) -> None:
    if "--plain" in sys.argv:  # no profiler: the request's own cost, CPU and wall
        began, cpu = time.perf_counter(), time.process_time()
        run()
        took, cpu = time.perf_counter() - began, time.process_time() - cpu
        print(f"== {label}: {took / n * 1000:.2f} ms wall, {cpu / n * 1000:.2f} ms CPU per request")
        return
    if use_cprofile:
        profiler = cProfile.Profile()
        began = time.perf_counter()
        profiler.runcall(run)
        took = time.perf_counter() - began
        print(f"== {label}: {took / n * 1000:.2f} ms per request (cProfile on)")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    began = time.perf_counter()
    run()
    took = time.perf_counter() - began
    profiler.stop()
    print(f"== {label}: {took / n * 1000:.2f} ms per request")
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def main(n: int, parts: set[str], use_cprofile: bool) -> None:
    config = {
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", f"sqlite:///{TMP / 'p.db'}"),
        "SECRET_KEY": "k",
        "HASH_KEY": "h",
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        "RATELIMIT_ENABLED": False,
        "MIN_FORM_SECONDS": 0,
        "SMTP_URL": "console",
        "LOG_LEVEL": "WARNING",
        "EMAIL_CHECK_DELIVERABILITY": False,
    }
    app = create_app(config)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    client = app.test_client()
    page = client.get(f"/{SLUG}/").get_data(as_text=True)
    started = re.search(r'name="started" type="hidden" value="([^"]+)"', page).group(1)
    data = {"started": started, "name": "Bench Signer", "country": "DE"}
    for i in range(20):  # warm up
        client.post(f"/{SLUG}/sign", data={**data, "email": f"warm{i}@example.org"})
    run = f"{time.time_ns()}"

    def sign() -> None:
        for i in range(n):
            response = client.post(
                f"/{SLUG}/sign", data={**data, "email": f"p{run}-{i}@example.org"}
            )
            assert response.status_code == 303, response.status_code

    if "sign" in parts or "confirm" in parts:
        profiled("sign POST", n, use_cprofile and "sign" in parts, sign)
    if "confirm" in parts:
        from campaign.extensions import db
        from campaign.models import Signature, SignatureStatus
        from campaign.services.intake.links import make_token

        with app.app_context():
            pending = db.session.scalars(
                select(Signature).where(Signature.status == SignatureStatus.PENDING)
            ).all()
            tokens = [make_token(s, "confirm") for s in pending][-n:]
            db.session.remove()

        def confirm() -> None:
            for token in tokens:
                response = client.post(f"/{SLUG}/confirm/{token}")
                assert response.status_code == 303, response.status_code

        profiled("confirm POST", len(tokens), use_cprofile, confirm)
    if "page" in parts:

        def get() -> None:
            for _ in range(n):
                assert client.get(f"/{SLUG}/").status_code == 200

        profiled("page GET", n, use_cprofile, get)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(
        int(args[0]) if args else 300,
        set((args[1] if len(args) > 1 else "sign,confirm,page").split(",")),
        "--cprofile" in sys.argv,
    )
