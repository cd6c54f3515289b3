"""The standalone verifier: checks a campaign's log over plain HTTP, trusting nothing
but the verifier key. No Flask, no database: `python -m campaign.services.verifier.tlog_verify
URL` works on any machine with this package, as does `flask count verify URL`.

It fetches every checkpoint, checks each signature, fetches every entry bundle and
tile, recomputes the leaves and every root, checks that each checkpoint's tree is a
prefix of the latest (every old root recomputed from the leaves) and, between every
successive pair, an RFC 9162 consistency proof computed from the served tiles (the log
only grew), checks that each remove cancels an add exactly once, checks the
cosignatures of the witnesses it is given, and compares adds − removes with the count
the site's API shows.

It trusts nothing it is served (issue 25): the key is pinned on first use (only for a
log whose origin is the URL's own) or given with --key; the last verified checkpoint is
remembered per origin (services/verifier/tlog_memory.py), and a log that shrank below it or
forked from it is refused with both signed notes printed as evidence. Receipts' evidence
bundles are checked the same way. Tiles and bundles may be served gzipped (tlog-tiles).
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request
import zlib
from urllib.parse import urljoin, urlsplit

from . import tlog, tlog_note
from .tlog_checks import (
    Report,
    ServedTiles,
    Tree,
    check_consistency,
    check_entries,
    check_memory,
    check_witnesses,
)
from .tlog_memory import Memory, Remembered

TIMEOUT = 20
MAX_BODY = 64 << 20  # a tile is 8 KiB, a full bundle at most 16 MiB


def fetch(url: str) -> bytes:
    """The body, gunzipped if it was served with Content-Encoding: gzip (as C2SP
    tlog-tiles lets a log or a mirror serve tiles and bundles), up to MAX_BODY."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL {url}")
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310  # nosec B310
        body = response.read(MAX_BODY + 1)
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding == "gzip":
        inflate = zlib.decompressobj(wbits=31)
        body = inflate.decompress(body, MAX_BODY + 1)
        if inflate.unconsumed_tail or not inflate.eof:
            raise ValueError(f"{url}: a gzip body over {MAX_BODY} bytes, or cut short")
    if len(body) > MAX_BODY:
        raise ValueError(f"{url}: over {MAX_BODY} bytes")
    return body


def url_origin(prefix: str) -> str:
    """The origin a log at this URL would have: host and path, without the scheme."""
    parts = urlsplit(prefix)
    return f"{parts.netloc}{parts.path}".rstrip("/")


def choose_key(key: str | None, pinned: Remembered | None, claimed: str, url: str) -> str:
    """The key to check the log with, and whether that is allowed: the given --key (it
    must agree with a pin), else the pinned one, else the served one, pinned on first
    use, but only for a log whose origin is this URL's own. A log served under another
    name is trusted only through a pin or --key."""
    if key:
        if pinned is not None and pinned.key.strip() != key.strip():
            raise ValueError(f"--key is not the key pinned for {claimed}: {pinned.key}")
        return key
    if pinned is not None:
        return pinned.key
    if claimed != url_origin(url):
        raise ValueError(
            f"the log calls itself {claimed!r}, which is neither a pinned log nor this "
            f"URL's own ({url_origin(url)!r}): pass --key to trust it"
        )
    return fetch(url + "key").decode().strip()


def log_prefix(url: str) -> str:
    """A campaign page URL or its log URL → the log prefix, ending in /log/."""
    url = url.split("?")[0].rstrip("/")
    return url + "/" if url.endswith("/log") else url + "/log/"


def site_count_url(prefix: str) -> str:
    parts = urlsplit(prefix)
    slug = parts.path.rstrip("/").split("/")[-2]
    return f"{parts.scheme}://{parts.netloc}/api/v1/petitions/{slug}"


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


def verify(
    url: str,
    key: str | None = None,
    witnesses: list[str] | None = None,
    *,
    memory: Memory | None = None,
    threshold: int | None = None,
    max_age: int | None = None,
    bundles: list[bytes] = (),
) -> Report:
    """Check the log at `url`. `memory` (updated in place when the log passes) pins keys
    and remembers checkpoints; `bundles` are receipts' evidence to hold the log to."""
    prefix = log_prefix(url)
    report = Report(prefix)
    try:
        latest_note = fetch(prefix + "checkpoint").decode()
        claimed = latest_note.split("\n", 1)[0]
        pinned = memory.get(claimed) if memory is not None else None
        report.key = choose_key(key, pinned, claimed, prefix)
        history = checkpoint_history(prefix)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"cannot fetch the log: {exc}")
        return report
    report.note = latest_note
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
    check_witnesses(notes, witnesses or [], report, threshold, max_age)
    check_entries(entries, report)
    earlier = [("remembered", pinned.note, None)] if pinned is not None and pinned.note else []
    for number, raw in enumerate(bundles):
        try:
            bundle = json.loads(raw)
            earlier.append((f"receipt bundle {number + 1}", bundle["checkpoint"], bundle["index"]))
            leaf = base64.b64decode(bundle["entry"], validate=True)
        except (ValueError, KeyError, TypeError) as exc:
            report.problems.append(f"receipt bundle {number + 1} is unreadable: {exc}")
            continue
        index = int(bundle["index"])
        if index >= len(entries) or entries[index] != leaf:
            report.problems.append(
                f"receipt bundle {number + 1}'s leaf {index} is no longer in the log: "
                "a rewritten history; see the evidence below"
            )
            report.evidence += [bundle["checkpoint"], report.note]
    check_memory(report, tree, entries, earlier)
    try:
        resource = json.loads(fetch(site_count_url(prefix)))
        report.site_count = int(resource["total_signatures"])
        # Issue 26: the paper part, where the site publishes one.
        method = resource.get("counts_by_method") or {}
        report.site_paper = int(method["paper"]) if "paper" in method else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.problems.append(f"cannot read the site's count: {exc}")
        return report
    if report.site_count != report.count:
        report.problems.append(f"the site shows {report.site_count}, the log counts {report.count}")
    if report.site_paper is not None and report.site_paper != report.paper_count:
        report.problems.append(
            f"the site shows {report.site_paper} on paper, the log counts {report.paper_count}"
        )
    if memory is not None and report.ok:
        memory.remember(origin, report.key, report.size, report.note)
    return report


def main(argv: list[str]) -> int:
    if not argv:
        print(
            "usage: python -m campaign.services.verifier.tlog_verify"
            " URL [VERIFIER-KEY [WITNESS-KEY…]]"
        )
        return 2
    report = verify(argv[0], argv[1] if len(argv) > 1 else None, argv[2:])
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
