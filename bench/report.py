"""Turn bench/results/*.json into the table and trend plot in docs/benchmarks.md.

The generated part of docs/benchmarks.md sits between two markers; the analysis
around it is written by hand and kept. The plot is an SVG written here, with no
plotting library, so `make bench` needs nothing beyond the project's own deps.
Run alone to rebuild the docs from the stored results: python bench/report.py
Its tables and plot are in bench/suite/report_*.py; `only_summary` prints a BENCH_ONLY
run's figures instead.
"""

from __future__ import annotations

import json
from pathlib import Path

from suite.report_figures import dig, fmt, ratios, svg
from suite.report_tables import measurements
from suite.report_targets import targets

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "benchmarks.md"
SVG = ROOT / "docs" / "benchmarks-trend.svg"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def load() -> list[dict]:
    """bench/run.py's results files (<date>.json), not bench/sealing.py's (sealing-*.json)."""
    runs = []
    for path in sorted(RESULTS.glob("[0-9]*.json")):
        data = json.loads(path.read_text())
        data["_file"] = path.name
        runs.append(data)
    return runs


def generated(runs: list[dict]) -> str:
    latest = runs[-1]
    chosen = dig(latest, "gunicorn", "chosen") or ["?", "?", "?"]
    lines = [
        BEGIN,
        "",
        f"Latest run: `bench/results/{latest['_file']}`, {latest['date']}, "
        f"{latest['machine']['cpus']} CPUs, Python {latest['machine']['python']}, SQLite "
        f"{latest['machine']['sqlite']}, PostgreSQL {latest['machine'].get('postgresql', '–')}; "
        f"load average at start {latest['machine'].get('load_average_at_start')}; "
        f"whole suite {latest.get('elapsed_s')} s. "
        f"gunicorn: `{chosen[0]}`, {chosen[1]} workers × {chosen[2]} threads; "
        f"wrk {latest.get('wrk_seconds')} s per measure.",
        "",
        "### Targets",
        "",
        "| Target | Measured | Required | |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(latest)],
        "",
        "### All measurements",
        "",
        *measurements(latest),
        "",
        "### gunicorn settings tried (SQLite; the best score is used)",
        "",
        "| Worker class | Workers | Threads | Page GET req/s | p99 ms | Sign POST /s | Score |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {t['settings'][0]} | {t['settings'][1]} | {t['settings'][2]} | {fmt(t['rps'])} | "
            f"{fmt(t['p99_ms'], 1)} | {fmt(t.get('sign_rps'))} | {fmt(t.get('score'))} |"
            for t in dig(latest, "gunicorn", "trials", default=[])
        ],
        "",
        "### Trend",
        "",
        "![Throughput as a ratio of the ceiling across benchmark runs](benchmarks-trend.svg)",
        "",
        "| Run | " + " | ".join(ratios(latest)) + " |",
        "|---|" + "---|" * len(ratios(latest)),
        *[
            f"| {r['_file'].removesuffix('.json')} | "
            + " | ".join(fmt(v, 2) for v in ratios(r).values())
            + " |"
            for r in runs
        ],
        "",
        END,
    ]
    return "\n".join(lines)


def only_summary(results: dict) -> str:
    """A BENCH_ONLY run's figures as ratios against the ceiling, one line per measure."""
    first = results.get("ceiling", {}).get("get", {}).get("rps") or 0
    lines = [f"ceiling {first:.0f} req/s at the start, gunicorn {results['gunicorn']['chosen']}"]
    for name in ("sqlite", "postgresql"):
        for step, rate in (("sign", "signatures_per_s"), ("confirm", "confirmations_per_s")):
            got = results.get(name, {}).get(step)
            if got:
                check, ceiling = got["check"], got.get("ceiling_rps") or first
                lines.append(
                    f"{name:10} {step:7} {got[rate]:7.1f}/s  ceiling beside it {ceiling:6.0f}/s  "
                    f"ratio {got[rate] / ceiling:.3f}  "
                    f"p50 {got['p50_ms']:.1f} ms  p99 {got['p99_ms']:.1f} ms  "
                    f"errors {got['errors'] + got['other_status']}  lost {check['lost']}"
                    # A connection that used up its share of tokens stopped early.
                    + (
                        "  (a connection ran out of tokens)"
                        if check.get("tokens_exhausted")
                        else ""
                    )
                )
        mail, sign = results.get(name, {}).get("mail"), results.get(name, {}).get("sign")
        if mail and sign:  # issue 22: one worker process against one instance's signing
            lines.append(
                f"{name:10} mail    {mail['messages_per_s']:7.1f}/s  one worker process, "
                f"{mail['messages_per_s'] / max(sign['signatures_per_s'], 0.1):.2f} x the "
                f"signings; CPU per mail {mail.get('worker_cpu_ms_per_mail')} ms (the sink "
                f"{mail.get('sink_cpu_ms_per_mail')}), per signing "
                f"{sign.get('app_cpu_ms_per_signing')} ms (the app)"
            )
    tlog = results.get("tlog", {})
    if "proof_ms_median" in tlog:
        lines.append(
            f"tlog {tlog['adds']:,} adds: tiles + checkpoint {tlog['tiles_and_checkpoint_s']} s"
            f" (CPU {tlog['tiles_and_checkpoint_cpu_s']} s); proof p50 {tlog['proof_ms_median']}"
            f" ms, p95 {tlog['proof_ms_p95']} ms (CPU p95 {tlog['proof_cpu_ms_p95']} ms)"
        )
    for label, push in tlog.get("witness_push", {}).items():
        lines.append(
            f"witness push, {label}: sign p50/p95/max {push['sign_ms']}, confirm "
            f"{push['confirm_ms']}, {push['add_checkpoint_requests']} add-checkpoint requests"
        )
    return "\n".join(lines)


def main() -> None:
    runs = load()
    if not runs:
        print("no results in bench/results")
        return
    SVG.parent.mkdir(exist_ok=True)
    SVG.write_text(svg(runs))
    block = generated(runs)
    text = DOC.read_text() if DOC.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)} and {SVG.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
