"""`make bench`: the benchmark suite. Bounded to well under 10 minutes on 2 cores.

It starts everything itself on 127.0.0.1 (gunicorn servers, an SMTP sink, a
PostgreSQL database of its own that it drops at the end) and measures with wrk. The
app servers and the mail worker run sealed to an organizers' key made for the run
(ORGANIZER_PUBLIC_KEY, as in production; bench/suite/knobs.py):

* the ceiling: bench/helpers/ceiling_app.py, a Flask app returning a fixed page, under the
  same gunicorn settings as the app;
* on SQLite and PostgreSQL: campaign page GET, sign POST, confirm POST (each with
  zero errors and zero lost, checked row by row against the database), page
  latency at 0 and at 1,000,000 signatures, the page GET through nginx's cache
  configured as docs/deploy.md says (SQLite run, when nginx is installed), CSV export
  of 100,000 and 1,000,000 rows against sqlite3 -csv / psql \\copy, the delivery pack
  (PDF) naming 100,000 signers (SQLite), and mail delivery to the bench's SMTP sink
  (bench/helpers/smtp_sink.py) by one `flask mail work` process beside the signing rate, each
  side's CPU per message beside it, and (PostgreSQL) the time from
  the sign POST's 303 to the sink's acceptance of its mail at 100 signings a second
  (bench/mail_flow.py);
* on PostgreSQL with Redis: signing through one app instance and through two;
* the transparency log (bench/tlog.py): ROWS adds → tiles and a signed checkpoint,
  and the time to serve an inclusion proof (lookup and proofs, and the whole POST
  /<slug>/log/verify through the WSGI app).

Results go to bench/results/<date>.json; bench/report.py turns every results file
into the table and trend plot in docs/benchmarks.md.

This file is the run's order; the steps are in bench/suite/ (its __init__ names the
parts: the knobs, the servers and calibration, the ratio steps, the data-at-scale
steps, the report's tables).

Environment knobs (for quick trial runs): BENCH_ROWS (default 1000000),
BENCH_SECONDS (wrk duration, default 6), BENCH_ROUNDS (slices of each ratio step,
default 3), BENCH_PG_ADMIN_URL, BENCH_PG_DB, BENCH_REDIS_URL, BENCH_SKIP_PG=1.

Each ratio step (page GET, sign, confirm) runs in BENCH_ROUNDS slices, each between
two measures of the ceiling (`alternating`): the machine is shared, and its speed
drifts by a third within seconds, so a step compares like with like only against a
ceiling measured in the same seconds.

`--smoke DATABASE_URL` is the suite's tiny run (tests/test_bench_entry_points.py): the
sign, mail and confirm steps BENCH_ONLY names, on that database, without the ceiling.

BENCH_ONLY=sign,confirm (any of page, sign, confirm, mail, scale_out, data, tlog; and
seal_sign, seal_export, seal_open, which bench/sealing.py runs after this) runs
the ceiling plus only those steps, on both databases, under the gunicorn settings of
BENCH_GUNICORN ("gthread,3,2"; default: the latest full run's choice, no calibration).
Its results go to $TMPDIR/bench-only-<date>.json and the report is left alone: a
partial run is for trying a change quickly, not for the trend. confirm confirms the
sign step's rows, so it needs sign.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
from suite import ratio_steps  # noqa: E402
from suite.calibration import calibrate, chosen_settings  # noqa: E402
from suite.checks import prepare_database  # noqa: E402
from suite.data_steps import bench_data, bench_tlog  # noqa: E402
from suite.knobs import (  # noqa: E402
    CONTROL,
    ONLY,
    PG_ADMIN_URL,
    ROWS,
    RUN_ID,
    SECONDS,
    SLUG,
    STEPS,
    WRK,
    elapsed,
    log,
    wanted,
)
from suite.ratio_steps import bench_database, bench_signing  # noqa: E402
from suite.servers import app_env, pg_create, pg_drop, pg_url, serving, summary, wrk  # noqa: E402


def make_content(work: Path) -> Path:
    """The project's content plus a control campaign: same page, its own count."""
    content = work / "content"
    shutil.copytree(ROOT / "content", content)
    control = content / CONTROL
    shutil.copytree(content / SLUG, control)
    meta = (control / "campaign.toml").read_text(encoding="utf-8")
    meta = meta.replace(f'slug = "{SLUG}"', f'slug = "{CONTROL}"')
    meta = meta.replace("home = true", "home = false")
    (control / "campaign.toml").write_text(meta, encoding="utf-8")
    return content


