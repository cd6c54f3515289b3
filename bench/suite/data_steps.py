"""The data-at-scale steps: seed 100,000 then ROWS signatures (bench/helpers/seed.py), CSV
export against sqlite3 -csv / psql \\copy (bench/export_csv.py), the delivery pack
(bench/delivery_pack.py), the page's latency at that size beside an empty campaign,
and the transparency log at ROWS adds (bench/tlog.py, bench/tlog_push.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from suite.checks import make_app
from suite.knobs import (
    BENCH,
    BUDGET_S,
    CONTROL,
    KEYS,
    ROOT,
    ROWS,
    SLUG,
    SMALL_ROWS,
    elapsed,
    log,
)
from suite.servers import app_env, serving, wrk

TIME = "/usr/bin/time"


def run_measured(command: list[str], stdout_path: Path, env=None) -> tuple[float, float]:
    """Run a process; returns (seconds, its peak RSS in MB).

    Peak RSS comes from GNU time (`%M`): a child forked straight from this big
    process would report this process's RSS as its own high-water mark.
    """
    began = time.perf_counter()
    # Without GNU time (apt-get install time), peak RSS is reported as unknown.
    prefix = [TIME, "-f", "BENCH_RSS_KB=%M"] if Path(TIME).exists() else []
    with stdout_path.open("wb") as out:
        done = subprocess.run(
            [*prefix, *command], stdout=out, stderr=subprocess.PIPE, env=env, cwd=ROOT, timeout=400
        )
    took = time.perf_counter() - began
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {stderr[-2000:]}")
    match = re.search(r"BENCH_RSS_KB=(\d+)", stderr)
    return took, int(match.group(1)) / 1024 if match else float("nan")


def measure_export(database_url: str, campaign_id: int, rows: int, work: Path) -> dict:
    from export_csv import QUERY

    out = work / f"export-{rows}.csv"
    printed = work / "export-report.json"
    env = {**os.environ, **KEYS, "PYTHONPATH": str(ROOT)}
    took, rss = run_measured(
        [
            sys.executable,
            str(BENCH / "export_csv.py"),
            database_url,
            str(campaign_id),
            str(rows),
            str(out),
        ],
        printed,
        env=env,
    )
    ours = json.loads(printed.read_text().strip().splitlines()[-1])
    ours["process_seconds"] = round(took, 3)  # with interpreter start and imports
    ours["peak_rss_mb"] = round(rss, 1)
    query = QUERY.format(campaign_id=campaign_id, limit=rows)
    baseline_out = work / f"baseline-{rows}.csv"
    if database_url.startswith("sqlite"):
        db_path = database_url.removeprefix("sqlite:///")
        b_took, b_rss = run_measured(["sqlite3", "-csv", db_path, query], baseline_out)
        tool = "sqlite3 -csv"
    else:
        b_took, b_rss = run_measured(
            ["psql", "-q", database_url, "-c", f"\\copy ({query}) TO STDOUT WITH CSV"],
            baseline_out,
        )
        tool = "psql \\copy"
    baseline = {
        "tool": tool,
        "seconds": round(b_took, 3),
        "peak_rss_mb": round(b_rss, 1),
        "bytes": baseline_out.stat().st_size,
    }
    out.unlink(missing_ok=True)
    baseline_out.unlink(missing_ok=True)
    return {
        "rows": rows,
        "export": ours,
        "baseline": baseline,
        "time_ratio": round(ours["seconds"] / b_took, 2) if b_took else None,
        "process_time_ratio": round(took / b_took, 2) if b_took else None,
    }


def measure_delivery_pack(database_url: str, work: Path) -> dict:
    """The delivery pack (PDF) naming every seeded signer: bench/delivery_pack.py."""
    out, printed = work / "pack.pdf", work / "pack-report.json"
    env = {**os.environ, **KEYS, "PYTHONPATH": str(ROOT)}
    took, rss = run_measured(
        [
            sys.executable,
            str(BENCH / "delivery_pack.py"),
            database_url,
            SLUG,
            str(out),
            "--name-all",
        ],
        printed,
        env=env,
    )
    ours = json.loads(printed.read_text().strip().splitlines()[-1])
    ours["process_seconds"], ours["peak_rss_mb"] = round(took, 3), round(rss, 1)
    out.unlink(missing_ok=True)
    return ours


def bench_data(
    name: str, database_url: str, campaign_id: int, settings, work: Path, results: dict
) -> None:
    """Seed 100,000 then 1,000,000 rows: exports, and the page at that size."""
    out: dict = results[name]
    with serving("wsgi:app", app_env(database_url), settings, work) as server:
        seed_and_export(name, database_url, campaign_id, work, out)
        if out.get("seeded") == ROWS:
            log(f"{name}: page latency at {ROWS} signatures, beside an empty campaign")
            out.update(latency_at_scale(server.url))


def seed_and_export(name: str, database_url: str, campaign_id: int, work: Path, out: dict) -> None:
    from helpers import seed

    from campaign.extensions import db
    from campaign.services.sealing.crypto import seal_signer as encrypt

    app = make_app(database_url)
    seeded = 0
    for target in (SMALL_ROWS, ROWS):
        # Seeding and exporting 1M rows take longest. SQLite (the export target's
        # baseline) goes first and gets them; PostgreSQL gets what time is left,
        # judged from the 100,000-row export, so the suite stays under 10 minutes.
        if name == "postgresql" and target == SMALL_ROWS and elapsed() > BUDGET_S - 45:
            out.setdefault("skipped", []).append(f"seed/export of {target:,} rows (time budget)")
            break
        if target == ROWS and target != SMALL_ROWS:
            small = dig_export(out, SMALL_ROWS)
            seeding = 60 if name == "sqlite" else 100
            predicted = (small * ROWS / SMALL_ROWS if small else 120) + seeding
            # SQLite's 1M export is the target's measure: it may use the margin too.
            limit = BUDGET_S + (30 if name == "sqlite" else 0)
            if elapsed() + predicted > limit:
                out.setdefault("skipped", []).append(
                    f"seed and export of {target:,} rows: about {predicted:.0f} s needed, "
                    f"{max(0, BUDGET_S - elapsed()):.0f} s left in the time budget"
                )
                break
        log(f"{name}: seeding to {target:,} rows")
        with app.app_context():
            out.setdefault("seed", []).append(
                seed.seed(db, campaign_id, seeded, target - seeded, encrypt) | {"total": target}
            )
            db.session.remove()
            db.engine.dispose()
        seeded = out["seeded"] = target
        log(f"{name}: export of {target:,} rows")
        out.setdefault("export", {})[str(target)] = measure_export(
            database_url, campaign_id, target, work
        )
        log(f"{name}: export {out['export'][str(target)]}")
        if name == "sqlite" and target == SMALL_ROWS and elapsed() < BUDGET_S - 240:
            log(f"{name}: delivery pack naming {target:,} signers")
            out["delivery_pack"] = measure_delivery_pack(database_url, work)
            log(f"{name}: delivery pack {out['delivery_pack']}")


def dig_export(out: dict, rows: int) -> float | None:
    return out.get("export", {}).get(str(rows), {}).get("export", {}).get("seconds")


def latency_at_scale(url: str) -> dict:
    """Page latency with ROWS signatures, and of an empty campaign at the same time.

    The machine is shared, so the run at 0 signatures minutes earlier saw other
    load. The control campaign (a copy of the content with no signatures) is
    measured interleaved with the full one, in the order control, full, full,
    control, so a drift in the machine's speed weighs on both alike.
    """
    full, empty = [], []
    for campaign, runs in ((CONTROL, empty), (SLUG, full), (SLUG, full), (CONTROL, empty)):
        runs.append(wrk(f"{url}/{campaign}/", "get", seconds=3, connections=1))

    def averaged(runs: list[dict]) -> dict:
        return {
            "p50_ms": round(sum(r["p50_ms"] for r in runs) / len(runs), 3),
            "p99_ms": round(sum(r["p99_ms"] for r in runs) / len(runs), 3),
            "rps": round(sum(r["rps"] for r in runs) / len(runs), 1),
            "requests": sum(r["requests"] for r in runs),
            "errors": sum(sum(r["errors"].values()) for r in runs),
            "connections": 1,
        }

    return {
        "latency_full": averaged(full) | {"signatures": ROWS},
        "latency_control": averaged(empty) | {"signatures": 0},
    }


def bench_tlog(work: Path, results: dict) -> None:
    """The transparency log at ROWS adds, then the witness push, as the budget allows."""
    if elapsed() < BUDGET_S - 120:  # bench/tlog.py: the transparency log at ROWS adds
        import tlog as tlog_bench

        log(f"transparency log: {ROWS} adds → tiles, checkpoint, proofs")
        results["tlog"] = tlog_bench.measure(f"sqlite:///{work / 'tlog.db'}", ROWS)
        log(f"transparency log: {results['tlog']}")
    if elapsed() < BUDGET_S - 60:  # bench/tlog_push.py
        import tlog_push as push_bench

        log("witness push: sign + confirm with 3 slow witnesses vs none")
        results.setdefault("tlog", {})["witness_push"] = push_bench.measure(work)
        log(f"witness push: {results['tlog']['witness_push']}")
