"""The ratio steps, each measured against the ceiling beside it: the campaign page GET,
the sign POST, mail delivery beside the signing rate (bench/mail_flow.py), the confirm
POST, and signing through one app instance and through two (PostgreSQL and Redis)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from pathlib import Path

import mail_flow
import nginx_tail

from suite.checks import (
    check_confirmations,
    check_signatures,
    confirm_tokens,
    count_rows,
    prepare_database,
)
from suite.knobs import REDIS_URL, ROUNDS, RUN_ID, SECONDS, SLUG, log, wanted
from suite.servers import Server, app_env, nginx_in_front, serving, summary, visitor, wrk

SIDE_CEILING = ""  # the ceiling server's URL while it is measured beside each step


def side_ceiling(seconds: int = 2) -> float | None:
    """One measure of the ceiling beside a step that isn't a wrk run (mail)."""
    return wrk(SIDE_CEILING + "/", "get", seconds=seconds)["rps"] if SIDE_CEILING else None


def alternating(
    seconds: int, run_slice: Callable[[int, int], dict], *, warm_up: bool = False
) -> tuple[dict, dict, dict]:
    """A ratio step (page GET, sign, confirm) in ROUNDS slices of `seconds` / ROUNDS,
    each between two measures of the ceiling as long (ceiling, slice, ceiling, …,
    ceiling). `run_slice(i, slice_seconds)` runs slice i; with `warm_up`, slice ROUNDS
    runs first for 1 s, unmeasured (a fresh database's first writes grow its files).
    Returns the measured slices merged; what to keep beside the step's figures (the
    ceiling's mean rate over the same stretch, `ceiling_rps`, None without a ceiling,
    and each measure of it and of the step, in order); and every slice merged, the
    warm-up's included, for the checks (its answers must have their rows too)."""
    each = max(1, round(seconds / ROUNDS))
    warm = [run_slice(ROUNDS, 1)] if warm_up else []
    for thread in warm[0]["threads"] if warm else []:
        thread["warm_up"] = True  # its connections running out of tokens is no matter
    ceilings, slices = [], []
    for i in range(ROUNDS):
        if SIDE_CEILING:
            ceilings.append(wrk(SIDE_CEILING + "/", "get", seconds=each)["rps"])
        slices.append(run_slice(i, each))
    if SIDE_CEILING:
        ceilings.append(wrk(SIDE_CEILING + "/", "get", seconds=each)["rps"])
    kept = {
        "ceiling_rps": round(sum(ceilings) / len(ceilings), 1) if ceilings else None,
        "ceiling_slices_rps": [round(c, 1) for c in ceilings],
        "slices_rps": [round(r["rps"], 1) for r in slices],
    }
    if warm:
        kept["warm_up_rps"] = round(warm[0]["rps"], 1)
    return merged(slices), kept, merged(slices + warm)


def merged(results: list[dict]) -> dict:
    """wrk runs of one measure as one: counts and time summed, the rate over the whole,
    p50/p90/mean weighted by requests, p99 and max the worst slice's (conservative)."""
    requests = sum(r["requests"] for r in results)
    duration = sum(r["duration_s"] for r in results)
    out = {
        "requests": requests,
        "duration_s": duration,
        "rps": requests / duration if duration else 0.0,
        "p99_ms": max(r["p99_ms"] for r in results),
        "max_ms": max(r["max_ms"] for r in results),
        "errors": {k: sum(r["errors"][k] for r in results) for k in results[0]["errors"]},
        "threads": [t for r in results for t in r.get("threads", [])],
        "connections": results[0]["connections"],
        "slices": len(results),
    }
    for key in ("p50_ms", "p90_ms", "mean_ms"):
        out[key] = sum(r[key] * r["requests"] for r in results) / requests if requests else 0.0
    for key in ("ok", "other", "sent"):
        out[key] = sum(r.get(key, 0) for r in results)
    return out


