"""What the standalone verifier checks, given what it fetched: the report it builds,
the tree recomputed from the entries, consistency between checkpoints, witnesses'
cosignatures, the entries' adds and removes, and earlier checkpoints it holds (the
remembered one, receipts' bundles). Pure: no network (tlog_verify.py fetches)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import tlog, tlog_cosign, tlog_note


@dataclass
class Report:
    prefix: str
    key: str = ""
    size: int = 0
    adds: int = 0
    removes: int = 0
    # Issue 26: of those, paper leaves (`paper`, `paper-remove`), and each sheet's rows.
    paper_adds: int = 0
    paper_removes: int = 0
    sheets: dict[int, int] = field(default_factory=dict)
    site_count: int | None = None
    site_paper: int | None = None
    checkpoints: int = 0
    consistency_proofs: int = 0
    witnessed: dict[str, int] = field(default_factory=dict)  # witness → largest cosigned size
    problems: list[str] = field(default_factory=list)
    note: str = ""  # the latest checkpoint, as verified
    evidence: list[str] = field(default_factory=list)  # signed notes that prove a fork

    @property
    def count(self) -> int:
        return self.adds - self.removes

    @property
    def paper_count(self) -> int:
        return self.paper_adds - self.paper_removes

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
        if self.paper_adds or self.site_paper:
            out += [
                f"of which on paper: adds {self.paper_adds}, removes {self.paper_removes}, "
                f"from {len(self.sheets)} sheets",
                f"verified paper count: {self.paper_count}",
                f"site paper count: {self.site_paper}",
            ]
        out += [f"witness {name}: cosigned size {size}" for name, size in self.witnessed.items()]
        out += [f"PROBLEM: {p}" for p in self.problems]
        for number, note in enumerate(self.evidence):
            out += [f"EVIDENCE {number + 1}, a signed note (check it with the key above):"]
            out += ["  " + line for line in note.rstrip("\n").split("\n")]
        if self.ok and self.note:
            out += [
                "checkpoint verified:",
                *("  " + line for line in self.note.rstrip("\n").split("\n")),
            ]
        out.append("OK: the log is consistent and matches the site" if self.ok else "FAILED")
        return out


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


def check_witnesses(
    notes: list[str],
    witnesses: list[str],
    report: Report,
    threshold: int | None = None,
    max_age: int | None = None,
) -> None:
    """At least `threshold` of the given witnesses (all, by default) must have validly
    cosigned the latest checkpoint: an older cosignature only vouches for an older tree,
    and a log hiding a fork from its witnesses would show exactly that. A bad line under
    a witness's key id fails too. With `max_age`, the newest of those cosignatures must
    be younger than that many seconds: only a witness's timestamp dates a checkpoint,
    so a log frozen in the past shows as one no witness has seen lately."""
    needed = len(witnesses) if threshold is None else threshold
    fresh: list[int] = []  # the timestamps of their cosignatures of the latest checkpoint
    missing: list[str] = []
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
            missing.append(f"no checkpoint is cosigned by witness {name}")
            continue
        report.witnessed[name] = largest
        try:
            latest = tlog_cosign.cosigned_by(notes[-1], vkey)
        except ValueError:
            latest = None  # reported above
        if latest is None:
            missing.append(
                f"the latest checkpoint is not cosigned by witness {name} (it cosigned up "
                f"to size {largest}): wait for the witness and run again, or the log is "
                "showing it a different history"
            )
        else:
            fresh.append(latest)
    if len(fresh) < needed:
        report.problems += missing
        if threshold is not None:
            report.problems.append(
                f"{len(fresh)} of the given witnesses cosigned the latest checkpoint, "
                f"{needed} required"
            )
    if max_age is not None:
        if not witnesses:
            report.problems.append("--max-age needs --witness: only a witness dates a checkpoint")
        elif not fresh or time.time() - max(fresh) > max_age:
            age = f"{int(time.time() - max(fresh))} s old" if fresh else "missing"
            report.problems.append(
                f"the newest witness cosignature of the latest checkpoint is {age}, over "
                f"{max_age} s: the log may be frozen"
            )


def check_memory(
    report: Report, tree: Tree, entries: list[bytes], earlier: list[tuple[str, str, int | None]]
) -> None:
    """Each earlier checkpoint (the remembered one, a receipt bundle's) must describe a
    prefix of the log as served now, and a bundle's leaf must still be in it. Otherwise
    the log was rolled back or rewritten: both signed notes go into the report."""
    for label, note, index in earlier:
        try:
            _, old_size, old_root = tlog_note.open_checkpoint(note, report.key)
        except ValueError as exc:
            report.problems.append(f"the {label} checkpoint does not open: {exc}")
            continue
        if old_size > report.size:
            problem = f"the log shrank below the {label} checkpoint ({old_size} > {report.size})"
        elif old_size and tlog.root_hash(tree, old_size) != old_root:
            problem = f"the log forked from the {label} checkpoint (size {old_size})"
        elif index is not None and index >= old_size:
            problem = f"the {label} names leaf {index}, outside its own checkpoint"
        else:
            continue
        report.problems.append(f"{problem}: a rewritten history; see the evidence below")
        report.evidence += [note, report.note]


def check_entries(entries: list[bytes], report: Report) -> None:
    """Adds − removes is the count: every remove cancels one add still counted, so at
    no point are there more removes than adds. A remove names no add (issue 25 §5), so
    which one it cancels is for the receipt's holder to open, not for the verifier; it
    can still refuse a commitment used twice: a restore's add must carry a new one, and
    a removal commitment appears once. Removes written before removal commitments
    (`remove <index> <reason>`) are checked as they were: an earlier add, once.
    Paper leaves (issue 26) count as adds and removes too, and apart: no more paper
    removes than paper adds, and the rows each sheet number brought."""
    kinds: dict[int, str] = {}
    removed: set[int] = set()
    seen: dict[str, int] = {}  # commitment → the entry that used it last
    for index, entry in enumerate(entries):
        try:
            kind, first, rest = tlog.parse_entry(entry)
        except (ValueError, UnicodeDecodeError):
            report.problems.append(f"entry {index} is not a log entry")
            continue
        kinds[index] = kind
        legacy = kind == "remove" and first.isdigit()
        # A restore in an older log re-added a commitment a legacy remove had named.
        if not legacy and first in seen and seen[first] not in removed:
            report.problems.append(f"entry {index} reuses the commitment of entry {seen[first]}")
        if not legacy:
            seen[first] = index
        if kind == tlog.PAPER_ADD:
            report.paper_adds += 1
            sheet = int(rest.split(" ")[0])  # a paper leaf's sheet number
            report.sheets[sheet] = report.sheets.get(sheet, 0) + 1
        elif kind == tlog.PAPER_REMOVE:
            if report.paper_removes >= report.paper_adds:
                report.problems.append(f"entry {index} removes more paper than has been added")
            report.paper_removes += 1
        if kind in ("add", tlog.PAPER_ADD):
            report.adds += 1
        elif report.removes >= report.adds:
            report.problems.append(f"entry {index} removes more than has been added")
        elif not legacy:
            report.removes += 1
        elif kinds.get(int(first)) != "add" or int(first) >= index:
            report.problems.append(f"entry {index} removes {first}, which is not an earlier add")
        elif int(first) in removed:
            report.problems.append(f"entry {index} removes {first} a second time")
        else:
            removed.add(int(first))
            report.removes += 1
