"""The standalone verifier: checks a campaign's log over plain HTTP, trusting nothing
but the verifier key. No Flask, no database: `python -m campaign.services.tlog_verify
URL` works on any machine with this package, as does `flask count verify URL`.

It fetches every checkpoint, checks each signature, fetches every entry bundle and
tile, recomputes the leaves and every root, checks that each checkpoint's tree is a
prefix of the latest (every old root recomputed from the leaves) and, between every
successive pair, an RFC 9162 consistency proof computed from the served tiles (the log
only grew), checks that each remove cancels an add exactly once, checks the
cosignatures of the witnesses it is given, and compares adds − removes with the count
the site's API shows.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from . import tlog, tlog_cosign

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
    consistency_proofs: int = 0
    witnessed: dict[str, int] = field(default_factory=dict)  # witness → largest cosigned size
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
            f"consistency proofs checked: {self.consistency_proofs}",
            f"adds: {self.adds}, removes: {self.removes}",
            f"verified count: {self.count}",
            f"site count: {self.site_count}",
        ]
        out += [f"witness {name}: cosigned size {size}" for name, size in self.witnessed.items()]
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


class ServedTiles:
    """The hashes of the tiles as the log served them, as a tlog.StoredHash."""

    def __init__(self) -> None:
        self.tiles: dict[tuple[int, int], bytes] = {}

    def __call__(self, level: int, i: int) -> bytes:
        n, offset = divmod(i, tlog.TILE_WIDTH)
        blob = self.tiles.get((level, n), b"")[offset * tlog.HASH_SIZE :][: tlog.HASH_SIZE]
        if len(blob) != tlog.HASH_SIZE:
            raise LookupError(f"tile {level}/{n} lacks hash {offset}")
        return blob


def check_consistency(opened: list[tuple[str, int, bytes]], tiles, report: Report) -> None:
    """RFC 9162: each checkpoint's tree is a prefix of the next one's, by a consistency
    proof computed from the served tiles, checked against both signed roots."""
    for number in range(1, len(opened)):
        (_, old, old_root), (_, new, new_root) = opened[number - 1], opened[number]
        if old == 0 or old > new:
            continue  # an empty tree is a prefix of any; a shrink is reported elsewhere
        try:
            proof = tlog.consistency_proof(tiles, old, new) if old < new else []
        except LookupError as exc:
            report.problems.append(f"no consistency proof {old} → {new}: {exc}")
            continue
        report.consistency_proofs += 1
        if not tlog.verify_consistency(old, new, old_root, new_root, proof):
            report.problems.append(
                f"checkpoints {number - 1} and {number} are not consistent "
                f"(sizes {old} → {new}): a fork or a rewritten history"
            )


def check_witnesses(notes: list[str], witnesses: list[str], report: Report) -> None:
    """Each given witness must have validly cosigned the latest checkpoint: an older
    cosignature only vouches for an older tree, and a log hiding a fork from its
    witnesses would show exactly that. A bad line under a witness's key id fails too."""
    for vkey in witnesses:
        try:
            name = tlog_cosign.parse_witness_key(vkey)[0]
        except ValueError as exc:
            report.problems.append(f"witness key {vkey!r}: {exc}")
            continue
        largest = None
        for note in notes:
            try:
                if tlog_cosign.cosigned_by(note, vkey) is not None:
                    size = int(note.split("\n")[1])
                    largest = size if largest is None else max(largest, size)
            except ValueError as exc:
                report.problems.append(str(exc))
        if largest is None:
            report.problems.append(f"no checkpoint is cosigned by witness {name}")
            continue
        report.witnessed[name] = largest
        try:
            latest = tlog_cosign.cosigned_by(notes[-1], vkey)
        except ValueError:
            latest = None  # reported above
        if latest is None:
            report.problems.append(
                f"the latest checkpoint is not cosigned by witness {name} (it cosigned up "
                f"to size {largest}): wait for the witness and run again, or the log is "
                "showing it a different history"
            )


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


MAX_CHECKPOINT_PAGES = 100_000


def checkpoint_history(prefix: str) -> list[dict]:
    """Every checkpoint, following the list's pages from the first to the last."""
    history: list[dict] = []
    url: str | None = prefix + "checkpoints"
    for number in range(MAX_CHECKPOINT_PAGES):
        if url is None:
            return history
        page = json.loads(fetch(url))
        if page["page"] != number:  # e.g. a static mirror that ignores ?page=
            raise ValueError(f"checkpoint page {number} came back as page {page['page']}")
        history += page["checkpoints"]
        url = urljoin(prefix, page["next"]) if page.get("next") else None
    raise ValueError("the checkpoint list does not end")


def verify(url: str, key: str | None = None, witnesses: list[str] | None = None) -> Report:
    prefix = log_prefix(url)
    report = Report(prefix)
    try:
        report.key = key or fetch(prefix + "key").decode().strip()
        history = checkpoint_history(prefix)
        latest_note = fetch(prefix + "checkpoint").decode()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"cannot fetch the log: {exc}")
        return report
    notes = [item["note"] for item in history]
    # Compared without signature lines: a witness may cosign between the two fetches.
    if not notes or notes[-1].partition("\n\n")[0] != latest_note.partition("\n\n")[0]:
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
    tiles = ServedTiles()
    for level, n, width in tlog.tiles_for(size):
        try:
            served = tiles.tiles[(level, n)] = fetch(prefix + tlog.tile_path(level, n, width))
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
    check_consistency(opened, tiles, report)
    check_witnesses(notes, witnesses or [], report)
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
        print("usage: python -m campaign.services.tlog_verify URL [VERIFIER-KEY [WITNESS-KEY…]]")
        return 2
    report = verify(argv[0], argv[1] if len(argv) > 1 else None, argv[2:])
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
