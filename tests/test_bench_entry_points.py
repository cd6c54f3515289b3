"""Every bench entry point (each bench/*.py run as a program) runs here at a tiny size, so
none rots unseen between `make bench` runs (issue 27: `python bench/delivery_pack.py
--standalone` had stopped working, and `bench/report.py` failed on the sealing bench's
results file). Each runs as its own process, as a person or `make bench` runs it, on this
test's database where it takes one, and must exit 0 with its figures printed.

`bench/run.py` runs in its tiny mode (`--smoke`: the sign and confirm steps through one
gunicorn server and wrk, no ceiling, no calibration); `bench/report.py` runs on a copy of
bench/ and docs/benchmarks.md, so the checkout's docs are left alone.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign import create_app
from campaign.extensions import db
from campaign.models import Campaign
from campaign.services.pages.campaigns import sync_all
from campaign.services.sealing.crypto import seal_signer
from tests.helpers import KEYS, ROOT, SLUG, free_port, test_config

pytestmark = pytest.mark.slow

BENCH = ROOT / "bench"
ENTRY_POINTS = sorted(
    path.name for path in BENCH.glob("*.py") if 'if __name__ == "__main__":' in path.read_text()
)
TIMEOUT = 240  # seconds: each tiny run takes 1-8 s of CPU, but a shared machine stretches it


def run(tmp_path: Path, *args: str, **env: str) -> str:
    """`python bench/<args>` with the suite's keys; returns its stdout, fails on exit != 0."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={
            **os.environ,
            "SECRET_KEY": KEYS["SECRET_KEY"],
            "HASH_KEY": KEYS["HASH_KEY"],
            "ENCRYPTION_KEYS": ",".join(KEYS["ENCRYPTION_KEYS"]),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "TMPDIR": str(tmp_path),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def seeded(database_url: str, rows: int) -> int:
    """`rows` confirmed signatures in the campaign, written by bench/helpers/seed.py; its id."""
    spec = importlib.util.spec_from_file_location("bench_seed", BENCH / "helpers" / "seed.py")
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    app = create_app(test_config(database_url))
    with app.app_context():
        sync_all()
        campaign_id = db.session.scalar(select(Campaign.id).where(Campaign.slug == SLUG))
        seed.seed(db, campaign_id, 0, rows, seal_signer)
        db.session.remove()
        db.engine.dispose()
    return campaign_id


def smoke_run(database_url: str, tmp_path: Path) -> None:
    out = last_json(
        run(
            tmp_path,
            "bench/run.py",
            "--smoke",
            database_url,
            BENCH_ONLY="sign,confirm",
            BENCH_SECONDS="1",
            BENCH_ROUNDS="1",
            BENCH_GUNICORN="gthread,1,2",
        )
    )
    assert out["sign"]["check"]["acknowledged"] > 0
    assert out["sign"]["check"]["lost"] == 0
    assert out["confirm"]["check"]["confirmed_rows"] > 0
    assert out["confirm"]["check"]["lost"] == 0


def smoke_report(database_url: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(BENCH, copy / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "benchmarks.md", copy / "docs")
    assert list((copy / "bench" / "results").glob("sealing-*.json")), "the case of issue 27"
    assert "wrote docs/benchmarks.md" in run(tmp_path, str(copy / "bench" / "report.py"))
    written = (copy / "docs" / "benchmarks.md").read_text()
    assert "### Targets" in written and "Latest run: `bench/results/2" in written


def smoke_delivery_pack(database_url: str, tmp_path: Path) -> None:
    out = last_json(run(tmp_path, "bench/delivery_pack.py", "--standalone", "12", database_url))
    assert out["total"] == 12 and out["named"] == 12 and out["bytes"] > 0


def smoke_export_csv(database_url: str, tmp_path: Path) -> None:
    campaign_id = seeded(database_url, 15)
    csv = tmp_path / "out.csv"
    out = last_json(
        run(tmp_path, "bench/export_csv.py", database_url, str(campaign_id), "15", str(csv))
    )
    assert out["rows"] == 15
    assert len(csv.read_text(encoding="utf-8").splitlines()) == 16  # the header and 15 rows


def smoke_export_rows(database_url: str, tmp_path: Path) -> None:
    assert "rows" in run(tmp_path, "bench/export_rows.py", "20", DATABASE_URL=database_url)


def smoke_mail_flow(database_url: str, tmp_path: Path) -> None:
    """`mail_flow.py sink PORT LOG`: the recording SMTP sink, one line per accepted mail."""
    port, log = free_port(), tmp_path / "sink.log"
    sink = subprocess.Popen(
        [sys.executable, "bench/mail_flow.py", "sink", str(port), str(log)], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and sink.poll() is None, "the sink did not start"
                time.sleep(0.1)
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "x"
        message.set_content("x")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(message)
        assert log.read_text().split()[1] == "b@example.org"
    finally:
        sink.terminate()
        sink.wait(10)


def smoke_profile_mail(database_url: str, tmp_path: Path) -> None:
    out = run(tmp_path, "bench/profile_mail.py", "3", "--plain", DATABASE_URL=database_url)
    assert "== 3 mails" in out


def smoke_profile_sign(database_url: str, tmp_path: Path) -> None:
    out = run(
        tmp_path,
        "bench/profile_sign.py",
        "3",
        "sign,confirm,page",
        "--plain",
        DATABASE_URL=database_url,
    )
    assert out.count("ms CPU per request") == 3


def smoke_sealing(database_url: str, tmp_path: Path) -> None:
    run(tmp_path, "bench/sealing.py", "20", "3", BENCH_RESULTS_DIR=str(tmp_path))
    result = json.loads(next(tmp_path.glob("sealing-*.json")).read_text())
    assert result["rows"] == 20 and result["export_open"]["rows_opened"] == 20


def smoke_tlog(database_url: str, tmp_path: Path) -> None:
    out = run(tmp_path, "bench/tlog.py", database_url, "40")
    assert "tiles_and_checkpoint_s" in out


def smoke_tlog_push(database_url: str, tmp_path: Path) -> None:
    out = run(tmp_path, "bench/tlog_push.py", "3", "0.2")
    assert "three_slow" in out


SMOKES: dict[str, Callable[[str, Path], None]] = {
    "delivery_pack.py": smoke_delivery_pack,
    "export_csv.py": smoke_export_csv,
    "export_rows.py": smoke_export_rows,
    "mail_flow.py": smoke_mail_flow,
    "profile_mail.py": smoke_profile_mail,
    "profile_sign.py": smoke_profile_sign,
    "report.py": smoke_report,
    "run.py": smoke_run,
    "sealing.py": smoke_sealing,
    "tlog.py": smoke_tlog,
    "tlog_push.py": smoke_tlog_push,
}


def test_every_entry_point_has_a_smoke_run() -> None:
    assert ENTRY_POINTS == sorted(SMOKES), "a bench entry point without a smoke run here"


@pytest.mark.parametrize("name", ENTRY_POINTS)
def test_entry_point_runs_at_a_tiny_size(name: str, database_url: str, tmp_path: Path) -> None:
    SMOKES[name](database_url, tmp_path)