def machine() -> dict:
    info = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        out = subprocess.run(
            ["psql", PG_ADMIN_URL, "-tAc", "SHOW server_version"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        info["postgresql"] = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def smoke(database_url: str) -> int:
    """`python bench/run.py --smoke DATABASE_URL` (tests/test_bench_entry_points.py): the
    sign step and the steps after it that BENCH_ONLY names (mail, confirm), at
    BENCH_SECONDS and BENCH_ROUNDS, through one gunicorn server (BENCH_GUNICORN's
    settings) on a migrated database; no calibration, no ceiling, no results file.
    Prints the figures as JSON; fails when a row is lost."""
    if not Path(WRK).exists():
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-smoke-"))
    os.environ.setdefault("INSTANCE_PATH", str(work / "instance"))
    os.environ["CONTENT_DIR"] = str(make_content(work))
    out: dict = {}
    try:
        campaign_id = prepare_database(database_url)
        with serving("wsgi:app", app_env(database_url), chosen_settings(), work) as server:
            bench_signing("smoke", database_url, campaign_id, server, work, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))
    lost = sum(out[step]["check"]["lost"] for step in ("sign", "confirm") if step in out)
    return 1 if lost else 0


def main() -> int:
    if ONLY and not ONLY & set(STEPS):
        print("bench/run.py: BENCH_ONLY names only bench/sealing.py's steps; nothing to run here")
        return 0
    if not Path(WRK).exists():
        print("wrk is required: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    os.environ.setdefault("INSTANCE_PATH", str(work / "instance"))
    os.environ["CONTENT_DIR"] = str(make_content(work))
    started_at = datetime.now(UTC)
    results: dict = {
        "date": started_at.isoformat(timespec="seconds"),
        "run": RUN_ID,
        "machine": machine(),
        "rows": ROWS,
        "wrk_seconds": SECONDS,
    }
    log(f"working in {work}")
    sqlite_url = f"sqlite:///{work / 'bench.db'}"
    calibration_url = f"sqlite:///{work / 'calibrate.db'}"
    use_pg = os.environ.get("BENCH_SKIP_PG") != "1" and pg_create()
    stack = ExitStack()
    try:
        if ONLY:
            settings = chosen_settings()
            prepare_database(calibration_url)
            results["gunicorn"] = {"chosen": list(settings), "only": sorted(ONLY)}
        else:
            settings, trials = calibrate(calibration_url, work)
            results["gunicorn"] = {"chosen": list(settings), "trials": trials}
        with serving("wsgi:app", app_env(calibration_url), settings, work) as probe:
            page_bytes = len(urllib.request.urlopen(probe.url + f"/{SLUG}/", timeout=10).read())
        results["page_bytes"] = page_bytes
        log("ceiling: fixed page GET")
        ceiling_env = {**os.environ, "CEILING_PAGE_BYTES": str(page_bytes)}
        ceiling = stack.enter_context(
            serving("helpers.ceiling_app:app", ceiling_env, settings, work)
        )
        results["ceiling"] = {"get": summary(wrk(ceiling.url + "/", "get"))}
        results["ceiling"]["latency"] = summary(
            wrk(ceiling.url + "/", "get", seconds=4, connections=1)
        )
        log(f"ceiling: {results['ceiling']['get']['rps']} req/s")
        # The ceiling is kept running: each ratio step is measured beside its own.
        ratio_steps.SIDE_CEILING = ceiling.url
        # Request benchmarks on both databases first, then the big data sets: SQLite's
        # 1M-row export (the export target's baseline) before PostgreSQL's, which gets
        # what remains of the time budget.
        sqlite_id = bench_database("sqlite", sqlite_url, settings, work, results, scale_out=False)
        pg_id = None
        if use_pg:
            pg_id = bench_database("postgresql", pg_url(), settings, work, results, scale_out=True)
        else:
            results["postgresql"] = {"skipped": "PostgreSQL unavailable or BENCH_SKIP_PG=1"}
        ratio_steps.SIDE_CEILING = ""
        ceiling.stop()  # the data steps have no ceiling ratio
        if wanted("data"):
            bench_data("sqlite", sqlite_url, sqlite_id, settings, work, results)
            if pg_id is not None:
                bench_data("postgresql", pg_url(), pg_id, settings, work, results)
        if wanted("tlog"):  # bench/tlog.py and bench/tlog_push.py, as the budget allows
            bench_tlog(work, results)
    finally:
        stack.close()
        if use_pg:
            pg_drop()
        results["elapsed_s"] = round(elapsed(), 1)
        results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        results_dir = Path(tempfile.gettempdir()) if ONLY else BENCH / "results"
        results_dir.mkdir(exist_ok=True)
        stamp = started_at.strftime("%Y-%m-%d-%H%M")
        path = results_dir / (f"bench-only-{stamp}.json" if ONLY else f"{stamp}.json")
        path.write_text(json.dumps(results, indent=2) + "\n")
        log(f"results in {path}")
        shutil.rmtree(work, ignore_errors=True)
    if ONLY:
        print(report.only_summary(results))
        return 0
    report.main()
    log(f"done in {elapsed():.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(smoke(sys.argv[2]) if sys.argv[1:2] == ["--smoke"] else main())
