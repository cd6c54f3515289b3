"""A command measured as a whole process tree: wall and CPU time, peak memory, load.

bench/sealing.py measures `flask export`, `flask export open` and `sqlite3 -csv` with
`measured`: the command's wall time, the CPU time of it and its children, the peaks of
the memory summed over the tree (PSS and RSS, read from /proc every 0.1 s) and the
1-minute load average before and after (the machine is shared: a loaded machine
stretches wall times, not CPU times). Not a program of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path


def load() -> float:
    return round(os.getloadavg()[0], 2)


def measured(command: list[str], stdout: Path | None = None, env=None) -> dict:
    """Wall time, CPU time, the peaks of the summed memory (PSS, and RSS, which counts
    pages forked workers share with their parent once per process) of the process and
    its children, and the 1-minute load average before and after."""
    out = open(stdout, "wb") if stdout else subprocess.DEVNULL  # noqa: SIM115
    load_before = load()
    began, cpu = time.perf_counter(), os.times()
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=env)  # noqa: S603
    peak = peak_rss = 0
    while process.poll() is None:
        pss, rss = tree_memory_kb(process.pid)
        peak, peak_rss = max(peak, pss), max(peak_rss, rss)
        time.sleep(0.1)
    took = time.perf_counter() - began
    after = os.times()
    used = after.children_user + after.children_system - cpu.children_user - cpu.children_system
    if stdout:
        out.close()
    if process.returncode:
        raise RuntimeError(process.stderr.read().decode())
    return {
        "seconds": round(took, 2),
        "cpu_seconds": round(used, 2),
        "peak_mb": round(peak / 1024, 1),
        "peak_rss_sum_mb": round(peak_rss / 1024, 1),
        "load_before": load_before,
        "load_after": load(),
    }


def tree_memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) summed over the process and its descendants, in kB."""
    pss = rss = 0
    for child in [pid, *descendants(pid)]:
        # Proportional set size: pages the forked workers share with their parent
        # are counted once across the tree, not once per process as RSS would.
        try:
            status = Path(f"/proc/{child}/smaps_rollup").read_text()
        except OSError:
            continue
        for name, value in re.findall(r"^(Pss|Rss):\s+(\d+)", status, re.M):
            if name == "Pss":
                pss += int(value)
            else:
                rss += int(value)
    return pss, rss


def descendants(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    except OSError:
        pass
    return found
