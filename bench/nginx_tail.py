"""The cached campaign page through nginx (issue 22, "the cached page stays fast at its
tail"): what a visitor waits for, and where.

`make bench` measured 37,115 req/s through nginx with a p99 of 424 ms and a worst of
500 ms: proxy_cache_lock's 500 ms poll (removed from docs/deploy.md's configuration).
What remains of a saturated run's tail is the client's and the machine's: wrk (one
thread per connection) and nginx's one worker share 2 cores with everything else, and
a request waits for nginx to be scheduled. So this step reports three figures:

* `saturated`: wrk as fast as it goes (8 connections, as before): throughput, and the
  tail of a closed loop at 100 % CPU;
* `nginx`: nginx's own `$request_time` for every request of that run (from its access
  log): whether any visitor waited inside nginx, for a lock or a revalidation, and
  `$upstream_cache_status` (how many requests reached the app);
* `paced`: the same 8 connections, each pausing BENCH_NGINX_PACE_MS (2) between
  requests, so the machine is not saturated: the tail a visitor sees at a busy but
  sustainable rate. The target (p99 < 10 ms) is read here.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

PACE_MS = os.environ.get("BENCH_NGINX_PACE_MS", "2")
# nginx.conf's lines (the http block) that write the log read here.
LOG_FORMAT = "log_format timed '$request_time $upstream_cache_status';"


def access_log(folder: Path) -> str:
    return f"access_log {folder}/timed.log timed buffer=64k flush=1s;"


def nginx_side(path: Path) -> dict:
    """Percentiles of nginx's own request time, and the cache statuses."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    rows = [(float(row[0]) * 1000, row[1] if len(row) > 1 else "-") for row in rows]
    times = sorted(ms for ms, _ in rows)
    if not times:
        return {}
    # Answered from the cache (fresh, or stale while one request refreshes it), against
    # a miss (the first requests for a cold page, which go to the app).
    cached = [ms for ms, status in rows if status in {"HIT", "UPDATING", "STALE"}]
    return {
        "requests_logged": len(times),
        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 3),
        "p999_ms": round(times[min(len(times) - 1, int(0.999 * len(times)))], 3),
        "max_ms": round(times[-1], 3),
        "max_from_cache_ms": round(max(cached), 3) if cached else None,
        "cache_status": dict(Counter(status for _, status in rows).most_common()),
    }


def measure(url: str, folder: Path, wrk: Callable[..., dict], summary: Callable) -> dict:
    """The saturated run (with nginx's view of it), then the paced run."""
    log = folder / "timed.log"
    log.write_text("")
    saturated = summary(wrk(url, "get"))
    time.sleep(1.5)  # nginx flushes its buffered log every second
    inside = nginx_side(log)
    paced = summary(wrk(url, "get", env={"BENCH_DELAY_MS": PACE_MS}))
    paced["pace_ms"] = int(PACE_MS)
    return saturated | {"nginx": inside, "paced": paced, "load_average": os.getloadavg()[0]}