def bench_database(
    name: str, database_url: str, settings, work: Path, results: dict, scale_out: bool
) -> int:
    """Page, sign, confirm and mail on an empty database; returns the campaign id."""
    campaign_id = prepare_database(database_url)
    out: dict = results.setdefault(name, {})
    env = app_env(database_url)
    page = f"/{SLUG}/"
    with serving("wsgi:app", env, settings, work) as server:
        if wanted("page"):
            log(f"{name}: latency at 0 signatures")
            out["latency_0"] = summary(wrk(server.url + page, "get", seconds=5, connections=1))
            log(f"{name}: campaign page GET")
            result, beside, _ = alternating(
                SECONDS, lambda _i, seconds: wrk(server.url + page, "get", seconds=seconds)
            )
            out["get"] = summary(result) | beside
            if name == "sqlite":  # the same page through nginx's cache (docs/deploy.md)
                with nginx_in_front(server.url, work) as cached:
                    if cached:
                        log(f"{name}: campaign page GET through nginx")
                        out["get_nginx"] = nginx_tail.measure(
                            cached + page, work / "nginx" / "logs", wrk, summary
                        )
            log(f"{name}: {out['get']['rps']} req/s")
        if wanted("sign"):
            bench_signing(name, database_url, campaign_id, server, work, out)

    if scale_out and wanted("scale_out"):
        out["scale_out"] = measure_scale_out(database_url, settings, work)
    return campaign_id


