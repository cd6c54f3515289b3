"""Calibration: which gunicorn settings the run uses for every server (the ceiling's
included), tried on SQLite, or BENCH_GUNICORN / the latest full run's choice."""

from __future__ import annotations

import json
import os
from pathlib import Path

from suite.checks import prepare_database
from suite.knobs import BENCH, CANDIDATES, RUN_ID, SLUG, log
from suite.servers import app_env, serving, summary, visitor, wrk


def calibrate(database_url: str, work: Path) -> tuple[tuple[str, int, int], list[dict]]:
    """Each candidate setting on SQLite: the campaign page GET, then the sign POST (after
    an unmeasured second); the best geometric mean of the two rates wins. Behind nginx
    (docs/deploy.md) the app serves the page only on a cache miss, and what it serves
    most is POSTs, so signing counts as much as the page."""
    prepare_database(database_url)
    # The database's files grow on its first writes: grown before any trial, so the
    # first candidate's signing is not measured on an empty file.
    with serving("wsgi:app", app_env(database_url), CANDIDATES[0], work) as server:
        env = {**visitor(server.url, f"/{SLUG}/"), "BENCH_RUN": f"{RUN_ID}cw"}
        wrk(server.url + f"/{SLUG}/sign", "sign", seconds=3, env=env)
    trials = []
    for settings in CANDIDATES:
        with serving("wsgi:app", app_env(database_url), settings, work) as server:
            result = summary(wrk(server.url + f"/{SLUG}/", "get", seconds=3))
            form = visitor(server.url, f"/{SLUG}/")
            label = "".join(str(x)[0] for x in settings)
            for seconds, run in ((1, "w"), (3, "m")):
                env = {**form, "BENCH_RUN": f"{RUN_ID}c{label}{run}"}
                signing = wrk(server.url + f"/{SLUG}/sign", "sign", seconds=seconds, env=env)
        sign_rps = signing["ok"] / signing["duration_s"]
        score = (result["rps"] * sign_rps) ** 0.5
        trials.append(
            {"settings": list(settings), **result}
            | {"sign_rps": round(sign_rps, 1), "score": round(score, 1)}
        )
        log(
            f"calibrate {settings}: page {result['rps']} req/s (p99 {result['p99_ms']} ms), "
            f"sign {sign_rps:.1f}/s, score {score:.1f}"
        )
    best = max(trials, key=lambda t: t.get("score", t["rps"]))
    return tuple(best["settings"]), trials


def chosen_settings() -> tuple[str, int, int]:
    """BENCH_GUNICORN, or the settings the latest full run calibrated."""
    if os.environ.get("BENCH_GUNICORN"):
        kind, workers, threads = os.environ["BENCH_GUNICORN"].split(",")
        return kind, int(workers), int(threads)
    for path in sorted((BENCH / "results").glob("*.json"), reverse=True):
        chosen = json.loads(path.read_text()).get("gunicorn", {}).get("chosen")
        if chosen:
            return tuple(chosen)
    return CANDIDATES[0]
