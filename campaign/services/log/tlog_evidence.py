"""A receipt's evidence bundle: its leaf, the leaf's inclusion proof, the latest signed
(and cosigned) checkpoint and the log's key, in one JSON document that anyone can check
offline (`flask count verify-receipt FILE`, Go's tlog.CheckRecord, the browser check),
as Rekor v2's offline bundles do. A signer who keeps it holds signed evidence that their
leaf was in the log: if the operator later hides the leaf, this bundle and any later
checkpoint together prove the rewrite (the later tree cannot be consistent with both).

Everything in a bundle is public already (entries, tiles and checkpoints are served to
anyone), so a bundle names no one: it is fetched by leaf index, like a tile."""

from __future__ import annotations

import base64

from . import tlog_reader, tlog_store, tlog_witness
from .tlog_keys import verifier_key

FORMAT = "campaign-receipt-bundle/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bundle(campaign_id: int, slug: str, index: int) -> dict | None:
    """The bundle of leaf `index` against the latest checkpoint, or None before it."""
    last = tlog_store.latest_checkpoint(campaign_id)
    if last is None or not 0 <= index < last.size:
        return None
    [proof] = tlog_reader.inclusion_proofs(campaign_id, last.size, [index])
    [note] = tlog_witness.cosigned_notes([last])
    return {
        "format": FORMAT,
        "key": verifier_key(slug),
        "index": index,
        "entry": b64(tlog_store.entry_at(campaign_id, index)),
        "inclusion_proof": [b64(h) for h in proof],
        "checkpoint": note,
    }
