"""A receipt's evidence bundle checked offline: no network, no database, no Flask
(`flask count verify-receipt FILE`). The bundle's format is services/log/tlog_evidence.py's."""

from __future__ import annotations

import base64
import json

from . import tlog, tlog_note

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
        # The first add, or a restore's (each restore has the next counter).
        if raw is None or all(
            tlog.commitment(raw, n).hex() != commitment for n in range(tlog.MAX_RESTORES)
        ):
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
