"""The standalone verifier: checks a campaign's log over plain HTTP, trusting nothing
but the verifier key. No Flask, no database: `python -m campaign.services.tlog_verify
URL` works on any machine with this package, as does `flask count verify URL`.

It fetches every checkpoint, checks each signature, fetches every entry bundle and
tile, recomputes the leaves and every root, checks that each checkpoint's tree is a
prefix of the next one's (the log only grew), checks that each remove cancels an add
exactly once, and compares adds − removes with the count the site's API shows.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import tlog

TIMEOUT = 20


@dataclass
class Report:
    prefix: str
    key: str = ""
    size: int = 0
    adds: int = 0
    removes: int = 0
    site_count: int | None = None
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.adds - self.removes

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [
            f"log: {self.prefix}",
            f"key: {self.key}",
            f"checkpoints: {self.checkpoints}, tree size: {self.size}",
            f"adds: {self.adds}, removes: {self.removes}",
            f"verified count: {self.count}",
            f"site count: {self.site_count}",
        ]
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append("OK: the log is consistent and matches the site" if self.ok else "FAILED")
        return out


def fetch(url: str) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL {url}")
    request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  # nosec B310
        return response.read()


def log_prefix(url: str) -> str:
    """A campaign page URL or its log URL → the log prefix, ending in /log/."""
    url = url.split("?")[0].rstrip("/")
    return url + "/" if url.endswith("/log") else url + "/log/"


def site_count_url(prefix: str) -> str:
    parts = urlsplit(prefix)
    slug = parts.path.rstrip("/").split("/")[-2]
    return f"{parts.scheme}://{parts.netloc}/api/v1/petitions/{slug}"


class Tree:
    """All hashes recomputed from the leaves, as a tlog.StoredHash."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.levels = [leaves]
        while len(self.levels[-1]) >= tlog.TILE_WIDTH:
            below = self.levels[-1]
            self.levels.append(
                [
                    tlog.perfect_root(below[i : i + tlog.TILE_WIDTH])
                    for i in range(0, len(below) - tlog.TILE_WIDTH + 1, tlog.TILE_WIDTH)
                ]
            )

    def __call__(self, level: int, i: int) -> bytes:
        return self.levels[level][i]


def check_entries(entries: list[bytes], report: Report) -> None:
    kinds: dict[int, str] = {}
    removed: set[int] = set()
    for index, entry in enumerate(entries):
        try:
            kind, first, _ = tlog.parse_entry(entry)
        except (ValueError, UnicodeDecodeError):
            report.problems.append(f"entry {index} is not a log entry")
            continue
        kinds[index] = kind
        if kind == "add":
            report.adds += 1
            continue
        target = int(first)
        if kinds.get(target) != "add" or target >= index:
            report.problems.append(f"entry {index} removes {target}, which is not an earlier add")
        elif target in removed:
            report.problems.append(f"entry {index} removes {target} a second time")
        else:
            removed.add(target)
            report.removes += 1


def verify(url: str, key: str | None = None) -> Report:
    prefix = log_prefix(url)
    report = Report(prefix)
    try:
        report.key = key or fetch(prefix + "key").decode().strip()
        history = json.loads(fetch(prefix + "checkpoints"))
        latest_note = fetch(prefix + "checkpoint").decode()
    except (OSError, ValueError) as exc:
        report.problems.append(f"cannot fetch the log: {exc}")
        return report
    notes = [item["note"] for item in history]
    if not notes or notes[-1] != latest_note:
        report.problems.append("the latest checkpoint is not the last of the checkpoint list")
        notes.append(latest_note)
    opened = []
    for note in notes:
        try:
            opened.append(tlog.open_checkpoint(note, report.key))
        except ValueError as exc:
            report.problems.append(f"checkpoint rejected: {exc}")
    if not opened:
        return report
    report.checkpoints = len(opened)
    origin, size, root = opened[-1]
    report.size = size
    entries: list[bytes] = []
    try:
        for level, n, width in tlog.tiles_for(size):
            if level == 0:
                bundle = tlog.parse_entry_bundle(
                    fetch(prefix + tlog.tile_path("entries", n, width))
                )
                if len(bundle) != width:
                    report.problems.append(
                        f"entry bundle {n} has {len(bundle)} entries, not {width}"
                    )
                entries += bundle
    except (OSError, ValueError) as exc:
        report.problems.append(f"cannot fetch the entries: {exc}")
        return report
    tree = Tree([tlog.leaf_hash(e) for e in entries[:size]])
    if len(entries) != size:
        report.problems.append(f"{len(entries)} entries for a tree of {size}")
        return report
    for level, n, width in tlog.tiles_for(size):
        try:
            served = fetch(prefix + tlog.tile_path(level, n, width))
        except OSError as exc:
            report.problems.append(f"cannot fetch tile {level}/{n}: {exc}")
            continue
        expected = b"".join(tree.levels[level][n * tlog.TILE_WIDTH : n * tlog.TILE_WIDTH + width])
        if served != expected:
            report.problems.append(f"tile {level}/{n} does not match the entries")
    previous = 0
    for number, (name, old_size, old_root) in enumerate(opened):
        if name != origin:
            report.problems.append(f"checkpoint {number} is for another log ({name})")
        if old_size < previous:
            report.problems.append(f"checkpoint {number} shrinks the log ({old_size} < {previous})")
        previous = max(previous, old_size)
        if old_size > size or tlog.root_hash(tree, old_size) != old_root:
            report.problems.append(
                f"checkpoint {number} (size {old_size}) is not a prefix of "
                "the log: a fork or a rewritten history"
            )
    check_entries(entries, report)
    try:
        report.site_count = int(json.loads(fetch(site_count_url(prefix)))["total_signatures"])
    except (OSError, ValueError, KeyError) as exc:
        report.problems.append(f"cannot read the site's count: {exc}")
        return report
    if report.site_count != report.count:
        report.problems.append(f"the site shows {report.site_count}, the log counts {report.count}")
    return report


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m campaign.services.tlog_verify URL [VERIFIER-KEY]")
        return 2
    report = verify(argv[0], argv[1] if len(argv) > 1 else None)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