def bench_signing(
    name: str, database_url: str, campaign_id: int, server: Server, work: Path, out: dict
) -> None:
    """Sign POST; then (if wanted) mail delivery of its confirmation mails, and confirm
    POST of the rows it wrote, both checked. Mail goes first: a confirmed submission's
    mail is dropped unsent, and the worker, oldest first, would spend its time on those."""
    page = f"/{SLUG}/"
    log(f"{name}: sign POST")
    before = count_rows(database_url)
    form = visitor(server.url, page)
    prefixes = [f"{RUN_ID}{name[0]}{i}" for i in range(ROUNDS + 1)]  # each slice's emails

    app_cpu = [0.0]  # the app server's CPU (every process of it) in the measured slices

    def sign_slice(i: int, seconds: int) -> dict:
        env = {**form, "BENCH_RUN": prefixes[i]}
        cpu = mail_flow.cpu_seconds(server.process.pid)
        done = wrk(server.url + f"/{SLUG}/sign", "sign", seconds=seconds, env=env)
        if i < ROUNDS:  # not the warm-up
            app_cpu[0] += mail_flow.cpu_seconds(server.process.pid) - cpu
        return done

    result, beside, everything = alternating(SECONDS, sign_slice, warm_up=True)
    out["sign"] = summary(result) | beside
    out["sign"] |= {
        "signatures_per_s": round(result["ok"] / result["duration_s"], 1),
        "other_status": result["other"],
        # Beside the mail worker's CPU per mail (bench/mail_flow.py): what one signing
        # costs the app's processes (gunicorn's and its workers'), wrk's own not counted.
        "app_cpu_ms_per_signing": round(app_cpu[0] / max(result["ok"], 1) * 1000, 3),
    }
    out["sign"]["check"] = check_signatures(database_url, everything, before)
    log(f"{name}: sign {out['sign']['signatures_per_s']}/s, check {out['sign']['check']}")
    if wanted("mail"):  # bench/mail_flow.py: one worker process beside the signing rate
        log(f"{name}: mail delivery (one worker process)")
        out["mail"] = mail_flow.measure_throughput(
            database_url, app_env(database_url), work, ceiling=side_ceiling
        )
        out["mail"]["signings_per_s"] = out["sign"]["signatures_per_s"]
        log(f"{name}: mail {out['mail']}")
        if name == "postgresql":
            log(f"{name}: time to inbox at {mail_flow.INBOX_RATE} signings/s")
            out["time_to_inbox"] = mail_flow.measure_time_to_inbox(
                server.url, SLUG, form, app_env(database_url), work, RUN_ID
            )
            log(f"{name}: time to inbox {out['time_to_inbox']}")
    if not wanted("confirm"):
        return
    log(f"{name}: confirm POST")
    tokens = work / f"tokens-{name}.txt"
    available = confirm_tokens(database_url, tokens)
    # Each slice its own share of the tokens (the sign run's rows), so none is sent
    # twice: a tenth for the warm-up (slice ROUNDS), the rest split between the others.
    lines = tokens.read_text().split()
    warm, lines = lines[: len(lines) // 10], lines[len(lines) // 10 :]
    shares = [lines[i::ROUNDS] for i in range(ROUNDS)] + [warm]
    for i, share in enumerate(shares):
        (work / f"tokens-{name}-{i}.txt").write_text("\n".join(share) + "\n")

    def confirm_slice(i: int, seconds: int) -> dict:
        env = {**form, "BENCH_TOKENS": str(work / f"tokens-{name}-{i}.txt")}
        return wrk(server.url + f"/{SLUG}/confirm/", "confirm", seconds=seconds, env=env)

    # Half the sign run: confirming is faster than signing, and its tokens must last.
    result, beside, everything = alternating(max(ROUNDS, SECONDS // 2), confirm_slice, warm_up=True)
    out["confirm"] = summary(result) | beside
    out["confirm"] |= {
        "confirmations_per_s": round(result["ok"] / result["duration_s"], 1),
        "other_status": result["other"],
        "tokens_available": available,
    }
    out["confirm"]["check"] = check_confirmations(database_url, everything, campaign_id)
    log(
        f"{name}: confirm {out['confirm']['confirmations_per_s']}/s, "
        f"check {out['confirm']['check']}"
    )


def measure_scale_out(database_url: str, settings, work: Path) -> dict:
    """Signing through one app instance, then two, sharing PostgreSQL and Redis.

    Rate limiting is on, with limits far above the load, so every request also
    takes its round trips to Redis, as a production deployment would.
    """
    env = app_env(
        database_url,
        REDIS_URL=REDIS_URL,
        RATELIMIT_ENABLED="true",
        RATELIMIT_SIGN="10000000 per minute",
        RATELIMIT_SIGN_PER_PETITION="10000000 per minute",
    )
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001 - report, don't fail the run
        return {"skipped": f"Redis unavailable: {exc}"}
    result: dict = {"redis": REDIS_URL.rsplit("@", 1)[-1], "gunicorn": list(settings)}
    page = f"/{SLUG}/"
    with serving("wsgi:app", env, settings, work) as one:
        log("scale-out: one instance")
        before = count_rows(database_url)
        form = visitor(one.url, page)
        run = wrk(one.url + f"/{SLUG}/sign", "sign", env={**form, "BENCH_RUN": f"{RUN_ID}o"})
        result["one"] = {
            "signatures_per_s": round(run["ok"] / run["duration_s"], 1),
            "p50_ms": run["p50_ms"],
            "p99_ms": run["p99_ms"],
            "errors": sum(run["errors"].values()) + run["other"],
        }
        result["one"]["check"] = check_signatures(database_url, run, before)
    with (
        serving("wsgi:app", env, settings, work) as first,
        serving("wsgi:app", env, settings, work) as second,
    ):
        log("scale-out: two instances")
        before = count_rows(database_url)
        runs = {}
        processes = []
        for label, server in (("a", first), ("b", second)):
            form = visitor(server.url, page)
            processes.append((label, server, form))

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = {
                label: pool.submit(
                    wrk,
                    server.url + f"/{SLUG}/sign",
                    "sign",
                    connections=8,
                    env={**form, "BENCH_RUN": f"{RUN_ID}t{label}"},
                )
                for label, server, form in processes
            }
            runs = {label: future.result() for label, future in futures.items()}
        total = sum(r["ok"] / r["duration_s"] for r in runs.values())
        checks = [check_signatures(database_url, r, before) for r in runs.values()]
        result["two"] = {
            "signatures_per_s": round(total, 1),
            "per_instance": [round(r["ok"] / r["duration_s"], 1) for r in runs.values()],
            "p50_ms": max(r["p50_ms"] for r in runs.values()),
            "p99_ms": max(r["p99_ms"] for r in runs.values()),
            "errors": sum(sum(r["errors"].values()) + r["other"] for r in runs.values()),
            "lost": sum(c["lost"] for c in checks),
            "acknowledged": sum(c["acknowledged"] for c in checks),
        }
    log(f"scale-out: {result}")
    return result
