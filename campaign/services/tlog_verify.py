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

import base64
import json
import sys
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import tlog, tlog_cosign, tlog_note

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


def verify(url: str, key: str | None = None, witnesses: list[str] | None = None) -> Report:
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
    # Compared without signature lines: a witness may cosign between the two fetches.
    if not notes or notes[-1].partition("\n\n")[0] != latest_note.partition("\n\n")[0]:
        report.problems.append("the latest checkpoint is not the last of the checkpoint list")
        notes.append(latest_note)
    opened = []
    for note in notes:
        try:
            opened.append(tlog_note.open_checkpoint(note, report.key))
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


BUNDLE_FORMAT = "campaign-receipt-bundle/v1"


def receipt_secret(receipt: str) -> bytes | None:
    """The 32-byte secret at the end of a receipt line (`origin index secret`)."""
    token = (receipt or "").strip().split()[-1:] or [""]
    if len(token[0]) != 43 or not token[0].isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token[0] + "=")
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def verify_bundle(data: bytes, key: str | None = None, receipt: str = "") -> list[str]:
    """Check a receipt's evidence bundle offline: the checkpoint's signature, the
    entry's inclusion proof against it, and (given the receipt) that the entry is the
    receipt's add. Returns the report's lines; the last is OK or FAILED."""
    lines: list[str] = []
    try:
        bundle = json.loads(data)
        if bundle.get("format") != BUNDLE_FORMAT:
            raise ValueError(f"not a {BUNDLE_FORMAT} bundle")
        if not key:
            lines.append("warning: using the key inside the bundle; pass --key to pin it")
        vkey = key or bundle["key"]
        origin, size, root = tlog_note.open_checkpoint(bundle["checkpoint"], vkey)
        index, entry = int(bundle["index"]), base64.b64decode(bundle["entry"], validate=True)
        proof = [base64.b64decode(h, validate=True) for h in bundle["inclusion_proof"]]
        kind, commitment, hour = tlog.parse_entry(entry)
    except (ValueError, KeyError, TypeError) as exc:
        return [*lines, f"PROBLEM: {exc}", "FAILED"]
    problems = []
    if not tlog.verify_inclusion(tlog.leaf_hash(entry), index, size, proof, root):
        problems.append(f"leaf {index} is not in the signed tree of size {size}")
    if kind != "add":
        problems.append(f"leaf {index} is a removal, not a signature's add")
    if receipt:
        raw = receipt_secret(receipt)
        if raw is None or tlog.commitment(raw).hex() != commitment:
            problems.append("the receipt's secret does not open this leaf")
        elif receipt.split()[:2] not in ([origin, str(index)], [origin, "-"]):
            problems.append(f"the receipt names another log or leaf than {origin} {index}")
    lines += [
        f"log: {origin}",
        f"leaf {index}: {kind}, counted in the hour {hour}",
        f"included in the tree of size {size}, root {base64.b64encode(root).decode()}",
        "checkpoint:",
        *("  " + line for line in bundle["checkpoint"].rstrip("\n").split("\n")),
        *(f"PROBLEM: {p}" for p in problems),
    ]
    lines.append("OK: the leaf is in the signed log" if not problems else "FAILED")
    return lines


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m campaign.services.tlog_verify URL [VERIFIER-KEY [WITNESS-KEY…]]")
        return 2
    report = verify(argv[0], argv[1] if len(argv) > 1 else None, argv[2:])
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
